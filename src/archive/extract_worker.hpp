// Internal to extract(): one worker thread, which claims chunks in order and
// runs each through a state machine over its bytes as they arrive: skip to
// the next local header, read the header, decode an entry's data, or decode
// the frames of a part of a framed entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "archive/decoders.hpp"
#include "archive/extract_output.hpp"
#include "archive/extract_shared.hpp"
#include "util/byte_source.hpp"
#include "util/error.hpp"

namespace tmpdump::archive::detail {

class Worker {
 public:
  explicit Worker(Shared& shared);

  /// Runs chunks until none is left or one fails (recorded in Shared).
  void run();

 private:
  enum class State { Skip, Header, Data, Frames, Done };

  Result<void> run_chunk(const Chunk& c);
  void set_skip();
  Result<void> consume(std::span<const std::byte> in);
  // One step of consume() each: they take what they need from `in` and
  // return false when it is used up before their state is done.
  Result<bool> skip_bytes(std::span<const std::byte>& in);
  Result<bool> read_header(std::span<const std::byte>& in);
  Result<bool> decode_data(std::span<const std::byte>& in);
  Result<bool> decode_frames(std::span<const std::byte>& in);

  [[nodiscard]] Error labelled(Error e) const;
  Result<void> on_header();
  Result<void> check_local_header(const Entry& e, const std::string& label);
  Result<void> start_entry(const Entry& e, std::string label);
  Result<void> finish_entry();
  Decoder* decoder_for(Method m);

  // Framed entries (extract_framed.cpp).
  [[nodiscard]] std::uint64_t slice_length(const Entry& e, std::uint32_t frame) const;
  Result<void> start_part(const Entry& e);
  void start_frame();
  Result<void> end_frame();
  Result<void> end_part();
  Result<void> finish_framed_file(FramedFile& file, const Entry& e, const std::string& label);

  Shared& shared_;
  std::vector<std::byte> buffer_;
  EntryOutput output_;
  PartOutput part_output_;
  std::uint32_t frame_ = 0;
  std::size_t error_order_ = 0;  // the chunk order an error of this worker is recorded at
  std::vector<std::unique_ptr<ByteSource>> sources_;
  std::unique_ptr<Decoder> stored_, inflater_, zstd_;
  Decoder* decoder_ = nullptr;

  const Chunk* chunk_ = nullptr;
  const CentralDirectory* dir_ = nullptr;
  ByteSource* source_ = nullptr;
  bool hashing_ = false;
  State state_ = State::Skip;
  std::uint64_t pos_ = 0, target_ = 0, remaining_ = 0;
  std::size_t k_ = 0;
  std::vector<std::byte> header_;
  std::size_t header_need_ = 0;
  std::string link_target_;
};

}  // namespace tmpdump::archive::detail
