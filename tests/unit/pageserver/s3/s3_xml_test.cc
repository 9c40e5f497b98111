#include "pageserver/s3/s3_xml.h"

#include <gtest/gtest.h>

namespace zenith::s3 {
namespace {

TEST(S3XmlTest, ParsesListingWithContinuation) {
  auto r = ParseListResult(
      "<ListBucketResult><IsTruncated>true</IsTruncated>"
      "<Contents><Key>a&amp;b</Key><Size>12</Size></Contents>"
      "<Contents><Key>c</Key><Size>0</Size></Contents>"
      "<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->objects.size(), 2u);
  EXPECT_EQ(r->objects[0].key, "a&b");
  EXPECT_EQ(r->objects[0].size, 12u);
  EXPECT_EQ(r->next_token, "tok");
}

TEST(S3XmlTest, LastPageHasNoToken) {
  auto r = ParseListResult("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->objects.empty());
  EXPECT_EQ(r->next_token, "");
}

TEST(S3XmlTest, BadSizeIsCorruption) {
  auto r = ParseListResult("<Contents><Key>k</Key><Size>x</Size></Contents>");
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

TEST(S3XmlTest, KeysAreEscapedInRequests) {
  EXPECT_EQ(DeleteRequestXml({"a<b"}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>"
            "<Object><Key>a&lt;b</Key></Object></Delete>");
  EXPECT_EQ(CompleteMultipartXml({"\"e1\""}),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
}

}  // namespace
}  // namespace zenith::s3
