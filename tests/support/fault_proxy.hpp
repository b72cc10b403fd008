// An HTTP proxy on 127.0.0.1 that sits between a client and the S3-API server
// and breaks chosen responses the ways networks and S3 do.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tmpdump::testing {

enum class Fault {
  None,
  Status500,     ///< 500 InternalError, no upstream request
  SlowDown503,   ///< 503 with S3's <Code>SlowDown</Code>
  Throttle429,   ///< 429 Too Many Requests
  ResetMidBody,  ///< half the body, then a TCP reset
  Stall,         ///< half the body, then silence until the client gives up
  ShortBody,     ///< the body less its last bytes, then a clean close (Content-Length lies)
  CorruptByte,   ///< the whole body with one byte flipped in the middle
  Shrunk416,     ///< 416 InvalidRange, "Content-Range: bytes */100": the object shrank, If-Match ignored
};

/// Human-readable name of a fault, for tables and test names.
const char* fault_name(Fault f);

/// Forwards one request per connection to the upstream server (requests are
/// relayed byte for byte, so SigV4 signatures stay valid), and applies the
/// injected fault to the next ranged GETs. Stops and joins every connection
/// thread on destruction.
class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  [[nodiscard]] std::string endpoint() const;
  /// The next `times` GET requests with a Range header get `fault` (-1: all).
  void inject(Fault fault, int times);
  /// Status faults (500, 503, 429, 416) on every request, HEAD included: a place that is down or throttles.
  void inject_every_request(Fault fault);
  /// How many responses were broken so far.
  [[nodiscard]] int injected() const { return injected_; }

 private:
  void accept_loop();
  void serve(int client);
  Fault take_fault(bool ranged_get);

  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  Fault fault_ = Fault::None;
  int remaining_ = 0;
  bool every_request_ = false;
  std::atomic<int> injected_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace tmpdump::testing
