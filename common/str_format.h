// StringPrintf: printf into a std::string, format-checked by the compiler.
// Used where messages must match PostgreSQL's wording, which is printf-shaped.
// WithoutTrailingSpace: a message (libpq's, a program's stderr, a file's
// line) without the newlines and spaces it ends with.
//
// Thread-safety: reentrant.
#pragma once

#include <string>

namespace zenith {

__attribute__((format(printf, 1, 2))) std::string StringPrintf(const char* fmt, ...);

std::string WithoutTrailingSpace(std::string text);

}  // namespace zenith
