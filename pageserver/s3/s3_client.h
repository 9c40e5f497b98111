// S3Client: ObjectStore over the S3 REST API (path-style URLs, SigV4), for
// AWS S3, Ceph RGW, MinIO and the like.
//
// Thread-safety: every method may be called from several threads at once
// (HttpClient pools connections); settings are fixed at construction.
#pragma once

#include <cstdint>
#include <string>

#include "pageserver/s3/http_client.h"
#include "pageserver/s3/object_store.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::s3 {

// Files larger than one part go up in parts of this size (S3 allows 5 MiB to
// 5 GiB per part and 10000 parts).
inline constexpr uint64_t kDefaultPartSize = uint64_t{16} << 20;
// Parts of one file in flight at once: one connection is seldom the
// bottleneck's end (a part waits on the service's write), four are.
inline constexpr uint64_t kPartsInFlight = 4;

class S3Client final : public ObjectStore {
 public:
  S3Client(S3Settings settings, std::string bucket, uint64_t part_size = kDefaultPartSize);

  Status CheckBucket() override;
  Status Put(std::string_view key, std::string_view data) override;
  Status PutIfAbsent(std::string_view key, std::string_view data) override;
  Status PutFile(std::string_view key, const std::string& path) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ObjectListPage> List(std::string_view prefix, std::string_view token, int max_keys) override;
  Status DeleteMany(const std::vector<std::string>& keys) override;

  const std::string& bucket() const { return bucket_; }

 private:
  struct Call {
    std::string method;
    std::string key;      // "" for the bucket itself
    HeaderList query;     // decoded
    HeaderList headers;   // extra headers, signed
    std::string_view body;
  };
  // Signs and sends; any HTTP status comes back as a response.
  Result<HttpResponse> Send(const Call& call);
  // Send, then an error for any status but 2xx, naming what was asked.
  Result<HttpResponse> SendOk(const Call& call, std::string_view what);
  Status ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const;
  Status PutMultipart(std::string_view key, const std::string& path, uint64_t size);
  Status UploadParts(std::string_view key, const std::string& upload_id, const std::string& path, uint64_t size,
                     std::vector<std::string>* etags);

  S3Settings settings_;
  std::string bucket_;
  uint64_t part_size_;
  std::string host_;  // host[:port] of the endpoint, as signed
  HttpClient http_;
};

}  // namespace zenith::s3
