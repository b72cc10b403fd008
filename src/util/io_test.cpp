#include "util/io.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "util/unique_fd.hpp"

namespace tmpdump {
namespace {

struct Pipe {
  UniqueFd read, write;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

std::span<std::byte> bytes_of(std::string& s) {
  return std::as_writable_bytes(std::span(s.data(), s.size()));
}

TEST(UniqueFd, ClosesOnDestructionAndMoves) {
  int raw = -1;
  {
    Pipe p;
    raw = p.read.get();
    UniqueFd moved = std::move(p.read);
    EXPECT_FALSE(p.read.valid());
    EXPECT_EQ(moved.get(), raw);
    EXPECT_NE(::fcntl(raw, F_GETFD), -1);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(UniqueFd, ReleaseGivesTheFdUp) {
  Pipe p;
  const int raw = p.write.release();
  EXPECT_FALSE(p.write);
  EXPECT_NE(::fcntl(raw, F_GETFD), -1);
  ::close(raw);
}

// A pipe hands read(2) whatever has been written so far: read_full() must keep
// going until it has all it asked for, and stop early only at end of file.
TEST(Io, ReadFullCollectsShortReadsAndStopsAtEndOfFile) {
  Pipe p;
  std::thread writer([fd = p.write.release()] {
    for (int i = 0; i < 10; ++i) {
      const std::string piece(1000, static_cast<char>('a' + i));
      EXPECT_TRUE(write_all(fd, piece));
      std::this_thread::yield();
    }
    ::close(fd);
  });
  std::string first(6000, '\0');
  auto n = read_full(p.read.get(), bytes_of(first));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 6000u);
  EXPECT_EQ(first.substr(5000, 1000), std::string(1000, 'f'));
  std::string rest(6000, '\0');
  n = read_full(p.read.get(), bytes_of(rest));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4000u);  // the writer closed: end of file after 10,000 bytes
  EXPECT_EQ(rest.substr(3000, 1000), std::string(1000, 'j'));
  writer.join();
}

// More than a pipe holds: write(2) writes part of it each time.
TEST(Io, WriteAllWritesEverythingThroughAFullPipe) {
  Pipe p;
  std::string big(1 << 20, 'x');
  big[12345] = 'y';
  std::string got;
  std::thread reader([&] {
    std::string buf(4096, '\0');
    for (;;) {
      auto n = read_some(p.read.get(), bytes_of(buf));
      ASSERT_TRUE(n);
      if (*n == 0) break;
      got.append(buf, 0, *n);
    }
  });
  EXPECT_TRUE(write_all(p.write.get(), big));
  p.write.reset();
  reader.join();
  EXPECT_EQ(got, big);
}

TEST(Io, PositionalReadAndWrite) {
  char name[] = "/tmp/tmpdump-io-test-XXXXXX";
  const UniqueFd fd(::mkstemp(name));
  ASSERT_TRUE(fd);
  ::unlink(name);
  const std::string text = "hello, world";
  ASSERT_TRUE(pwrite_all(fd.get(), std::as_bytes(std::span(text.data(), text.size())), 100));
  std::string out(20, '\0');
  auto n = pread_full(fd.get(), bytes_of(out), 107);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 5u);  // end of file after "world"
  EXPECT_EQ(out.substr(0, 5), "world");
  n = pread_full(fd.get(), bytes_of(out), 0);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 20u);
  EXPECT_EQ(out[0], '\0');  // the hole before offset 100
}

TEST(Io, ReadAllReadsToTheEndUpToItsLimit) {
  char name[] = "/tmp/tmpdump-io-test-XXXXXX";
  const UniqueFd fd(::mkstemp(name));
  ASSERT_TRUE(fd);
  ::unlink(name);
  const std::string text(200'000, 'z');  // more than one read's buffer
  ASSERT_TRUE(write_all(fd.get(), text));
  ASSERT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
  auto all = read_all(fd.get(), text.size());  // exactly the limit is allowed
  ASSERT_TRUE(all) << all.error();
  EXPECT_EQ(*all, text);
  ASSERT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
  all = read_all(fd.get(), text.size() - 1);
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error(), EFBIG);
}

TEST(Io, ErrorsAreTheErrno) {
  std::string buf(4, '\0');
  auto n = read_full(-1, bytes_of(buf));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), EBADF);
  Pipe p;
  p.read.reset();
  std::signal(SIGPIPE, SIG_IGN);
  auto w = write_all(p.write.get(), std::string_view("x"));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), EPIPE);
}

// A signal that interrupts a blocked read(2) is retried, not reported.
TEST(Io, AnInterruptedReadIsRetried) {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  ::sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: read(2) fails with EINTR
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  Pipe p;
  const pthread_t reader_thread = ::pthread_self();
  std::thread writer([&] {
    // The reader may not have blocked yet; signals sent before it blocks are
    // harmless, so send several, then the data.
    for (int i = 0; i < 5; ++i) {
      ::pthread_kill(reader_thread, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(write_all(p.write.get(), std::string_view("done")));
  });
  std::string buf(4, '\0');
  auto n = read_full(p.read.get(), bytes_of(buf));
  writer.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(buf, "done");
}

}  // namespace
}  // namespace tmpdump
