// A repository's objects in its bucket prefix (docs/design.md §12): the key
// names both the page server and `zenith` use, and the claim of a prefix by
// a new repository.
//
// Thread-safety: reentrant; the store must be safe to share (ObjectStore is).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::s3 {

// What repository.json says: which PostgreSQL system lives under the prefix.
struct RemoteRepositoryInfo {
  int format = 1;
  uint64_t system_id = 0;
  int pg_version = 15;

  std::string ToJson() const;
  // Corruption naming what is wrong.
  static Result<RemoteRepositoryInfo> FromJson(const std::string& text);
};

std::string RepositoryJsonKey(const S3Url& url);
// "PREFIX/generations/00000000000000000007": zero-padded, so listed in order.
std::string GenerationKey(const S3Url& url, uint64_t generation);

// OK when the bucket exists, the credentials may use it and the prefix holds
// no repository.json. AlreadyExists ("s3://b/p already holds a zenith
// repository"), or the store's error (bucket missing, access denied,
// unreachable), otherwise.
Status CheckPrefixIsFree(ObjectStore& store, const S3Url& url);

// Makes the prefix a new repository's home and its caller the owner:
// repository.json, then generation 1, each created only if absent, so of two
// racing inits exactly one wins (the other gets AlreadyExists). Returns the
// generation claimed (1).
Result<uint64_t> ClaimNewRepository(ObjectStore& store, const S3Url& url, const RemoteRepositoryInfo& info);

// repository.json under the prefix. NotFound ("s3://b/p holds no zenith
// repository") when absent; Corruption when unreadable; the store's error.
Result<RemoteRepositoryInfo> ReadRepositoryInfo(ObjectStore& store, const S3Url& url);

// Makes its caller the repository's owner (`zenith attach`): lists
// generations/, then creates the next one only if absent, and on losing a
// race to another claimant tries the one after. Returns the generation
// claimed; every page server of a lower one is superseded from here on.
Result<uint64_t> ClaimNextGeneration(ObjectStore& store, const S3Url& url);

}  // namespace zenith::s3
