#include "common/archive_links.h"

#include <algorithm>

namespace zenith {

bool IsTablespaceLinkPath(std::string_view path) {
  constexpr std::string_view kPrefix = "pg_tblspc/";
  if (!path.starts_with(kPrefix)) return false;
  const std::string_view oid = path.substr(kPrefix.size());
  return !oid.empty() && oid.size() <= 10 && oid.front() != '0' &&
         std::all_of(oid.begin(), oid.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status ArchiveLinkCheck::Check(const TarEntry& entry) {
  const std::string_view name = entry.name;
  for (size_t slash = name.find('/'); slash != std::string_view::npos; slash = name.find('/', slash + 1)) {
    if (links_.contains(name.substr(0, slash))) {
      return InvalidArgument("\"" + entry.name + "\" lies below the symbolic link \"" +
                             std::string(name.substr(0, slash)) + "\"; an archive may hold nothing there");
    }
  }
  if (links_.contains(name)) {
    return InvalidArgument("\"" + entry.name + "\" comes twice in the archive, first as a symbolic link");
  }
  if (entry.type != TarEntryType::kSymlink) return Status::Ok();
  if (!IsTablespaceLinkPath(name)) {
    return InvalidArgument("\"" + entry.name + "\" is a symbolic link; PostgreSQL makes links only at pg_tblspc/<oid>");
  }
  links_.emplace(name);
  return Status::Ok();
}

}  // namespace zenith
