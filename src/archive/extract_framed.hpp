// Internal to extract(): a framed zstd entry whose frames several workers
// decode at once (the parts are planned in extract_plan.cpp, decoded by
// Worker's framed states in extract_framed.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "util/unique_fd.hpp"

namespace tmpdump::archive::detail {

/// One framed entry decoded by several chunks at once: the first part to
/// arrive creates the file, the last to finish checks the CRC-32 (combined
/// from the parts' in order) and sets mode and time.
struct FramedFile {
  std::mutex mutex;
  UniqueFd fd;  ///< closed by the last part
  std::size_t parts_left = 0;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> crcs;  ///< per part: CRC-32 and length
};

}  // namespace tmpdump::archive::detail
