// An archive named on the command line (path, s3:// or https://), opened and
// its central directory read: what `inspect` and `check` start from.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "archive/zip.hpp"
#include "util/byte_source.hpp"
#include "util/error.hpp"

namespace tmpdump::cli {

struct OpenArchive {
  std::string shown;  ///< its name as printed (pull::display_name: no presigned query string)
  std::unique_ptr<ByteSource> source;
  archive::CentralDirectory dir;
};

/// Parses `text` as a pull SOURCE, opens it and reads its central directory.
[[nodiscard]] Result<OpenArchive> open_archive(std::string_view text);

}  // namespace tmpdump::cli
