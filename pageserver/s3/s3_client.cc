#include "pageserver/s3/s3_client.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <ctime>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include "common/file_util.h"
#include "pageserver/s3/s3_xml.h"

namespace zenith::s3 {
namespace {

constexpr size_t kMaxDeleteBatch = 1000;  // S3's limit per DeleteObjects

std::string Base64Md5(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, digest, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string QueryString(const HeaderList& query) {
  std::string out;
  for (const auto& [k, v] : query) {
    out += out.empty() ? "?" : "&";
    out += UriEncode(k, true) + "=" + UriEncode(v, true);
  }
  return out;
}

bool IsAccessError(std::string_view code) {
  return code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
         code == "RequestTimeTooSkewed" || code == "ExpiredToken" || code == "InvalidToken";
}

}  // namespace

S3Client::S3Client(S3Settings settings, std::string bucket, uint64_t part_size)
    : settings_(std::move(settings)), bucket_(std::move(bucket)), part_size_(part_size) {
  host_ = settings_.endpoint.substr(settings_.endpoint.find("://") + 3);
}

Result<HttpResponse> S3Client::Send(const Call& call) {
  std::string path = "/" + bucket_ + (call.key.empty() ? "" : "/" + call.key);
  std::string amz_date = AmzDate(std::time(nullptr));
  SigningInput input{call.method, path, call.query, call.headers, Sha256Hex(call.body)};
  input.headers.emplace_back("host", host_);
  input.headers.emplace_back("x-amz-date", amz_date);
  input.headers.emplace_back("x-amz-content-sha256", input.payload_hash);
  HttpRequest request{call.method, settings_.endpoint + UriEncode(path, false) + QueryString(call.query), {}, call.body};
  for (const auto& h : input.headers) {
    if (h.first != "host") request.headers.push_back(h);
  }
  request.headers.emplace_back("Authorization",
                               AuthorizationHeader(settings_.credentials, settings_.region, "s3", amz_date, input));
  return http_.Perform(request);
}

Status S3Client::ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const {
  std::string code = XmlElement(response.body, "Code");
  std::string object = "s3://" + bucket_ + (key.empty() ? "" : "/" + std::string(key));
  std::string where = std::string(what) + " " + object + " at " + settings_.endpoint;
  std::string detail = " (HTTP " + std::to_string(response.status) + (code.empty() ? "" : " " + code) + ")";
  if (response.status == 412) return AlreadyExists(object + " already exists");
  if (code == "NoSuchBucket") {
    return NotFound("bucket \"" + bucket_ + "\" does not exist at " + settings_.endpoint + "; create it first");
  }
  if (response.status == 404) return NotFound(where + ": no such object" + detail);
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || response.status == 301) {
    return InvalidArgument(where + ": the bucket is in another region than " + settings_.region + detail +
                           "; set AWS_REGION (or AWS_ENDPOINT_URL) to the bucket's");
  }
  if (response.status == 403 || IsAccessError(code)) {
    return PermissionDenied(where + ": access denied" + detail +
                            "; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials");
  }
  if (response.status >= 500 || response.status == 429 || code == "SlowDown") {
    return Unavailable(where + ": the service is failing or throttling" + detail);
  }
  return ProtocolError(where + ": unexpected answer" + detail);
}

Result<HttpResponse> S3Client::SendOk(const Call& call, std::string_view what) {
  auto response = Send(call);
  if (!response.ok()) return response.status().WithContext("could not " + std::string(what));
  if (response->status / 100 != 2) return ErrorOf(*response, "could not " + std::string(what), call.key);
  return response;
}

Status S3Client::CheckBucket() {
  auto r = SendOk({"GET", "", {{"list-type", "2"}, {"max-keys", "1"}}, {}, {}}, "list bucket");
  return r.status();
}

Status S3Client::Put(std::string_view key, std::string_view data) {
  return SendOk({"PUT", std::string(key), {}, {}, data}, "put").status();
}

Status S3Client::PutIfAbsent(std::string_view key, std::string_view data) {
  return SendOk({"PUT", std::string(key), {}, {{"If-None-Match", "*"}}, data}, "create").status();
}

Result<std::string> S3Client::Get(std::string_view key) {
  auto r = SendOk({"GET", std::string(key), {}, {}, {}}, "get");
  if (!r.ok()) return r.status();
  return std::move(r->body);
}

Result<std::string> S3Client::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  if (length == 0) return std::string();
  std::string range = "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
  auto r = SendOk({"GET", std::string(key), {}, {{"Range", range}}, {}}, "get a range of");
  if (!r.ok()) return r.status();
  if (r->status == 200 && r->body.size() > length) {  // a server that ignored Range
    if (offset >= r->body.size()) return std::string();
    return r->body.substr(offset, length);
  }
  return std::move(r->body);
}

Result<ObjectInfo> S3Client::Head(std::string_view key) {
  auto r = SendOk({"HEAD", std::string(key), {}, {}, {}}, "head");
  if (!r.ok()) return r.status();
  std::string length = r->Header("content-length");
  ObjectInfo info{std::string(key), 0, r->Header("etag")};
  auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), info.size);
  if (ec != std::errc() || end != length.data() + length.size()) {
    return ProtocolError("bad Content-Length \"" + length + "\" for s3://" + bucket_ + "/" + std::string(key));
  }
  return info;
}

