// Test fixtures for the runtime, bootstrap and emulate integration tests: a
// function directory and a layer made of the built test handlers and the real
// bootstrap, the emulator as a process, and an HTTP client for its invoke
// endpoint.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/http.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {

namespace fs = std::filesystem;

/// A function directory (bin/echo_fn, bin/echo_fn_dep, lib/libecho.so,
/// lib/libecho_dep.so) and a layer directory (bootstrap), under a TempDir.
/// The emulator runs them in its sandbox (`--sandbox auto`): as root the
/// runtime sees the function at /var/task, the layer at /opt, runs as uid
/// 993 and has a fresh /tmp; otherwise it runs unconfined with host paths.
struct LambdaDirs {
  TempDir tmp;
  fs::path function = tmp / "function", layer = tmp / "layer", root = tmp / "root";
  /// --sandbox for emulate_once() and EmulatorProcess; "off" for a test whose
  /// state must outlive a runtime (a cache kept in TMPDUMP_ROOT across cold starts).
  std::string sandbox = "auto";
  /// --memory unless a test gives its own: 1,769 MB is one full core, so a
  /// runtime-path test's timing never hangs on its CPU share (at Lambda's
  /// default 128 MB it would get 0.07 of a core). The limits themselves have
  /// their own tests (tests/sandbox_test.cpp).
  std::string memory = "1769";

  /// `extra` with --memory added when it has none.
  [[nodiscard]] std::vector<std::string> with_memory(std::vector<std::string> extra) const {
    if (std::find(extra.begin(), extra.end(), "--memory") == extra.end()) {
      extra.push_back("--memory");
      extra.push_back(memory);
    }
    return extra;
  }

  LambdaDirs() {
    const fs::path b = build_dir();
    fs::create_directories(function / "bin");
    fs::create_directories(function / "lib");
    fs::create_directories(layer);
    fs::create_directories(root);
    fs::copy_file(b / "tests/functions/echo_fn", function / "bin/echo_fn");
    fs::copy_file(b / "tests/functions/echo_fn_dep", function / "bin/echo_fn_dep");
    fs::copy_file(b / "tests/functions/libecho_handler.so", function / "lib/libecho.so");
    fs::copy_file(b / "tests/functions/libecho_handler_dep.so", function / "lib/libecho_dep.so");
    fs::copy_file(b / "src/bootstrap/bootstrap", layer / "bootstrap");
    // The pull module, which the bootstrap looks for next to itself.
    fs::copy_file(b / "src/bootstrap/libtmpdump-pull.so", layer / "libtmpdump-pull.so");
  }

  /// Whether the runtime runs in the sandbox: --sandbox auto, as root.
  [[nodiscard]] bool sandboxed() const { return sandbox != "off" && ::geteuid() == 0; }
  /// The path the runtime sees for `host`, a path under `function` or `layer`.
  /// TMPDUMP_ROOT (`root`) keeps its name: in the sandbox it lies in the
  /// sandbox's own /tmp, gone when the runtime is.
  [[nodiscard]] std::string seen(const fs::path& host) const {
    if (!sandboxed()) return host.string();
    for (const auto& [dir, at] : {std::pair{function, "/var/task"}, std::pair{layer, "/opt"}}) {
      const auto rel = host.lexically_relative(dir);
      if (!rel.empty() && !rel.string().starts_with("..")) return rel == "." ? at : (fs::path(at) / rel).string();
    }
    return host.string();
  }

  /// A tmpdump made the Java layer's way (zip -y -r) holding
  /// lib/libtmpdump_testdep.so, shipped in the function package (outside lib/)
  /// so a sandboxed runtime can read it: pass seen(zip) as its source.
  fs::path make_tmpdump() const {
    const fs::path src = tmp / "dump-src";
    fs::create_directories(src / "lib");
    fs::copy_file(build_dir() / "tests/functions/libtmpdump_testdep.so", src / "lib/libtmpdump_testdep.so",
                  fs::copy_options::overwrite_existing);
    const fs::path zip = function / "tmpdumps/dump.zip";
    fs::create_directories(zip.parent_path());
    fs::remove(zip);
    EXPECT_EQ(run({"zip", "-q", "-y", "-r", zip.string(), "lib"}, {.cwd = src}).exit_code, 0);
    return zip;
  }

  /// `tmpdump emulate --event` once; out = the response, err = the logs.
  RunResult emulate_once(const std::string& handler, const std::string& event, std::vector<std::string> extra = {},
                         EnvChanges env = {}) const {
    write_file(tmp / "event.json", event);
    std::vector<std::string> argv{tmpdump_binary().string(),
                                  "emulate",
                                  "--function",
                                  function.string(),
                                  "--layer",
                                  layer.string(),
                                  "--handler",
                                  handler,
                                  "--event",
                                  (tmp / "event.json").string(),
                                  "--env",
                                  "TMPDUMP_ROOT=" + root.string(),
                                  "--sandbox",
                                  sandbox};
    extra = with_memory(std::move(extra));
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, {.env = env, .timeout = std::chrono::seconds(60)});
  }
};

