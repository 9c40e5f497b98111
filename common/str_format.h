// StringPrintf: printf into a std::string, format-checked by the compiler.
// Used where messages must match PostgreSQL's wording, which is printf-shaped.
//
// Thread-safety: reentrant.
#pragma once

#include <string>

namespace zenith {

__attribute__((format(printf, 1, 2))) std::string StringPrintf(const char* fmt, ...);

}  // namespace zenith
