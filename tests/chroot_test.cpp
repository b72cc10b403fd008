// The layer on a system that is not the build machine: a Debian bullseye root
// (glibc 2.31, older than the build's 2.36) with a CA certificate only where
// Amazon Linux keeps it (/etc/pki/tls/certs/ca-bundle.crt). layer.zip is
// unpacked into <root>/opt, the emulator runs outside, and the layer's
// bootstrap runs inside with chroot, pulling the tmpdump over HTTPS from a
// server on 127.0.0.1 (the chroot shares the network namespace).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "functions/lambda.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

#if defined(__x86_64__)
constexpr const char* kMultiarch = "x86_64-linux-gnu";
#elif defined(__aarch64__)
constexpr const char* kMultiarch = "aarch64-linux-gnu";
#endif

// A static-file HTTPS server with byte ranges (the pull reads the central
// directory first); python3's http.server has no Range support of its own.
constexpr const char* kHttpsServer = R"PY(
import http.server, os, ssl, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def serve(self, with_body):
        try:
            with open(os.path.join(sys.argv[1], os.path.basename(self.path)), "rb") as f:
                data = f.read()
        except OSError:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = len(data)
        spec = self.headers.get("Range", "")
        if spec.startswith("bytes="):
            first, _, last = spec[6:].partition("-")
            start = size - int(last) if first == "" else int(first)
            end = size - 1 if first == "" or last == "" else min(int(last), size - 1)
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            data = data[start:end + 1]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if with_body:
            self.wfile.write(data)
    def do_GET(self):
        self.serve(True)
    def do_HEAD(self):
        self.serve(False)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
)PY";

