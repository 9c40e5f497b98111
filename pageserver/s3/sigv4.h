// AWS Signature Version 4: the canonical request, the string to sign and the
// Authorization header of a request to S3 (or any AWS-style service).
//
// Pure functions on strings: no I/O, no clock (the caller passes the time),
// so they are checked against AWS's published test vectors
// (tests/unit/pageserver/s3/sigv4_test.cc). S3 rules: the path is
// URI-encoded once, never normalized.
//
// Thread-safety: reentrant.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zenith::s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A secret that never prints: no operator<<, no implicit conversion. Read it
// only where it is used (signing).
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

struct Credentials {
  std::string access_key_id;
  Secret secret_access_key;
};

// What is signed of one request.
struct SigningInput {
  std::string method;        // "GET", "PUT", ...
  std::string path;          // decoded URI path, "/bucket/key with spaces"
  HeaderList query;          // decoded query parameters, any order; "" values allowed
  HeaderList headers;        // every header to sign, names in any case; must hold "host"
  std::string payload_hash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// RFC 3986 unreserved characters stay, every other byte becomes %XX
// (upper-case hex); '/' stays when !encode_slash.
std::string UriEncode(std::string_view text, bool encode_slash);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// "20150830T123600Z" for a UTC time.
std::string AmzDate(std::time_t t);

std::string CanonicalRequest(const SigningInput& input);
// "host;x-amz-date": the lower-cased, sorted names of input.headers.
std::string SignedHeaders(const SigningInput& input);
// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>".
std::string StringToSign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request);
// "<yyyymmdd>/<region>/<service>/aws4_request"; amz_date as AmzDate makes it.
std::string CredentialScope(std::string_view amz_date, std::string_view region, std::string_view service);
// The hex signature of `string_to_sign` with the key derived from the secret.
std::string Signature(const Secret& secret, std::string_view amz_date, std::string_view region,
                      std::string_view service, std::string_view string_to_sign);
// The whole Authorization header value. input.headers must already hold
// "x-amz-date: <amz_date>" (and "x-amz-content-sha256" for S3).
std::string AuthorizationHeader(const Credentials& credentials, std::string_view region, std::string_view service,
                                std::string_view amz_date, const SigningInput& input);

}  // namespace zenith::s3
