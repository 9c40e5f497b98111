// SigV4 against AWS's published test vectors: the "Signature Version 4 Test
// Suite" (as kept in awslabs/aws-c-auth, tests/aws-signing-test-suite/v4) and
// the GET-object example of the S3 API reference ("Example: GET Object").
#include "pageserver/s3/sigv4.h"

#include <gtest/gtest.h>

namespace zenith::s3 {
namespace {

constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kSuiteDate[] = "20150830T123600Z";

const Credentials& SuiteCredentials() {
  static const Credentials c{"AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")};
  return c;
}

SigningInput SuiteGet(std::string path, HeaderList query = {}, HeaderList extra = {}) {
  SigningInput in{"GET", std::move(path), std::move(query), {{"Host", "example.amazonaws.com"}}, kEmptySha};
  for (auto& h : extra) in.headers.push_back(std::move(h));
  in.headers.emplace_back("X-Amz-Date", kSuiteDate);
  return in;
}

std::string SuiteSignature(const SigningInput& in) {
  std::string scope = CredentialScope(kSuiteDate, "us-east-1", "service");
  return Signature(SuiteCredentials().secret_access_key, kSuiteDate, "us-east-1", "service",
                   StringToSign(kSuiteDate, scope, CanonicalRequest(in)));
}

TEST(SigV4Test, GetVanilla) {
  SigningInput in = SuiteGet("/");
  EXPECT_EQ(CanonicalRequest(in),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
                std::string(kEmptySha));
  EXPECT_EQ(SuiteSignature(in), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(AuthorizationHeader(SuiteCredentials(), "us-east-1", "service", kSuiteDate, in),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, QueryParametersAreSortedByName) {
  EXPECT_EQ(SuiteSignature(SuiteGet("/", {{"Param2", "value2"}, {"Param1", "value1"}})),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(SuiteSignature(SuiteGet("/", {{"Param1", "value1"}})),
            "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
}

TEST(SigV4Test, UnreservedCharactersAreNotEncoded) {
  const std::string all = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(SuiteSignature(SuiteGet("/", {{all, all}})),
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
}

TEST(SigV4Test, PathBytesArePercentEncoded) {
  EXPECT_EQ(SuiteSignature(SuiteGet("/example space/")),
            "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
  EXPECT_EQ(SuiteSignature(SuiteGet("/\xE1\x88\xB4")),
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4Test, HeaderValuesAreTrimmedAndRepeatsJoinedInOrder) {
  EXPECT_EQ(SuiteSignature(SuiteGet("/", {}, {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}})),
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
  EXPECT_EQ(SuiteSignature(SuiteGet("/", {},
                                    {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"},
                                     {"My-Header1", "value2"}})),
            "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01");
}

TEST(SigV4Test, PostWithSignedBody) {
  const std::string body = "Param1=value1";
  SigningInput in{"POST", "/", {}, {}, Sha256Hex(body)};
  EXPECT_EQ(in.payload_hash, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  in.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                {"Host", "example.amazonaws.com"},
                {"Content-Length", "13"},
                {"x-amz-content-sha256", in.payload_hash},
                {"X-Amz-Date", kSuiteDate}};
  EXPECT_EQ(SignedHeaders(in), "content-length;content-type;host;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(SuiteSignature(in), "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b");
}

// The S3 API reference's example: GET /test.txt with a Range, from
// examplebucket, on 24 May 2013.
TEST(SigV4Test, S3GetObjectExample) {
  const Credentials creds{"AKIAIOSFODNN7EXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")};
  const std::string date = "20130524T000000Z";
  SigningInput in{"GET", "/test.txt", {},
                  {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"},
                   {"x-amz-content-sha256", kEmptySha}, {"x-amz-date", date}},
                  kEmptySha};
  EXPECT_EQ(StringToSign(date, CredentialScope(date, "us-east-1", "s3"), CanonicalRequest(in)),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(AuthorizationHeader(creds, "us-east-1", "s3", date, in),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, UriEncodeKeepsSlashOnlyWhenAsked) {
  EXPECT_EQ(UriEncode("a/b c+d=", false), "a/b%20c%2Bd%3D");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
}

TEST(SigV4Test, AmzDateIsUtc) { EXPECT_EQ(AmzDate(1440938160), kSuiteDate); }

}  // namespace
}  // namespace zenith::s3
