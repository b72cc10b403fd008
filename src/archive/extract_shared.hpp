// Internal to extract(): what the workers of one extract() call share — the
// plan, the first error, the hasher, the symlinks to create, the counters.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "archive/extract.hpp"
#include "archive/extract_framed.hpp"
#include "archive/extract_hash.hpp"
#include "archive/extract_links.hpp"
#include "archive/extract_plan.hpp"
#include "util/error.hpp"

namespace tmpdump::archive::detail {

struct Shared {
  explicit Shared(std::span<const ArchiveInput> a) : archives(a), hasher(a.size()) {}
  std::span<const ArchiveInput> archives;
  const ExtractOptions* options = nullptr;
  int dest_fd = -1;
  std::vector<Chunk> chunks;
  std::vector<std::unique_ptr<FramedFile>> framed;
  std::atomic<std::size_t> next_chunk{0};
  // Chunks ordered after this one are abandoned; those before it run to their
  // end, so a defect earlier in the archive is still found.
  std::atomic<std::size_t> cancel_after{std::numeric_limits<std::size_t>::max()};
  OrderedHasher hasher;

  std::mutex mutex;
  std::optional<Error> error;
  std::size_t error_order = 0;
  std::vector<PendingLink> links;

  std::atomic<std::uint64_t> files{0}, directories{0}, bytes_read{0}, bytes_written{0};

  [[nodiscard]] bool cancelled(std::size_t order) const { return order > cancel_after.load(); }

  /// Keeps the defect of the lowest chunk, whatever order the workers find
  /// them in: within a chunk bytes are decoded in order, and every chunk
  /// before a failed one still runs, so the error reported is always the one
  /// at the lowest archive offset (docs/pull.md, "Which error is reported").
  void record(Error e, std::size_t order) {
    {
      std::lock_guard lock(mutex);
      if (!error || order < error_order) {
        error = std::move(e);
        error_order = order;
      }
      std::size_t cur = cancel_after.load();
      while (order < cur && !cancel_after.compare_exchange_weak(cur, order)) {
      }
    }
    hasher.wake();
  }

  void count_read(std::uint64_t n) {
    bytes_read.fetch_add(n, std::memory_order_relaxed);
    if (auto* p = options->progress) p->bytes_read.fetch_add(n, std::memory_order_relaxed);
  }
  void count_written(std::uint64_t n) {
    bytes_written.fetch_add(n, std::memory_order_relaxed);
    if (auto* p = options->progress) p->bytes_written.fetch_add(n, std::memory_order_relaxed);
  }
  void count_entry_done() {
    if (auto* p = options->progress) p->entries_done.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace tmpdump::archive::detail
