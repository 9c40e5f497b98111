// HTTP/1.1 requests over libcurl, with connections kept and reused.
//
// Thread-safety: Perform may be called from any number of threads at once;
// each call takes an idle libcurl handle from a pool guarded by mu_ (a
// handle keeps its connections alive between requests), or makes one.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pageserver/s3/sigv4.h"

namespace zenith::s3 {

struct HttpRequest {
  std::string method;      // "GET", "HEAD", "PUT", "POST", "DELETE"
  std::string url;         // already URI-encoded
  HeaderList headers;      // sent as given; "Host" is libcurl's, from the URL
  std::string_view body;   // must outlive Perform; sent for PUT and POST
};

struct HttpResponse {
  long status = 0;
  HeaderList headers;      // names lower-cased
  std::string body;
  // The value of header `name` (lower case), or "".
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; Unavailable (naming the URL and
  // libcurl's reason) when no response came: refused, timed out, reset.
  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  void* TakeHandle();
  void ReturnHandle(void* handle);

  std::mutex mu_;
  std::vector<void*> idle_;  // GUARDED_BY(mu_): CURL* easy handles
};

}  // namespace zenith::s3
