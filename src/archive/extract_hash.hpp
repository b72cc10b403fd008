// Internal to extract(): the sha256 of each whole archive, computed while its
// chunks are decoded out of order by several workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "archive/extract_plan.hpp"
#include "util/error.hpp"
#include "util/sha256.hpp"

namespace tmpdump::archive::detail {

/// Hashes each archive's chunks in order while they are decoded out of order,
/// buffering at most a bounded window of bytes of chunks that are ahead of
/// their turn.
class OrderedHasher {
 public:
  explicit OrderedHasher(std::size_t archives) : states_(archives) {}

  void enable(std::size_t archive) { states_[archive].enabled = true; }
  [[nodiscard]] bool enabled(std::size_t archive) const { return states_[archive].enabled; }

  /// Hashes (or buffers) the next bytes of chunk `c`; waits while the window
  /// is full. `cancel_after`: chunks after it are cancelled (see Shared::record).
  [[nodiscard]] Result<void> add(const Chunk& c, std::span<const std::byte> bytes,
                                 const std::atomic<std::size_t>& cancel_after);

  /// Marks chunk `c` complete; the head chunk's owner hashes every buffered
  /// complete chunk that follows it.
  void finish(const Chunk& c);

  /// Wakes waiters so they see a cancellation. Under the mutex, so a waiter
  /// between its check and its wait cannot miss it.
  void wake();

  [[nodiscard]] std::string digest(std::size_t archive) { return states_[archive].sha.hex_digest(); }
  [[nodiscard]] std::size_t hashed_chunks(std::size_t archive) const { return states_[archive].next; }

 private:
  struct Pending {
    std::vector<std::string> pieces;
    bool complete = false;
  };
  struct State {
    bool enabled = false;
    std::size_t next = 0;
    std::map<std::size_t, Pending> pending;
    Sha256 sha;
  };
  // Caller holds mutex_.
  std::vector<std::string> take(State& st, std::size_t index);

  std::vector<State> states_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t window_ = 0;
};

}  // namespace tmpdump::archive::detail
