// libFuzzer target: the JSON documents tmpdump reads from places others can
// write: the archive manifest (.tmpdump/manifest.json, from whoever wrote the
// S3 object) and the function configuration ($LAMBDA_TASK_ROOT/tmpdump.json,
// from the function package), whose "sources" go through the source-URI
// parser. The same bytes are also tried as TMPDUMP_SOURCES.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "layer/config.hpp"
#include "pack/manifest.hpp"
#include "scratch.hpp"
#include "util/env.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path& task_root() {
  return tmpdump::fuzz::scratch_dir("manifest");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tmpdump::pack::parse_manifest(text, "fuzz: .tmpdump/manifest.json");

  {
    std::ofstream out(task_root() / "tmpdump.json", std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  (void)tmpdump::layer::load_config(tmpdump::fixed_env({{"LAMBDA_TASK_ROOT", task_root().string()}}));
  (void)tmpdump::layer::load_config(tmpdump::fixed_env({{"LAMBDA_TASK_ROOT", task_root().string() + "/none"},
                                                        {"TMPDUMP_SOURCES", std::string(text)},
                                                        {"_HANDLER", std::string(text)}}));
  (void)tmpdump::layer::parse_handler(text, "/var/task");
  return 0;
}
