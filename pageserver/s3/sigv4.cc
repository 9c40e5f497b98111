#include "pageserver/s3/sigv4.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace zenith::s3 {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of spaces, as SigV4 asks of header values.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

HeaderList SortedHeaders(const SigningInput& input) {
  HeaderList sorted;
  for (const auto& [name, value] : input.headers) sorted.emplace_back(Lower(name), CanonicalValue(value));
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Repeated names become one header with comma-separated values.
  HeaderList merged;
  for (auto& h : sorted) {
    if (!merged.empty() && merged.back().first == h.first) {
      merged.back().second += "," + h.second;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

std::string CanonicalQuery(const HeaderList& query) {
  HeaderList encoded;
  for (const auto& [k, v] : query) encoded.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view text, bool encode_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out += '%';
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string AmzDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string SignedHeaders(const SigningInput& input) {
  std::string out;
  for (const auto& h : SortedHeaders(input)) {
    if (!out.empty()) out += ';';
    out += h.first;
  }
  return out;
}

std::string CanonicalRequest(const SigningInput& input) {
  std::string out = input.method + "\n" + UriEncode(input.path, false) + "\n" + CanonicalQuery(input.query) + "\n";
  for (const auto& [name, value] : SortedHeaders(input)) out += name + ":" + value + "\n";
  out += "\n" + SignedHeaders(input) + "\n" + input.payload_hash;
  return out;
}

std::string CredentialScope(std::string_view amz_date, std::string_view region, std::string_view service) {
  return std::string(amz_date.substr(0, 8)) + "/" + std::string(region) + "/" + std::string(service) +
         "/aws4_request";
}

std::string StringToSign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" +
         Sha256Hex(canonical_request);
}

std::string Signature(const Secret& secret, std::string_view amz_date, std::string_view region,
                      std::string_view service, std::string_view string_to_sign) {
  std::string key = HmacSha256("AWS4" + secret.Reveal(), amz_date.substr(0, 8));
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  std::string sig = HmacSha256(key, string_to_sign);
  return Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

std::string AuthorizationHeader(const Credentials& credentials, std::string_view region, std::string_view service,
                                std::string_view amz_date, const SigningInput& input) {
  std::string scope = CredentialScope(amz_date, region, service);
  std::string to_sign = StringToSign(amz_date, scope, CanonicalRequest(input));
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
         ", SignedHeaders=" + SignedHeaders(input) +
         ", Signature=" + Signature(credentials.secret_access_key, amz_date, region, service, to_sign);
}

}  // namespace zenith::s3
