// Where an S3-compatible store is and who we are to it, read as AWS's own
// tools read it: AWS_ENDPOINT_URL (default https://s3.<region>.amazonaws.com),
// AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1), AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, else the profile AWS_PROFILE (default "default") of
// AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials).
//
// Also s3://BUCKET/PREFIX URLs. No function here puts a secret in a message.
//
// Thread-safety: plain values and reentrant functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pageserver/s3/sigv4.h"

namespace zenith::s3 {

inline constexpr std::string_view kDefaultRegion = "us-east-1";

struct S3Settings {
  std::string endpoint;  // "http://127.0.0.1:7480": scheme, host, optional port; no trailing '/'
  std::string region;
  Credentials credentials;
};

// Reads an environment variable; nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnvironment();

// `endpoint` and `region` override the environment when not empty (e.g. the
// values kept in a repository's config). InvalidArgument naming what is
// missing when there are no credentials; errors of the credentials file name
// the file and line, never a value.
Result<S3Settings> LoadS3Settings(const EnvLookup& env, std::string_view endpoint = {}, std::string_view region = {});

// The credentials of `profile` in an AWS credentials file's text
// ("[profile]" sections of "key = value" lines). NotFound when the profile or
// one of its two keys is missing.
Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile);

// "http://host:port" with a scheme of http or https; InvalidArgument otherwise.
Status ValidateEndpoint(std::string_view endpoint);

struct S3Url {
  std::string bucket;
  std::string prefix;  // without leading or trailing '/'; may be empty

  // "s3://bucket/prefix"
  std::string ToString() const;
  // The key of `name` under the prefix: "prefix/name" (or "name").
  std::string Key(std::string_view name) const;
};
// InvalidArgument saying what is wrong with anything but s3://BUCKET[/PREFIX]
// with a bucket name of 3-63 characters [a-z0-9.-].
Result<S3Url> ParseS3Url(std::string_view url);

}  // namespace zenith::s3
