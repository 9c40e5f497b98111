#include "pageserver/api/conninfo_password.h"

#include <libpq-fe.h>

#include <cstring>
#include <memory>

namespace zenith::pageserver {

namespace {

// keyword='value', quoted as libpq reads it back.
std::string Quoted(const char* keyword, const char* value) {
  std::string out = std::string(keyword) + "='";
  for (const char* p = value; *p; ++p) {
    if (*p == '\'' || *p == '\\') out += '\\';
    out += *p;
  }
  return out + "'";
}

}  // namespace

Result<ConnInfoParts> SplitPassword(const std::string& conninfo) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(conninfo.c_str(), &error),
                                                                        &PQconninfoFree);
  if (options == nullptr) {
    PQfreemem(error);  // it may quote the string, password included
    return InvalidArgument(
        "the connection string is not one libpq can read (keyword=value pairs, or a postgresql:// URI)");
  }
  ConnInfoParts parts;
  std::string rebuilt;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::strcmp(o->keyword, "password") == 0) {
      parts.password = o->val;
      parts.has_password = true;
      continue;
    }
    rebuilt += (rebuilt.empty() ? "" : " ") + Quoted(o->keyword, o->val);
  }
  parts.without_password = parts.has_password ? rebuilt : conninfo;
  return parts;
}

}  // namespace zenith::pageserver
