#include "util/error.hpp"

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

namespace tmpdump {
namespace {

TEST(ErrorTest, EveryKindHasItsOwnExitCodeAndType) {
  const Errc all[] = {Errc::InvalidArgument,  Errc::NotFound, Errc::Forbidden, Errc::Corrupt, Errc::Unsafe,
                      Errc::ChecksumMismatch, Errc::NoSpace,  Errc::Network,   Errc::Io,      Errc::Unsupported,
                      Errc::Conflict};
  for (auto a : all) {
    EXPECT_GE(exit_code(a), 2);
    EXPECT_TRUE(error_type(a).starts_with("TmpDump."));
    for (auto b : all) {
      if (a != b) {
        EXPECT_NE(exit_code(a), exit_code(b));
        EXPECT_NE(error_type(a), error_type(b));
      }
    }
  }
}

TEST(ErrorTest, NoSpaceErrnoMapsToNoSpace) {
  EXPECT_EQ(errc_from_errno(ENOSPC), Errc::NoSpace);
  EXPECT_EQ(sys_error(ENOSPC, "writing lib/a.so").code, Errc::NoSpace);
  EXPECT_NE(sys_error(ENOSPC, "writing lib/a.so").message.find("lib/a.so"), std::string::npos);
}

// The words people see are strerror()'s, known value or not.
TEST(ErrorTest, ErrnoTextIsStrerrorsText) {
  for (int err : {ENOENT, EACCES, ENOSPC, EINTR, 0, 4000, -1}) EXPECT_EQ(errno_text(err), std::strerror(err)) << err;
  EXPECT_EQ(sys_error(ENOENT, "opening x").message, "opening x: No such file or directory");
}

TEST(ErrorTest, FailFormatsMessage) {
  Result<int> r = fail(Errc::NotFound, "no key {} in bucket {}", "k", "b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "no key k in bucket b");
  EXPECT_EQ(with_context(r.error(), "pull").message, "pull: no key k in bucket b");
}

TEST(ErrorTest, ContextIsNotRepeated) {
  Error e{Errc::Network, "s3://b/k: after 4 attempts: HTTP 503"};
  EXPECT_EQ(with_context(e, "s3://b/k").message, "s3://b/k: after 4 attempts: HTTP 503");
  EXPECT_EQ(with_context(e, "s3://b").message, "s3://b: s3://b/k: after 4 attempts: HTTP 503");
}

}  // namespace
}  // namespace tmpdump
