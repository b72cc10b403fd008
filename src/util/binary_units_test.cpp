// mib() and binary_size() of util/units.hpp: the binary sizes pull prints.
#include <gtest/gtest.h>

#include "util/units.hpp"

namespace tmpdump {
namespace {

TEST(BinaryUnits, MibTakesItsDecimals) {
  EXPECT_EQ(mib(513ull << 20, 1), "513.0 MiB");
  EXPECT_EQ(mib(512ull << 20, 0), "512 MiB");
  EXPECT_EQ(mib(3ull << 19, 1), "1.5 MiB");
}

TEST(BinaryUnits, BinarySizePicksGibMibOrWholeKib) {
  EXPECT_EQ(binary_size(3ull << 29), "1.50 GiB");
  EXPECT_EQ(binary_size(1ull << 20), "1.0 MiB");
  EXPECT_EQ(binary_size(1025), "2 KiB");
  EXPECT_EQ(binary_size(0), "0 KiB");
}

}  // namespace
}  // namespace tmpdump
