#include "util/strings.hpp"

#include <gtest/gtest.h>

namespace tmpdump {
namespace {

using List = std::vector<std::string>;

TEST(SplitList, DropsEmptyItemsBetweenAnySeparator) {
  EXPECT_EQ(split_list("a, b,,c", ", "), (List{"a", "b", "c"}));
  EXPECT_EQ(split_list(" \t\n", " \t\n"), List{});
  EXPECT_EQ(split_list("", ":"), List{});
  EXPECT_EQ(split_list("/lib:/usr/lib:", ":"), (List{"/lib", "/usr/lib"}));
}

TEST(SplitList, WithoutASeparatorTheWholeTextIsOneItem) {
  EXPECT_EQ(split_list("one item", ":"), (List{"one item"}));
}

}  // namespace
}  // namespace tmpdump
