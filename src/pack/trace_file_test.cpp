#include "pack/trace_file.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tmpdump::pack {
namespace {

TEST(TraceFileTest, ReadsFormatOne) {
  auto t = parse_trace(R"({"format":1,"command":["a"],"libraries":[{"path":"/x/libz.so.1.3","names":["libz.so.1"]}]})",
                       "t.json");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->libraries.size(), 1u);
  EXPECT_EQ(t->libraries[0].names[0], "libz.so.1");
}

TEST(TraceFileTest, RefusesUnknownFormatsAndBadFieldsNamingTheFile) {
  auto t = parse_trace(R"({"format":2,"libraries":[]})", "t.json");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("t.json"), std::string::npos);
  EXPECT_FALSE(parse_trace(R"({"format":1,"libraries":[{"path":"relative.so"}]})", "t.json"));
  EXPECT_FALSE(parse_trace("not json", "t.json"));
}

TEST(TraceFileTest, PythonModuleMustStayInsidePython) {
  for (auto bad : {"../x.so", "/abs.so", "a/../../x.so", ""}) {
    auto t = parse_trace(std::string(R"({"format":1,"libraries":[{"path":"/x.so","python_module":")") + bad + R"("}]})",
                         "t.json");
    EXPECT_FALSE(t) << bad;
  }
  auto ok = parse_trace(
      R"({"format":1,"libraries":[{"path":"/x.so","provided_by":"python","python_module":"a/b.so"}]})", "t.json");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->libraries[0].provided_by, "python");
  EXPECT_EQ(ok->libraries[0].python_module, "a/b.so");
}

}  // namespace
}  // namespace tmpdump::pack
