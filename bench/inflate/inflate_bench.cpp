// Decoding speed of raw deflate streams of real shared libraries: zlib
// (streaming inflate, the baseline), ISA-L (isal_inflate, streaming) and
// libdeflate (whole buffers only). Prints MB/s of output and ratios vs zlib,
// the median of several repeats. Usage: bench_inflate [repeats] [lib...]
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <isa-l/igzip_lib.h>

namespace {

constexpr std::size_t kOut = 1 << 20;  // streaming output buffer, as the extractor uses

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string deflate_raw(const std::string& in, int level) {
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::size_t zlib_stream(const std::string& comp, std::vector<unsigned char>& out) {
  z_stream z{};
  inflateInit2(&z, -15);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(comp.data()));
  z.avail_in = static_cast<uInt>(comp.size());
  std::size_t total = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = out.data();
    z.avail_out = kOut;
    rc = inflate(&z, Z_NO_FLUSH);
    total += kOut - z.avail_out;
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END ? total : 0;
}

std::size_t isal_stream(const std::string& comp, std::vector<unsigned char>& out) {
  auto st = std::make_unique<inflate_state>();
  isal_inflate_init(st.get());
  st->crc_flag = ISAL_DEFLATE;
  st->next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(comp.data()));
  st->avail_in = static_cast<std::uint32_t>(comp.size());
  std::size_t total = 0;
  while (st->block_state != ISAL_BLOCK_FINISH) {
    st->next_out = out.data();
    st->avail_out = kOut;
    if (isal_inflate(st.get()) < 0) return 0;
    total += kOut - st->avail_out;
  }
  return total;
}

std::size_t libdeflate_whole(const std::string& comp, std::vector<unsigned char>& whole) {
  auto* d = libdeflate_alloc_decompressor();
  std::size_t n = 0;
  const auto rc = libdeflate_deflate_decompress(d, comp.data(), comp.size(), whole.data(), whole.size(), &n);
  libdeflate_free_decompressor(d);
  return rc == LIBDEFLATE_SUCCESS ? n : 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  std::vector<std::string> libs;
  for (int i = 2; i < argc; ++i) libs.emplace_back(argv[i]);
  if (libs.empty()) {
    const std::string dir = "/usr/lib/x86_64-linux-gnu/";
    for (const char* name : {"libcrypto.so.3", "libcurl.so.4", "libzstd.so.1", "libisal.so.2", "libstdc++.so.6",
                             "libLLVM-14.so.1", "libicudata.so.72"})
      if (std::ifstream(dir + name)) libs.push_back(dir + name);
  }
  std::string all;
  for (const auto& l : libs) all += slurp(l);
  if (all.empty()) {
    std::fprintf(stderr, "no input libraries found\n");
    return 1;
  }
  const std::string comp = deflate_raw(all, 6);
  fmt::print("input: {} libraries, {:.1f} MB, deflate level 6 -> {:.1f} MB (ratio {:.2f})\n", libs.size(),
             static_cast<double>(all.size()) / 1e6, static_cast<double>(comp.size()) / 1e6,
             static_cast<double>(all.size()) / static_cast<double>(comp.size()));

  std::vector<unsigned char> stream_buf(kOut), whole(all.size());
  struct Candidate {
    const char* name;
    std::function<std::size_t()> run;
  };
  const Candidate candidates[] = {
      {"zlib inflate (streaming, baseline)", [&] { return zlib_stream(comp, stream_buf); }},
      {"ISA-L isal_inflate (streaming)", [&] { return isal_stream(comp, stream_buf); }},
      {"libdeflate (whole buffer)", [&] { return libdeflate_whole(comp, whole); }},
  };
  double baseline = 0;
  for (const auto& c : candidates) {
    std::vector<double> rates;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::size_t n = c.run();
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      if (n != all.size()) {
        std::fprintf(stderr, "%s: decoded %zu bytes, expected %zu\n", c.name, n, all.size());
        return 1;
      }
      rates.push_back(static_cast<double>(n) / 1e6 / dt.count());
    }
    const double m = median(rates);
    if (baseline == 0) baseline = m;
    fmt::print("{:<38} {:8.0f} MB/s  {:5.2f}x zlib\n", c.name, m, m / baseline);
  }
  return 0;
}
