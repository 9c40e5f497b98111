#include "pageserver/s3/s3_settings.h"

#include <cstdlib>

#include "common/file_util.h"

namespace zenith::s3 {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string NonEmpty(const EnvLookup& env, const std::string& name) {
  auto v = env(name);
  return v ? *v : std::string();
}

Result<Credentials> CredentialsFromFile(const EnvLookup& env) {
  std::string path = NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty()) {
    std::string home = NonEmpty(env, "HOME");
    if (home.empty()) return InvalidArgument("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    path = home + "/.aws/credentials";
  }
  std::string profile = NonEmpty(env, "AWS_PROFILE");
  if (profile.empty()) profile = "default";
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return InvalidArgument("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write profile [" +
                           profile + "] to " + path + " (" + text.status().message() + ")");
  }
  auto creds = ParseCredentialsFile(*text, profile);
  if (!creds.ok()) return InvalidArgument("no S3 credentials in " + path + ": " + creds.status().message());
  return creds;
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile) {
  Credentials creds;
  bool in_profile = false, seen_profile = false;
  std::string secret;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      in_profile = line.back() == ']' && Trim(line.substr(1, line.size() - 2)) == profile;
      seen_profile = seen_profile || in_profile;
      continue;
    }
    size_t eq = line.find('=');
    if (!in_profile || eq == std::string_view::npos) continue;
    std::string_view key = Trim(line.substr(0, eq)), value = Trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") creds.access_key_id = std::string(value);
    if (key == "aws_secret_access_key") secret = std::string(value);
  }
  if (!seen_profile) return NotFound("no profile [" + std::string(profile) + "]");
  if (creds.access_key_id.empty() || secret.empty()) {
    return NotFound("profile [" + std::string(profile) + "] lacks aws_access_key_id or aws_secret_access_key");
  }
  creds.secret_access_key = Secret(std::move(secret));
  return creds;
}

Status ValidateEndpoint(std::string_view endpoint) {
  size_t scheme_end = endpoint.find("://");
  std::string_view scheme = endpoint.substr(0, scheme_end);
  if (scheme_end == std::string_view::npos || (scheme != "http" && scheme != "https")) {
    return InvalidArgument("S3 endpoint \"" + std::string(endpoint) + "\" must start with http:// or https://");
  }
  std::string_view rest = endpoint.substr(scheme_end + 3);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return InvalidArgument("S3 endpoint \"" + std::string(endpoint) +
                           "\" must be scheme://host[:port] with no path, user or query");
  }
  return Status::Ok();
}

Result<S3Settings> LoadS3Settings(const EnvLookup& env, std::string_view endpoint, std::string_view region) {
  S3Settings s;
  s.region = !region.empty() ? std::string(region) : NonEmpty(env, "AWS_REGION");
  if (s.region.empty()) s.region = NonEmpty(env, "AWS_DEFAULT_REGION");
  if (s.region.empty()) s.region = std::string(kDefaultRegion);
  s.endpoint = !endpoint.empty() ? std::string(endpoint) : NonEmpty(env, "AWS_ENDPOINT_URL_S3");
  if (s.endpoint.empty()) s.endpoint = NonEmpty(env, "AWS_ENDPOINT_URL");
  if (s.endpoint.empty()) s.endpoint = "https://s3." + s.region + ".amazonaws.com";
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  ZENITH_RETURN_IF_ERROR(ValidateEndpoint(s.endpoint));
  std::string key_id = NonEmpty(env, "AWS_ACCESS_KEY_ID");
  std::string secret = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
  if (!key_id.empty() && !secret.empty()) {
    s.credentials = {std::move(key_id), Secret(std::move(secret))};
    return s;
  }
  if (!key_id.empty() || !secret.empty()) {
    return InvalidArgument("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
  }
  auto creds = CredentialsFromFile(env);
  if (!creds.ok()) return creds.status();
  s.credentials = std::move(creds).value();
  return s;
}

std::string S3Url::ToString() const { return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix); }

std::string S3Url::Key(std::string_view name) const {
  return prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
}

Result<S3Url> ParseS3Url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("\"" + std::string(url) + "\" is not an S3 URL: write s3://BUCKET/PREFIX");
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  S3Url out;
  out.bucket = std::string(rest.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  out.prefix = std::string(prefix);
  bool valid = out.bucket.size() >= 3 && out.bucket.size() <= 63 &&
               out.bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string::npos &&
               out.bucket.front() != '.' && out.bucket.front() != '-';
  if (!valid) {
    return InvalidArgument("bad bucket name \"" + out.bucket + "\" in " + std::string(url) +
                           ": 3 to 63 characters of a-z, 0-9, '.' and '-'");
  }
  if (out.prefix.find("//") != std::string::npos || (!out.prefix.empty() && out.prefix.front() == '/')) {
    return InvalidArgument("bad prefix in " + std::string(url) + ": empty path segments");
  }
  return out;
}

}  // namespace zenith::s3