// An executable handler in bash (the root has no compiler, and a handler
// built here would need glibc 2.36): answers one invocation with the libc it
// runs on and the library path it was given.
constexpr const char* kProbeHandler = R"SH(#!/bin/bash
api=$AWS_LAMBDA_RUNTIME_API
exec 3<>"/dev/tcp/${api%:*}/${api#*:}"
printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n' "$api" >&3
id="" len=0
while IFS= read -r line <&3; do
  line=${line%$'\r'}
  [[ -z $line ]] && break
  case ${line,,} in
    lambda-runtime-aws-request-id:*) id=${line#*: } ;;
    content-length:*) len=${line#*: } ;;
  esac
done
((len > 0)) && read -r -N "$len" _ <&3
libc=$(grep -m1 -E '/libc[.-]' "/proc/$$/maps" | awk '{print $6}')
body="{\"libc\":\"$libc\",\"ld_library_path\":\"$LD_LIBRARY_PATH\"}"
exec 4<>"/dev/tcp/${api%:*}/${api#*:}"
printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
  "$id" "$api" "${#body}" "$body" >&4
read -r _ <&4
sleep 30
)SH";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class ChrootLayer : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "the layer is made of unsanitized programs only (packaging/CMakeLists.txt)";
#endif
    if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root; run the suite as root to test the layer on bullseye";
    const auto t0 = std::chrono::steady_clock::now();
    auto made =
        run({(source_dir() / "packaging/debian-root").string(), "bullseye"}, {.timeout = std::chrono::minutes(10)});
    if (made.exit_code == 77) GTEST_SKIP() << trim(made.err);
    ASSERT_EQ(made.exit_code, 0) << made.all();
    if (!made.err.empty()) fmt::print("{}", made.err);  // the first debootstrap reports its time and size
    fmt::print("bullseye root ready in {:.1f} s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

    // A hard-linked copy: the test only adds files, so the cache stays clean.
    if (run({"cp", "-al", trim(made.out), root_.string()}).exit_code != 0) {
      fs::remove_all(root_);
      auto copied = run({"cp", "-a", trim(made.out), root_.string()});
      ASSERT_EQ(copied.exit_code, 0) << copied.all();
    }
    // Lambda has /proc; the bootstrap re-executes itself through /proc/self/exe.
    auto mounted = run({"mount", "-t", "proc", "proc", (root_ / "proc").string()});
    if (mounted.exit_code != 0) GTEST_SKIP() << "cannot mount /proc inside the root: " << mounted.all();
    proc_mounted_ = true;

    auto unzipped = run({"unzip", "-q", (build_dir() / "layer.zip").string(), "-d", (root_ / "opt").string()});
    ASSERT_EQ(unzipped.exit_code, 0) << "layer.zip (cmake --build <build> --target layer): " << unzipped.all();

    const fs::path fns = build_dir() / "tests/functions";
    fs::create_directories(root_ / "var/task/lib");
    fs::create_directories(root_ / "var/task/bin");
    fs::copy_file(fns / "libecho_handler_dep.so", root_ / "var/task/lib/libecho_dep.so");
    write_file(root_ / "var/task/bin/probe", kProbeHandler);
    fs::permissions(root_ / "var/task/bin/probe", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                                      fs::perms::others_read | fs::perms::others_exec);

    make_certificates();
    fs::create_directories(root_ / "etc/pki/tls/certs");
    fs::copy_file(tmp_ / "ca.crt", root_ / "etc/pki/tls/certs/ca-bundle.crt");

    // The tmpdump: lib/libtmpdump_testdep.so, zipped the Java layer's way.
    fs::create_directories(tmp_ / "dump-src/lib");
    fs::create_directories(tmp_ / "www");
    fs::copy_file(fns / "libtmpdump_testdep.so", tmp_ / "dump-src/lib/libtmpdump_testdep.so");
    auto zipped = run({"zip", "-q", "-y", "-r", (tmp_ / "www/dump.zip").string(), "lib"}, {.cwd = tmp_ / "dump-src"});
    ASSERT_EQ(zipped.exit_code, 0) << zipped.all();

    write_file(tmp_ / "https.py", kHttpsServer);
    server_ = std::make_unique<Background>(
        std::vector<std::string>{"python3", (tmp_ / "https.py").string(), (tmp_ / "www").string(),
                                 (tmp_ / "server.crt").string(), (tmp_ / "server.key").string()});
    auto line = server_->wait_for_line("listening on", std::chrono::seconds(20));
    ASSERT_TRUE(line) << "the HTTPS server did not start";
    url_ = "https://127.0.0.1:" + line->substr(line->find("127.0.0.1:") + 10) + "/dump.zip";

    // The emulator starts <layer>/bootstrap; this one enters the root with
    // Lambda's variables (paths translated) and runs the layer's bootstrap
    // there. LD_LIBRARY_PATH names the root's own glibc first, as Lambda's
    // names /lib64: the layer's programs must not pick it up.
    fs::path chroot_bin;
    for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
      if (fs::exists(fs::path(dir) / "chroot")) {
        chroot_bin = fs::path(dir) / "chroot";
        break;
      }
    }
    if (chroot_bin.empty()) GTEST_SKIP() << "no chroot program (coreutils)";
    fs::create_directories(tmp_ / "shim");
    write_file(
        tmp_ / "shim/bootstrap",
        fmt::format("#!/bin/sh\n"
                    "export LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime\n"
                    "export PATH=/opt/bin:/usr/local/bin:/usr/bin:/bin\n"
                    "export LD_LIBRARY_PATH=/lib/{0}:/usr/lib/{0}:/lib64:/usr/lib64:/var/task:/var/task/lib:/opt/lib\n"
                    "exec '{2}' '{1}' /opt/bootstrap\n",
                    kMultiarch, root_.string(), chroot_bin.string()));
    fs::permissions(tmp_ / "shim/bootstrap", fs::perms::owner_all);
  }

  void TearDown() override {
    if (proc_mounted_) run({"umount", "-l", (root_ / "proc").string()});
  }

  void make_certificates() {
    const std::string d = tmp_.path().string();
    const std::vector<std::vector<std::string>> steps{
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         d + "/ca.key", "-out", d + "/ca.crt", "-days", "2", "-subj", "/CN=tmpdump test CA"},
        {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"},
        {"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.crt", "-CAkey", d + "/ca.key",
         "-CAcreateserial", "-out", d + "/server.crt", "-days", "2", "-extfile", d + "/san.ext"},
    };
    write_file(tmp_ / "san.ext", "subjectAltName=IP:127.0.0.1\n");
    for (const auto& s : steps) {
      auto r = run(s);
      ASSERT_EQ(r.exit_code, 0) << r.all();
    }
  }

  RunResult invoke_once(const std::string& handler, const std::string& event) {
    write_file(tmp_ / "event.json", event);
    return run({tmpdump_binary().string(), "emulate", "--function", (root_ / "var/task").string(), "--layer",
                (tmp_ / "shim").string(), "--handler", handler, "--event", (tmp_ / "event.json").string(), "--env",
                "TMPDUMP_SOURCES=" + url_, "--env", "TMPDUMP_ROOT=/tmp/tmpdump",
                // The shim chroots into the older distribution's root: that root is this test's sandbox.
                "--sandbox", "off"},
               {.env = {{"AWS_CA_BUNDLE", std::nullopt}}, .timeout = std::chrono::seconds(60)});
  }

  TempDir tmp_;
  fs::path root_ = tmp_ / "root";
  bool proc_mounted_ = false;
  std::unique_ptr<Background> server_;
  std::string url_;
};

