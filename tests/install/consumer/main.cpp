// Echoes its event, with the request id, through the installed runtime client.
#include <tmpdump/runtime.hpp>

namespace rt = tmpdump::runtime;

int main() {
  return rt::run([](const rt::Invocation& inv) {
    if (inv.payload.empty()) return rt::Response::failure("App.EmptyEvent", "send an event");
    return rt::Response::success(R"({"installed_echo":)" + inv.payload + R"(,"request_id":")" + inv.request_id + "\"}");
  });
}
