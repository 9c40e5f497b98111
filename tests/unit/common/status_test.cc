#include "common/status.h"

#include <gtest/gtest.h>

#include "common/file_util.h"

namespace zenith {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd number " + std::to_string(x));
  return x / 2;
}

Status QuarterInto(int x, int* out) {
  ZENITH_ASSIGN_OR_RETURN(int h, Half(x));
  ZENITH_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(Status, PropagatesTheFirstError) {
  int out = 0;
  EXPECT_TRUE(QuarterInto(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = QuarterInto(6, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd number 3");
}

TEST(Status, ErrnoStatusNamesOperationAndPath) {
  auto r = ReadFileToString("/nonexistent/zenith/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "could not open \"/nonexistent/zenith/file\": No such file or directory");
  EXPECT_EQ(r.status().sys_errno(), ENOENT);
}

TEST(Status, ResultFromOkStatusIsAnInternalError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace zenith
