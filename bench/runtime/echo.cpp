// bench/runtime's trivial handler on tmpdump::runtime: the response is the
// event unchanged. bench/runtime/run builds the same handler against
// aws-lambda-cpp (outside this tree) for the comparison.
#include <tmpdump/runtime.hpp>

int main() {
  namespace rt = tmpdump::runtime;
  return rt::run([](const rt::Invocation& inv) { return rt::Response::success(inv.payload, "application/json"); });
}
