#include "util/sha256.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tmpdump {
namespace {

TEST(Sha256Test, MatchesKnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
  Sha256 h;
  std::string_view a = "ab", b = "c";
  h.update(std::as_bytes(std::span(a.data(), a.size())));
  h.update(std::as_bytes(std::span(b.data(), b.size())));
  EXPECT_EQ(h.hex_digest(), sha256_hex("abc"));
}

TEST(Sha256Test, HashesAFileAndNamesAMissingOne) {
  const auto path = std::filesystem::temp_directory_path() / "tmpdump-sha256-test.txt";
  { std::ofstream(path) << "abc"; }
  auto digest = sha256_file(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(*digest, sha256_hex("abc"));
  auto missing = sha256_file(path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::NotFound);
  EXPECT_NE(missing.error().message.find("tmpdump-sha256-test.txt"), std::string::npos);
}

TEST(Sha256Test, RecognisesHexDigests) {
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex("abc"));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'g')));
}

}  // namespace
}  // namespace tmpdump