TEST_F(ChrootLayer, RootIsOlderGlibcWithTheCaOnlyAtTheAmazonLinuxPath) {
  auto version = run({"chroot", root_.string(), "ldd", "--version"});
  ASSERT_EQ(version.exit_code, 0) << version.all();
  EXPECT_TRUE(contains(version.out, "2.31")) << version.out;
  EXPECT_FALSE(fs::exists(root_ / "etc/ssl/certs"));
  EXPECT_TRUE(fs::exists(root_ / "etc/pki/tls/certs/ca-bundle.crt"));
}

TEST_F(ChrootLayer, BootstrapPullsOverHttpsAndItsLibraryHandlerAnswers) {
  auto r = invoke_once("lib/libecho_dep.so:echo_handler", R"("dep")");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "hello from the tmpdump\n");
  EXPECT_TRUE(contains(r.err, "1 archive(s) of ")) << r.err;
  EXPECT_TRUE(contains(r.err, "cache miss")) << r.err;
  EXPECT_TRUE(fs::exists(root_ / "tmp/tmpdump/lib/libtmpdump_testdep.so"));
}

TEST_F(ChrootLayer, ExecutedHandlerRunsOnTheRootsGlibcNotTheLayers) {
  auto r = invoke_once("bin/probe", "{}");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  fmt::print("the handler reports: {}", r.out);
  EXPECT_TRUE(contains(r.out, fmt::format(R"("libc":"/lib/{}/libc)", kMultiarch)) ||
              contains(r.out, fmt::format(R"("libc":"/usr/lib/{}/libc)", kMultiarch)))
      << r.out;
  EXPECT_FALSE(contains(r.out, "/opt/tmpdump")) << r.out;
  EXPECT_TRUE(contains(r.out, "/tmp/tmpdump/lib")) << r.out;  // the tmpdump's libraries, though
}

TEST_F(ChrootLayer, ExecWrapperPullsOverHttpsAndItsCommandRunsOnTheRootsGlibc) {
  // Managed runtimes: Lambda runs AWS_LAMBDA_EXEC_WRAPPER with the runtime's
  // command line; bash stands in for java/python here.
  auto r =
      run({"chroot", root_.string(), "/usr/bin/env", "-i", "LAMBDA_TASK_ROOT=/var/task",
           "PATH=/usr/local/bin:/usr/bin:/bin",
           fmt::format("LD_LIBRARY_PATH=/lib/{0}:/usr/lib/{0}:/lib64:/usr/lib64:/var/task/lib:/opt/lib", kMultiarch),
           "TMPDUMP_SOURCES=" + url_, "TMPDUMP_ROOT=/tmp/tmpdump", "/opt/tmpdump-exec-wrapper", "/bin/bash", "-c",
           R"(grep -m1 -E '/libc[.-]' /proc/$$/maps | awk '{print "libc=" $6}'; echo "path=$LD_LIBRARY_PATH")"},
          {.timeout = std::chrono::seconds(60)});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  fmt::print("the wrapped command reports: {}", r.out);
  EXPECT_TRUE(contains(r.out, fmt::format("libc=/lib/{}/libc", kMultiarch)) ||
              contains(r.out, fmt::format("libc=/usr/lib/{}/libc", kMultiarch)))
      << r.out;
  EXPECT_TRUE(contains(r.out, "path=/tmp/tmpdump/lib:")) << r.out;
  EXPECT_FALSE(contains(r.out, "/opt/tmpdump")) << r.out;
  EXPECT_TRUE(fs::exists(root_ / "tmp/tmpdump/lib/libtmpdump_testdep.so"));
}

// Issue 15: a --with-libc tmpdump (this machine's glibc 2.36, newer than the
// root's 2.31) must not reach a managed runtime, which runs on the image's own
// loader: bash, the root's own program, stands in for java/python.
TEST_F(ChrootLayer, ExecWrapperWithAWithLibcTmpdumpStillStartsTheRootsOwnRuntime) {
  const fs::path fns = build_dir() / "tests/functions";
  const std::string trace = fmt::format(
      R"({{"format":1,"libraries":[{{"path":"{}","names":["libc.so.6"]}},{{"path":"{}","names":["libtmpdump_testdep.so"]}}]}})",
      fs::canonical("/lib/x86_64-linux-gnu/libc.so.6").string(), fs::canonical(fns / "libtmpdump_testdep.so").string());
  write_file(tmp_ / "libc.trace", trace);
  auto packed = run({tmpdump_binary().string(), "pack", (tmp_ / "libc.trace").string(), "--with-libc", "--level", "1",
                     "-q", "-o", (tmp_ / "www/libc.zip").string()},
                    {.env = {{"TMPDUMP_PROGRESS", "0"}}, .timeout = std::chrono::seconds(60)});
  ASSERT_EQ(packed.exit_code, 0) << packed.all();

  // And an archive from before lib/libc/: glibc and its loader in lib/ itself.
  fs::create_directories(tmp_ / "old-src/lib");
  fs::copy_file(fs::canonical("/lib/x86_64-linux-gnu/libc.so.6"), tmp_ / "old-src/lib/libc.so.6");
  fs::copy_file(fs::canonical("/lib64/ld-linux-x86-64.so.2"), tmp_ / "old-src/lib/ld-linux-x86-64.so.2");
  fs::copy_file(fns / "libtmpdump_testdep.so", tmp_ / "old-src/lib/libtmpdump_testdep.so");
  ASSERT_EQ(
      run({"zip", "-q", "-y", "-r", (tmp_ / "www/old-libc.zip").string(), "lib"}, {.cwd = tmp_ / "old-src"}).exit_code,
      0);

  const std::string base = url_.substr(0, url_.rfind('/') + 1);
  for (const std::string archive : {"libc.zip", "old-libc.zip"}) {
    const std::string root = "/tmp/tmpdump-" + archive;
    auto r =
        run({"chroot", root_.string(), "/usr/bin/env", "-i", "LAMBDA_TASK_ROOT=/var/task",
             "PATH=/usr/local/bin:/usr/bin:/bin",
             fmt::format("LD_LIBRARY_PATH=/var/lang/lib:/lib/{0}:/usr/lib/{0}:/lib64:/usr/lib64:/var/task/lib:/opt/lib",
                         kMultiarch),
             "TMPDUMP_SOURCES=" + base + archive, "TMPDUMP_ROOT=" + root, "/opt/tmpdump-exec-wrapper", "/bin/bash",
             "-c", R"(grep -m1 -E '/libc[.-]' /proc/$$/maps | awk '{print "libc=" $6}'; echo "path=$LD_LIBRARY_PATH")"},
            {.timeout = std::chrono::seconds(60)});
    ASSERT_EQ(r.exit_code, 0) << archive << ": " << r.all();
    fmt::print("{}: the wrapped runtime reports: {}", archive, r.out);
    EXPECT_FALSE(contains(r.err, "GLIBC_")) << r.err;
    EXPECT_TRUE(contains(r.out, fmt::format("libc=/lib/{}/libc", kMultiarch)) ||
                contains(r.out, fmt::format("libc=/usr/lib/{}/libc", kMultiarch)))
        << archive << ": " << r.out;
    EXPECT_FALSE(contains(r.out, root + "/lib/libc")) << r.out;  // lib/libc/ is on no path
    EXPECT_TRUE(contains(r.out, root + "/lib")) << r.out;        // the tmpdump's libraries still are
    EXPECT_TRUE(fs::exists(root_ / root.substr(1) / "lib/libtmpdump_testdep.so"));
  }
  EXPECT_TRUE(fs::exists(root_ / "tmp/tmpdump-libc.zip/lib/libc/libc.so.6"));
}

TEST_F(ChrootLayer, ExecWrapperWithoutProcFindsItsPullModuleOrListsWhereItLooked) {
  // Without /proc, /proc/self/exe cannot say where the layer is.
  ASSERT_EQ(run({"umount", "-l", (root_ / "proc").string()}).exit_code, 0);
  proc_mounted_ = false;
  const std::vector<std::string> wrapped{"chroot",
                                         root_.string(),
                                         "/usr/bin/env",
                                         "-i",
                                         "LAMBDA_TASK_ROOT=/var/task",
                                         "PATH=/usr/bin:/bin",
                                         "TMPDUMP_SOURCES=" + url_,
                                         "TMPDUMP_ROOT=/tmp/tmpdump",
                                         "/opt/tmpdump-exec-wrapper",
                                         "/bin/echo",
                                         "started"};
  auto r = run(wrapped, {.timeout = std::chrono::seconds(60)});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "started\n") << r.all();

  fs::remove(root_ / "opt/tmpdump/lib/libtmpdump-pull.so");
  fs::remove_all(root_ / "tmp/tmpdump");
  auto broken = run(wrapped, {.timeout = std::chrono::seconds(60)});
  EXPECT_NE(broken.exit_code, 0) << broken.all();
  EXPECT_TRUE(
      contains(broken.err,
               "cannot load its pull module libtmpdump-pull.so (tried /opt/tmpdump/lib/libtmpdump-pull.so (missing)"))
      << broken.err;
  EXPECT_TRUE(contains(broken.err, "/proc/self/exe")) << broken.err;
  EXPECT_FALSE(contains(broken.err, "(tried )")) << broken.err;
}

TEST_F(ChrootLayer, WithoutTheCaBundleTheHttpsPullIsAnInitError) {
  fs::remove(root_ / "etc/pki/tls/certs/ca-bundle.crt");
  auto r = invoke_once("lib/libecho_dep.so:echo_handler", R"("dep")");
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  fmt::print("the init error: {}", r.out);
  EXPECT_TRUE(contains(r.out, R"("errorType":"TmpDump.)")) << r.out;
  EXPECT_TRUE(contains(r.out, "certificate")) << r.out;
  EXPECT_FALSE(contains(r.out, "hello from the tmpdump")) << r.out;
  EXPECT_FALSE(fs::exists(root_ / "tmp/tmpdump/lib/libtmpdump_testdep.so"));
}

}  // namespace
}  // namespace tmpdump::testing
