// Internal to extract(): where a worker's decoder writes — a buffered writer
// per entry (EntryOutput) or per part of a framed entry (PartOutput).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "archive/decoders.hpp"
#include "archive/extract_shared.hpp"
#include "archive/zip.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump::archive::detail {

/// Output of one whole entry: a file written sequentially, or a symlink's
/// target collected in memory. Checks the decoded size against the declared
/// one as bytes arrive and keeps their CRC-32.
class EntryOutput final : public OutputBuffer {
 public:
  EntryOutput(Shared& shared, std::vector<std::byte>& buffer) : shared_(shared), buffer_(buffer) {}

  /// `link_target` set: a symlink, whose data is appended there (fd invalid).
  void start(const Entry& e, UniqueFd fd, std::string* link_target, std::string label);

  std::span<std::byte> space() override;
  Result<void> commit(std::size_t n) override;

  [[nodiscard]] Result<void> flush();
  /// Flushes, then gives the file its mode and time and closes it.
  [[nodiscard]] Result<void> close_file();

  [[nodiscard]] std::uint64_t produced() const { return produced_; }
  [[nodiscard]] std::uint32_t crc() const { return crc_; }

 private:
  Shared& shared_;
  std::vector<std::byte>& buffer_;
  const Entry* entry_ = nullptr;
  UniqueFd fd_;
  std::string* link_ = nullptr;
  std::string label_;
  std::uint64_t produced_ = 0;
  std::size_t fill_ = 0;
  std::uint32_t crc_ = 0;
};

/// Output of one part of a framed entry: its frames' slices, written in place
/// with pwrite(); each frame must decode to exactly its slice.
class PartOutput final : public OutputBuffer {
 public:
  PartOutput(Shared& shared, std::vector<std::byte>& buffer) : shared_(shared), buffer_(buffer) {}

  void start(int fd, std::uint64_t offset);
  void start_frame(std::uint64_t slice);

  std::span<std::byte> space() override;
  Result<void> commit(std::size_t n) override;

  [[nodiscard]] Result<void> flush();

  [[nodiscard]] std::uint64_t produced() const { return produced_; }
  [[nodiscard]] std::uint32_t crc() const { return crc_; }
  [[nodiscard]] std::uint64_t length() const { return length_; }

 private:
  Shared& shared_;
  std::vector<std::byte>& buffer_;
  int fd_ = -1;
  std::uint64_t offset_ = 0, slice_ = 0, produced_ = 0, length_ = 0;
  std::size_t fill_ = 0;
  std::uint32_t crc_ = 0;
};

}  // namespace tmpdump::archive::detail
