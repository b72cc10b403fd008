// CPU cost of each stage of a pull, per 100 MB unpacked, on real shared
// libraries: what a function with a fraction of a core pays for each byte.
//
//   bench_cpu DIR [--levels "3 9 19"] [--windows "0 21"] [--repeat N] [--write-dir D]
//
// DIR holds the files (bench/cpu/run collects real libraries into it). Every
// stage runs single-threaded through the code `tmpdump pull` runs (the
// project's decoders, CRC-32 and SHA-256), and is timed in thread CPU time
// (user + system, CLOCK_THREAD_CPUTIME_ID), which other load on the machine
// does not inflate the way it does wall time. Prints the median of --repeat
// runs per stage, then the sum per archive format: the CPU a pull of that
// format needs, which bench/cpu/run turns into the time it takes at 1.0,
// 0.58 and 0.29 of a core.
//
// Receiving the bytes (libcurl over loopback) is measured by bench/cpu/run with
// curl itself, not here.
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "archive/decoders.hpp"
#include "util/sha256.hpp"

namespace {

namespace fs = std::filesystem;
using tmpdump::archive::detail::Decoder;

// What the extractor uses: 1 MiB output buffers (archive/extract_worker.cpp
// kWriteBuffer), 16 MiB zstd slices for large files (pack/write.cpp).
constexpr std::size_t kOut = 1 << 20;
constexpr std::size_t kSlice = 16 << 20;
constexpr std::size_t kIn = 256 << 10;  // network-sized input pieces

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct File {
  std::string name;
  std::string bytes;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Discards what a decoder produces (the write stage is timed on its own).
class Sink final : public tmpdump::archive::detail::OutputBuffer {
 public:
  std::span<std::byte> space() override { return buffer_; }
  tmpdump::Result<void> commit(std::size_t n) override {
    produced += n;
    return {};
  }
  std::uint64_t produced = 0;

 private:
  std::vector<std::byte> buffer_ = std::vector<std::byte>(kOut);
};

/// One compressed stream per file (or per slice), as pack writes them.
struct Compressed {
  std::string label;
  std::vector<std::string> streams;
  std::uint64_t bytes = 0;
  std::function<std::unique_ptr<Decoder>()> decoder;
};

Compressed compress_zstd(const std::vector<File>& files, int level, int window_log) {
  Compressed c{
      window_log ? fmt::format("zstd -{} window 2^{}", level, window_log) : fmt::format("zstd -{}", level), {}, 0, [] {
        return tmpdump::archive::detail::make_zstd_decoder();
      }};
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  for (const auto& f : files) {
    for (std::size_t off = 0; off < f.bytes.size() || off == 0; off += kSlice) {
      const auto n = std::min(kSlice, f.bytes.size() - off);
      ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
      if (window_log) ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window_log);
      std::string out(ZSTD_compressBound(n), '\0');
      const auto r = ZSTD_compress2(cctx, out.data(), out.size(), f.bytes.data() + off, n);
      if (ZSTD_isError(r)) {
        fmt::print(stderr, "zstd: {}\n", ZSTD_getErrorName(r));
        std::exit(1);
      }
      out.resize(r);
      c.bytes += r;
      c.streams.push_back(std::move(out));
      if (f.bytes.empty()) break;
    }
  }
  ZSTD_freeCCtx(cctx);
  return c;
}

Compressed compress_deflate(const std::vector<File>& files, int level) {
  Compressed c{fmt::format("deflate -{} (ISA-L)", level), {}, 0, [] {
                 return tmpdump::archive::detail::make_inflater(tmpdump::archive::Inflater::Isal);
               }};
  for (const auto& f : files) {
    z_stream z{};
    deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, static_cast<uLong>(f.bytes.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(f.bytes.data()));
    z.avail_in = static_cast<uInt>(f.bytes.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    c.bytes += out.size();
    c.streams.push_back(std::move(out));
  }
  return c;
}

double time_decode(const Compressed& c) {
  auto decoder = c.decoder();
  Sink sink;
  const double t0 = thread_cpu_seconds();
  for (const auto& s : c.streams) {
    decoder->reset();
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    for (std::size_t off = 0; off < s.size(); off += kIn) {
      if (!decoder->feed({p + off, std::min(kIn, s.size() - off)}, sink)) std::exit(1);
    }
    if (auto done = decoder->finish(sink); !done || !*done) {
      fmt::print(stderr, "{}: a stream did not end\n", c.label);
      std::exit(1);
    }
  }
  return thread_cpu_seconds() - t0;
}

double time_sha256(const Compressed& c) {
  tmpdump::Sha256 sha;
  const double t0 = thread_cpu_seconds();
  for (const auto& s : c.streams) sha.update(std::as_bytes(std::span(s.data(), s.size())));
  (void)sha.hex_digest();
  return thread_cpu_seconds() - t0;
}

double time_crc(const std::vector<File>& files, bool isal) {
  std::uint32_t crc = 0;
  const double t0 = thread_cpu_seconds();
  for (const auto& f : files) {
    for (std::size_t off = 0; off < f.bytes.size(); off += kOut) {
      const auto n = std::min(kOut, f.bytes.size() - off);
      if (isal) {
        crc ^= tmpdump::archive::detail::crc32(0, std::as_bytes(std::span(f.bytes.data() + off, n)));
      } else {
        crc ^= static_cast<std::uint32_t>(
            ::crc32(0, reinterpret_cast<const Bytef*>(f.bytes.data() + off), static_cast<uInt>(n)));
      }
    }
  }
  const double t = thread_cpu_seconds() - t0;
  if (crc == 0x12345678) fmt::print("");  // keep the loop
  return t;
}

/// The files' bytes written into new files under `dir`, in 1 MiB writes, as the
/// extractor writes them (open O_EXCL, write, fchmod, close). Removal is not timed.
double time_write(const std::vector<File>& files, const fs::path& dir, bool data) {
  fs::create_directories(dir);
  const double t0 = thread_cpu_seconds();
  int i = 0;
  for (const auto& f : files) {
    const auto path = dir / fmt::format("f{}", i++);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      std::perror(path.c_str());
      std::exit(1);
    }
    for (std::size_t off = 0; data && off < f.bytes.size(); off += kOut) {
      const auto n = std::min(kOut, f.bytes.size() - off);
      if (::write(fd, f.bytes.data() + off, n) != static_cast<ssize_t>(n)) {
        std::perror("write");
        std::exit(1);
      }
    }
    ::fchmod(fd, 0755);
    ::close(fd);
  }
  const double t = thread_cpu_seconds() - t0;
  fs::remove_all(dir);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr,
               "usage: bench_cpu DIR [--levels \"3 9 19\"] [--windows \"0 21\"] [--repeat N] [--write-dir D]\n");
    return 2;
  }
  std::vector<int> levels{3, 9, 19};
  std::vector<int> windows{0};
  int repeat = 3;
  fs::path write_dir = fs::temp_directory_path() / fmt::format("tmpdump-bench-cpu-{}", ::getpid());
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    auto ints = [&](std::vector<int>& out) {
      out.clear();
      std::istringstream in(argv[i + 1]);
      for (int v; in >> v;) out.push_back(v);
    };
    if (opt == "--levels")
      ints(levels);
    else if (opt == "--windows")
      ints(windows);
    else if (opt == "--repeat")
      repeat = std::max(1, std::atoi(argv[i + 1]));
    else if (opt == "--write-dir")
      write_dir = argv[i + 1];
    else {
      fmt::print(stderr, "bench_cpu: unknown option {}\n", opt);
      return 2;
    }
  }

  std::vector<File> files;
  std::uint64_t total = 0;
  std::size_t links = 0;
  for (const auto& e : fs::recursive_directory_iterator(argv[1])) {
    if (e.is_symlink()) {
      ++links;
    } else if (e.is_regular_file()) {
      files.push_back({e.path().filename().string(), slurp(e.path())});
      total += files.back().bytes.size();
    }
  }
  if (total == 0) {
    fmt::print(stderr, "bench_cpu: no files in {}\n", argv[1]);
    return 1;
  }
  const double per100 = 100e6 / static_cast<double>(total);
  fmt::print("corpus: {} files ({} symlinks), {:.1f} MB; CPU seconds per 100 MB unpacked, median of {}\n", files.size(),
             links, static_cast<double>(total) / 1e6, repeat);

  auto measure = [&](const std::function<double()>& f) {
    std::vector<double> v;
    for (int r = 0; r < repeat; ++r) v.push_back(f());
    return median(v) * per100;
  };

  // Stages that do not depend on the format.
  const double crc_isal = measure([&] { return time_crc(files, true); });
  const double crc_zlib = measure([&] { return time_crc(files, false); });
  const double write = measure([&] { return time_write(files, write_dir, true); });
  const double metadata = measure([&] { return time_write(files, write_dir, false); });
  fmt::print("| stage | CPU s / 100 MB |\n|---|---:|\n");
  fmt::print("| CRC-32, ISA-L (what pull uses) | {:.3f} |\n| CRC-32, zlib (baseline) | {:.3f} |\n", crc_isal, crc_zlib);
  fmt::print("| write into {} (1 MiB writes) | {:.3f} |\n", write_dir.parent_path().string(), write - metadata);
  fmt::print("| metadata: create, chmod, close ({} files) | {:.3f} |\n\n", files.size(), metadata);

  std::vector<Compressed> formats;
  formats.push_back(compress_deflate(files, 6));
  for (int level : levels)
    for (int w : windows) formats.push_back(compress_zstd(files, level, w));

  fmt::print("| format | archive MB / 100 MB | decode | sha256 | + CRC, write, metadata = total CPU s / 100 MB |\n");
  fmt::print("|---|---:|---:|---:|---:|\n");
  for (const auto& c : formats) {
    const double decode = measure([&] { return time_decode(c); });
    const double sha = measure([&] { return time_sha256(c); });
    const double sum = decode + sha + crc_isal + write;  // write already includes metadata
    fmt::print("| {} | {:.1f} | {:.3f} | {:.3f} | {:.3f} |\n", c.label, static_cast<double>(c.bytes) * per100 / 1e6,
               decode, sha, sum);
    // Machine-readable, for bench/cpu/run's model.
    fmt::print(stderr, "FORMAT\t{}\t{:.4f}\t{:.4f}\n", c.label, static_cast<double>(c.bytes) * per100 / 1e6, sum);
  }
  return 0;
}
