// ObjectStore: what zenith asks of a bucket. Keys are relative to the
// bucket; callers add their prefix (S3Url::Key). The one implementation is
// S3Client (s3_client.h); tests run it against a real Ceph RGW.
//
// Every call returns a value or an error saying what failed and why, with
// these codes: kNotFound (no such key, or no such bucket: the message
// says which), kAlreadyExists (PutIfAbsent of a key that exists),
// kPermissionDenied (bad credentials, a wrong signature, no access),
// kUnavailable (the endpoint cannot be reached, or answered 5xx / throttled:
// worth retrying), kInvalidArgument (the bucket is in another region),
// kProtocol (any other answer). No message holds a secret.
//
// Thread-safety: implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zenith::s3 {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // as the store gave it (quoted); from Head only
};

struct ObjectListPage {
  std::vector<ObjectInfo> objects;  // in key order
  std::string next_token;           // pass to continue; "" at the end
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // OK when the bucket exists and these credentials may list it.
  virtual Status CheckBucket() = 0;
  // Creates or replaces `key`.
  virtual Status Put(std::string_view key, std::string_view data) = 0;
  // Creates `key` only if no object has that key (If-None-Match: *), in one
  // atomic step of the store: of two racing callers exactly one succeeds,
  // the other gets kAlreadyExists.
  virtual Status PutIfAbsent(std::string_view key, std::string_view data) = 0;
  // Uploads a local file; in parts of `part_size` bytes (multipart upload)
  // when it is larger than one part. A failed multipart upload is aborted.
  virtual Status PutFile(std::string_view key, const std::string& path) = 0;
  virtual Result<std::string> Get(std::string_view key) = 0;
  // Bytes [offset, offset + length) of `key`; fewer at its end.
  virtual Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) = 0;
  virtual Result<ObjectInfo> Head(std::string_view key) = 0;
  // One page (at most `max_keys`) of the keys starting with `prefix`.
  virtual Result<ObjectListPage> List(std::string_view prefix, std::string_view token, int max_keys) = 0;
  // Deletes these keys (missing ones are not an error), in batches of 1000.
  virtual Status DeleteMany(const std::vector<std::string>& keys) = 0;

  // Every key starting with `prefix`, following continuation tokens.
  Result<std::vector<ObjectInfo>> ListAll(std::string_view prefix);
};

}  // namespace zenith::s3