/// `tmpdump emulate` serving on a free port until destroyed.
class EmulatorProcess {
 public:
  EmulatorProcess(const LambdaDirs& dirs, const std::string& handler, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{tmpdump_binary().string(),
                                  "emulate",
                                  "--function",
                                  dirs.function.string(),
                                  "--layer",
                                  dirs.layer.string(),
                                  "--handler",
                                  handler,
                                  "--port",
                                  "0",
                                  "--env",
                                  "TMPDUMP_ROOT=" + dirs.root.string(),
                                  "--sandbox",
                                  dirs.sandbox};
    extra = dirs.with_memory(std::move(extra));
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Background>(argv);
    auto line = process_->wait_for_line("tmpdump emulate: listening on", std::chrono::seconds(20));
    if (!line) throw std::runtime_error("the emulator did not start");
    auto colon = line->find("127.0.0.1:");
    port_ = std::stoi(line->substr(colon + 10));
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return process_->pid(); }
  /// Waits for a log line starting with `prefix`.
  std::optional<std::string> log_line(const std::string& prefix,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return process_->wait_for_line(prefix, timeout);
  }

 private:
  std::unique_ptr<Background> process_;
  int port_ = 0;
};

struct InvokeReply {
  int status = 0;
  runtime::http::Headers headers;
  std::string body;
  /// When each piece of the body arrived (one per chunk for chunked replies, roughly).
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> pieces;
};

/// POST /2015-03-31/functions/function/invocations on 127.0.0.1:port.
inline InvokeReply invoke(int port, const std::string& event) {
  InvokeReply reply;
  auto sock = runtime::http::Socket::connect_to("127.0.0.1", std::to_string(port));
  if (!sock.valid()) return reply;
  const std::string head = "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                           std::to_string(event.size()) + "\r\n\r\n";
  if (!sock.send_all({head, event})) return reply;
  auto text = sock.read_head(1 << 20);
  if (!text) return reply;
  auto parsed = runtime::http::parse_response_head(*text);
  if (!parsed) return reply;
  auto framing = runtime::http::body_framing(parsed->headers, 64 << 20);
  if (!framing) return reply;
  std::string body;
  if (!sock.read_body(*framing, 64 << 20, [&](std::string_view p) {
        body.append(p);
        reply.pieces.emplace_back(std::chrono::steady_clock::now(), std::string(p));
        return true;
      })) {
    return reply;
  }
  reply.status = parsed->status;
  reply.headers = std::move(parsed->headers);
  reply.body = std::move(body);
  return reply;
}

/// libtmpdump_testdep.so compiled here without the build's sanitizer flags:
/// java, python and node are not instrumented, so they could not load the
/// build's copy in a sanitizer build.
inline fs::path plain_testdep(const fs::path& dir) {
  const fs::path out = dir / "libtmpdump_testdep.so";
  if (!fs::exists(out)) {
    fs::create_directories(dir);
    compile({"-shared", "-fPIC", "-I" + (source_dir() / "include").string(),
             (source_dir() / "tests/functions/testdep.cpp").string(), "-o", out.string()});
  }
  return out;
}

/// The portrait the examples' tests use (python3-skimage's astronaut.png,
/// sha256-checked by examples/face-detect/fetch-test-image), kept in the
/// build directory so later runs do not fetch it again.
inline fs::path astronaut() {
  const fs::path dir = build_dir() / "examples/face-detect/data";
  auto r = run({(source_dir() / "examples/face-detect/fetch-test-image").string(), dir.string()},
               {.timeout = std::chrono::seconds(240)});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  return dir / "astronaut.png";
}

/// The Java runtime interface client stand-in (tests/runtimes/java) as a jar
/// in `runtime_dir`/lib, what Lambda has in /var/runtime/lib; built with javac
/// and jar in `scratch`. False without them.
inline bool build_java_runtime_client(const fs::path& runtime_dir, const fs::path& scratch) {
  if (run({"sh", "-c", "command -v javac && command -v jar"}).exit_code != 0) return false;
  const fs::path classes = scratch / "ric-classes";
  auto compiled =
      run({"javac", "-d", classes.string(), (source_dir() / "tests/runtimes/java/AWSLambda.java").string()});
  EXPECT_EQ(compiled.exit_code, 0) << compiled.all();
  fs::create_directories(runtime_dir / "lib");
  auto jarred = run({"jar", "cf", (runtime_dir / "lib/aws-lambda-java-runtime-interface-client.jar").string(), "-C",
                     classes.string(), "."});
  EXPECT_EQ(jarred.exit_code, 0) << jarred.all();
  return compiled.exit_code == 0 && jarred.exit_code == 0;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace tmpdump::testing
