#include "pack/image.hpp"

#include <gtest/gtest.h>

namespace tmpdump::pack {
namespace {

TEST(GlibcFamilyTest, KnowsGlibcsOwnObjects) {
  for (auto n :
       {"libc.so.6", "libm.so.6", "libpthread.so.0", "ld-linux-x86-64.so.2", "libnss_dns.so.2", "libdl.so.2"}) {
    EXPECT_TRUE(is_glibc_family(n)) << n;
  }
  for (auto n : {"libcurl.so.4", "libcrypto.so.3", "libmagic.so.1", "libzstd.so.1", "libcrypt.so.1"}) {
    EXPECT_FALSE(is_glibc_family(n)) << n;
  }
}

TEST(ImageTest, PackAndCheckShareOneListOfWhatTheImageProvides) {
  // libgcc_s: every glibc system has it (glibc dlopens it), so pack leaves it
  // out like glibc and check counts it as found; a packed Debian 12 copy would
  // need GLIBC_2.35.
  for (auto n : {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libgcc_s.so.1"}) {
    EXPECT_TRUE(image_provides(n)) << n;
  }
  for (auto n : {"libstdc++.so.6", "libz.so.1", "libssl.so.3", "libgcc_s.so", "libgomp.so.1"}) {
    EXPECT_FALSE(image_provides(n)) << n;
  }
  EXPECT_EQ(kBundledLibcDir, "lib/libc");
}

TEST(GlibcFamilyTest, KnowsTheDynamicLoaderByItsNames) {
  for (auto n :
       {"ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux.so.2", "ld64.so.2", "ld-musl-x86_64.so.1"}) {
    EXPECT_TRUE(is_dynamic_loader(n)) << n;
    EXPECT_TRUE(is_glibc_family(n)) << n;
  }
  for (auto n : {"libc.so.6", "libm.so.6", "libldap.so.2", "ldconfig", "libz.so.1"}) {
    EXPECT_FALSE(is_dynamic_loader(n)) << n;
  }
}

}  // namespace
}  // namespace tmpdump::pack
