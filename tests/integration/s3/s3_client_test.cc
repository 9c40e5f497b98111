// S3Client against a real Ceph RADOS Gateway (tests/run.sh starts it).
#include "pageserver/s3/s3_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/file_util.h"
#include "tests/harness/s3_test_env.h"
#include "tests/harness/temp_dir.h"

namespace zenith::s3 {
namespace {

using zenith::testing::S3TestEnv;

EnvLookup LookupIn(const S3TestEnv& env) {
  return [vars = env.vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

S3Settings SettingsOf(const S3TestEnv& env) {
  auto s = LoadS3Settings(LookupIn(env));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : S3Settings{};
}

std::string Bytes(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u + seed) >> 13);
  return s;
}

TEST(S3ClientTest, PutGetHeadRoundTripKeepsEveryByte) {
  ZENITH_REQUIRE_S3(env);
  S3Client s3(SettingsOf(env), env.bucket);
  ASSERT_TRUE(s3.CheckBucket().ok());
  const std::string key = S3TestEnv::UniquePrefix() + "/dir/a b+c=d\xC3\xA9";
  const std::string data = Bytes(100000, 1);
  ASSERT_TRUE(s3.Put(key, data).ok());
  auto got = s3.Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data);
  auto head = s3.Head(key);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(s3.Get(key + "-missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s3.Head(key + "-missing").status().code(), StatusCode::kNotFound);
}

TEST(S3ClientTest, RangedGetReturnsExactlyTheRange) {
  ZENITH_REQUIRE_S3(env);
  S3Client s3(SettingsOf(env), env.bucket);
  const std::string key = S3TestEnv::UniquePrefix() + "/ranged";
  const std::string data = Bytes(50000, 2);
  ASSERT_TRUE(s3.Put(key, data).ok());
  auto r = s3.GetRange(key, 8192, 100);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r == data.substr(8192, 100));
  r = s3.GetRange(key, 49990, 100);  // past the end: what there is
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r == data.substr(49990));
}

TEST(S3ClientTest, ListFollowsContinuationTokens) {
  ZENITH_REQUIRE_S3(env);
  S3Client s3(SettingsOf(env), env.bucket);
  const std::string prefix = S3TestEnv::UniquePrefix() + "/";
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(s3.Put(prefix + "k" + std::to_string(i), std::string(i, 'x')).ok());
  auto page = s3.List(prefix + "k", "", 3);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.size(), 3u);
  EXPECT_FALSE(page->next_token.empty());
  auto all = s3.ListAll(prefix + "k");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ((*all)[i].key, prefix + "k" + std::to_string(i));
    EXPECT_EQ((*all)[i].size, static_cast<uint64_t>(i));
  }
  // Pages of 3 must chain to the same 7 keys.
  std::vector<std::string> keys;
  std::string token;
  int pages = 0;
  do {
    auto p = s3.List(prefix + "k", token, 3);
    ASSERT_TRUE(p.ok());
    for (auto& o : p->objects) keys.push_back(o.key);
    token = p->next_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(keys.size(), 7u);
}

TEST(S3ClientTest, DeleteManyRemovesOnlyTheNamedKeys) {
  ZENITH_REQUIRE_S3(env);
  S3Client s3(SettingsOf(env), env.bucket);
  const std::string prefix = S3TestEnv::UniquePrefix() + "/";
  for (const char* k : {"a", "b", "c", "d&<e"}) ASSERT_TRUE(s3.Put(prefix + k, k).ok());
  Status st = s3.DeleteMany({prefix + "a", prefix + "d&<e", prefix + "never-existed"});
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto all = s3.ListAll(prefix);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key, prefix + "b");
  EXPECT_EQ((*all)[1].key, prefix + "c");
}

TEST(S3ClientTest, PutIfAbsentRefusesAnExistingKey) {
  ZENITH_REQUIRE_S3(env);
  S3Client s3(SettingsOf(env), env.bucket);
  const std::string key = S3TestEnv::UniquePrefix() + "/generations/1";
  ASSERT_TRUE(s3.PutIfAbsent(key, "first").ok());
  Status again = s3.PutIfAbsent(key, "second");
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_EQ(s3.Get(key).value_or(""), "first");
}

TEST(S3ClientTest, PutIfAbsentRaceHasExactlyOneWinner) {
  ZENITH_REQUIRE_S3(env);
  S3Client s3(SettingsOf(env), env.bucket);
  const std::string key = S3TestEnv::UniquePrefix() + "/claim";
  std::atomic<int> won{0}, lost{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 6; ++i) {
    racers.emplace_back([&, i] {
      Status st = s3.PutIfAbsent(key, "racer " + std::to_string(i));
      if (st.ok()) ++won;
      if (st.code() == StatusCode::kAlreadyExists) ++lost;
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), 5);
}

TEST(S3ClientTest, LargeFileGoesUpInPartsAndComesBackWhole) {
  ZENITH_REQUIRE_S3(env);
  constexpr uint64_t kPart = 5 << 20;  // S3's smallest part
  S3Client s3(SettingsOf(env), env.bucket, kPart);
  testing::TempDir dir;
  // More parts than go up at once (kPartsInFlight): each must land in its place.
  const std::string data = Bytes(5 * kPart + 12345, 3);
  const std::string path = dir.path() + "/big";
  ASSERT_TRUE(WriteFileDurably(path, data).ok());
  const std::string key = S3TestEnv::UniquePrefix() + "/big";
  Status st = s3.PutFile(key, path);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto got = s3.Get(key);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == data);
  // A multipart object's ETag is "<md5 of the part md5s>-<parts>".
  auto head = s3.Head(key);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, data.size());
  EXPECT_NE(head->etag.find("-6"), std::string::npos) << "not a 6-part upload: ETag " << head->etag;
}

TEST(S3ClientTest, WrongSecretIsAccessDeniedAndNeverPrinted) {
  ZENITH_REQUIRE_S3(env);
  S3Settings settings = SettingsOf(env);
  const std::string wrong = "wrong-secret-0123456789";
  settings.credentials.secret_access_key = Secret(wrong);
  S3Client s3(settings, env.bucket);
  Status st = s3.CheckBucket();
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_EQ(st.message().find(wrong), std::string::npos);
  EXPECT_NE(st.message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << st.message();
  settings.credentials.access_key_id = "NOSUCHKEY";
  EXPECT_EQ(S3Client(settings, env.bucket).Put("x", "y").code(), StatusCode::kPermissionDenied);
}

TEST(S3ClientTest, MissingBucketIsNamed) {
  ZENITH_REQUIRE_S3(env);
  S3Client s3(SettingsOf(env), "no-such-bucket-zenith");
  Status st = s3.CheckBucket();
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("bucket \"no-such-bucket-zenith\" does not exist"), std::string::npos) << st.message();
}

TEST(S3ClientTest, UnreachableEndpointIsUnavailable) {
  ZENITH_REQUIRE_S3(env);
  S3Settings settings = SettingsOf(env);
  settings.endpoint = "http://127.0.0.1:1";
  Status st = S3Client(settings, env.bucket).CheckBucket();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("127.0.0.1:1"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace zenith::s3