Result<ObjectListPage> S3Client::List(std::string_view prefix, std::string_view token, int max_keys) {
  HeaderList query = {{"list-type", "2"}, {"prefix", std::string(prefix)}, {"max-keys", std::to_string(max_keys)}};
  if (!token.empty()) query.emplace_back("continuation-token", std::string(token));
  auto r = SendOk({"GET", "", std::move(query), {}, {}}, "list");
  if (!r.ok()) return r.status();
  auto parsed = ParseListResult(r->body);
  if (!parsed.ok()) return parsed.status().WithContext("listing s3://" + bucket_ + "/" + std::string(prefix));
  ObjectListPage page;
  for (auto& o : parsed->objects) page.objects.push_back({std::move(o.key), o.size, {}});
  page.next_token = std::move(parsed->next_token);
  return page;
}

Status S3Client::DeleteMany(const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); i += kMaxDeleteBatch) {
    std::vector<std::string> batch(keys.begin() + i, keys.begin() + std::min(keys.size(), i + kMaxDeleteBatch));
    std::string body = DeleteRequestXml(batch);
    auto r = SendOk({"POST", "", {{"delete", ""}}, {{"Content-MD5", Base64Md5(body)}}, body}, "delete objects in");
    if (!r.ok()) return r.status();
    // Quiet mode: the body lists only the keys that failed.
    auto failed = XmlElements(r->body, "Error");
    if (!failed.empty()) {
      return Unavailable("could not delete s3://" + bucket_ + "/" + XmlElement(failed.front(), "Key") + ": " +
                         XmlElement(failed.front(), "Code") + " (and " + std::to_string(failed.size() - 1) +
                         " more)");
    }
  }
  return Status::Ok();
}

Status S3Client::PutFile(std::string_view key, const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("could not stat", path, errno);
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > part_size_) return PutMultipart(key, path, size);
  auto data = ReadFileToString(path);
  if (!data.ok()) return data.status();
  return Put(key, *data);
}

Status S3Client::UploadParts(std::string_view key, const std::string& upload_id, const std::string& path,
                             uint64_t size, std::vector<std::string>* etags) {
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  const uint64_t parts = (size + part_size_ - 1) / part_size_;
  etags->assign(parts, "");
  // Parts go up kPartsInFlight at a time, each thread with a part's buffer
  // (64 MiB at most in memory); the first error stops the others.
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  Status first;
  auto upload = [&] {
    std::string part;
    for (uint64_t i = next++; i < parts; i = next++) {
      {
        std::lock_guard lock(mu);
        if (!first.ok()) return;
      }
      const uint64_t offset = i * part_size_;
      part.resize(std::min(part_size_, size - offset));
      Status st;
      auto n = PreadFull(fd->get(), std::span(reinterpret_cast<uint8_t*>(part.data()), part.size()), offset, path);
      if (!n.ok()) st = n.status();
      else if (*n != part.size()) st = IoError("\"" + path + "\" shrank while it was uploaded");
      if (st.ok()) {
        const std::string number = std::to_string(i + 1);
        auto r = SendOk({"PUT", std::string(key), {{"partNumber", number}, {"uploadId", upload_id}}, {}, part},
                        "upload part " + number + " of");
        if (r.ok()) (*etags)[i] = r->Header("etag");
        else st = r.status();
      }
      if (!st.ok()) {
        std::lock_guard lock(mu);
        if (first.ok()) first = st;
        return;
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    for (uint64_t t = 1; t < std::min<uint64_t>(kPartsInFlight, parts); ++t) threads.emplace_back(upload);
    upload();
  }
  return first;
}

Status S3Client::PutMultipart(std::string_view key, const std::string& path, uint64_t size) {
  auto init = SendOk({"POST", std::string(key), {{"uploads", ""}}, {}, {}}, "start a multipart upload of");
  if (!init.ok()) return init.status();
  std::string upload_id = XmlElement(init->body, "UploadId");
  if (upload_id.empty()) return ProtocolError("no UploadId in the answer to a multipart upload of " + std::string(key));
  std::vector<std::string> etags;
  Status st = UploadParts(key, upload_id, path, size, &etags);
  if (st.ok()) {
    std::string body = CompleteMultipartXml(etags);
    auto done = SendOk({"POST", std::string(key), {{"uploadId", upload_id}}, {}, body}, "complete the upload of");
    // S3 may answer 200 with an <Error> body once it has started replying.
    if (done.ok() && !XmlElement(done->body, "Code").empty()) {
      st = ProtocolError("could not complete the upload of " + std::string(key) + ": " +
                         XmlElement(done->body, "Code"));
    } else {
      st = done.status();
    }
  }
  if (!st.ok()) {
    IgnoreError(SendOk({"DELETE", std::string(key), {{"uploadId", upload_id}}, {}, {}}, "abort the upload of")
                    .status());
  }
  return st;
}

}  // namespace zenith::s3
