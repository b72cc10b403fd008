#include "runtime/client.hpp"

#include <gtest/gtest.h>

namespace tmpdump::runtime {
namespace {

http::Headers next_headers() {
  http::Headers h;
  h.add("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
  h.add("Lambda-Runtime-Deadline-Ms", "1542409706888");
  h.add("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime");
  h.add("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1");
  h.add("Lambda-Runtime-Client-Context", R"({"client":{"app_title":"t"},"custom":{"k":"v"}})");
  h.add("Lambda-Runtime-Cognito-Identity", R"({"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"})");
  return h;
}

TEST(RuntimeHeaders, InvocationCarriesEveryRuntimeApiHeader) {
  auto inv = parse_invocation(next_headers(), "{\"x\":1}");
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(inv->deadline.time_since_epoch()).count(),
            1542409706888);
  EXPECT_EQ(inv->function_arn, "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime");
  EXPECT_EQ(inv->trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1");
  EXPECT_EQ(inv->client_context, R"({"client":{"app_title":"t"},"custom":{"k":"v"}})");
  EXPECT_EQ(inv->cognito_identity, R"({"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"})");
  EXPECT_EQ(inv->payload, "{\"x\":1}");
  EXPECT_LT(inv->remaining_time().count(), 0);  // 2018 is long past
}

TEST(RuntimeHeaders, MissingRequestIdIsRefusedWithReason) {
  http::Headers h;
  h.add("Lambda-Runtime-Deadline-Ms", "1");
  std::string why;
  EXPECT_FALSE(parse_invocation(h, "", &why));
  EXPECT_NE(why.find("Lambda-Runtime-Aws-Request-Id"), std::string::npos);
}

TEST(RuntimeHeaders, NonNumericDeadlineIsRefused) {
  auto h = next_headers();
  h.fields[1].second = "soon";
  std::string why;
  EXPECT_FALSE(parse_invocation(h, "", &why));
  EXPECT_NE(why.find("soon"), std::string::npos);
}

TEST(RuntimeHeaders, DeadlineBeyondTheClockIsRefused) {
  auto h = next_headers();
  h.fields[1].second = "154240970666666666";  // from fuzz/regressions/runtime_http: overflowed the conversion
  std::string why;
  EXPECT_FALSE(parse_invocation(h, "", &why));
  EXPECT_NE(why.find("154240970666666666"), std::string::npos);
}

TEST(RuntimeHeaders, OptionalHeadersMayBeAbsent) {
  http::Headers h;
  h.add("lambda-runtime-aws-request-id", "r1");
  auto inv = parse_invocation(h, "");
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->request_id, "r1");
  EXPECT_TRUE(inv->trace_id.empty());
  EXPECT_TRUE(inv->client_context.empty());
}

TEST(RuntimeErrors, ErrorBodyIsLambdasJsonShape) {
  EXPECT_EQ(error_json("std::runtime_error", "bad \"thing\""),
            R"({"errorMessage":"bad \"thing\"","errorType":"std::runtime_error","stackTrace":[]})");
}

TEST(RuntimeEndpoint, AcceptsHostPortOnly) {
  EXPECT_TRUE(Client::create("127.0.0.1:9001"));
  EXPECT_FALSE(Client::create("127.0.0.1"));
  EXPECT_FALSE(Client::create(":9001"));
  EXPECT_FALSE(Client::create("host:"));
}

}  // namespace
}  // namespace tmpdump::runtime
