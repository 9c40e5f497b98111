#include "pageserver/s3/object_store.h"

namespace zenith::s3 {

Result<std::vector<ObjectInfo>> ObjectStore::ListAll(std::string_view prefix) {
  std::vector<ObjectInfo> all;
  std::string token;
  do {
    auto page = List(prefix, token, 1000);
    if (!page.ok()) return page.status();
    for (auto& o : page->objects) all.push_back(std::move(o));
    token = std::move(page->next_token);
  } while (!token.empty());
  return all;
}

}  // namespace zenith::s3
