#include "archive/extract_hash.hpp"

namespace tmpdump::archive::detail {
namespace {

// Buffered out-of-order bytes waiting to be hashed (only with expected_sha256).
constexpr std::uint64_t kHashWindow = 16ull << 20;

}  // namespace

Result<void> OrderedHasher::add(const Chunk& c, std::span<const std::byte> bytes,
                                const std::atomic<std::size_t>& cancel_after) {
  auto& st = states_[c.archive];
  std::unique_lock lock(mutex_);
  const auto cancelled = [&] { return c.order > cancel_after.load(); };
  while (st.next != c.index && window_ + bytes.size() > kHashWindow && window_ > 0 && !cancelled()) cv_.wait(lock);
  if (cancelled()) return fail(Errc::Io, "cancelled");
  if (st.next != c.index) {
    auto& p = st.pending[c.index];
    p.pieces.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    window_ += bytes.size();
    return {};
  }
  // The owner of the head chunk is the only one touching the digest until it finishes.
  auto pieces = take(st, c.index);
  lock.unlock();
  for (const auto& piece : pieces) st.sha.update(std::as_bytes(std::span(piece.data(), piece.size())));
  st.sha.update(bytes);
  return {};
}

void OrderedHasher::finish(const Chunk& c) {
  auto& st = states_[c.archive];
  std::unique_lock lock(mutex_);
  if (st.next != c.index) {
    st.pending[c.index].complete = true;
    return;
  }
  for (std::size_t cur = c.index;;) {
    auto pieces = take(st, cur);
    lock.unlock();
    for (const auto& piece : pieces) st.sha.update(std::as_bytes(std::span(piece.data(), piece.size())));
    lock.lock();
    st.next = ++cur;
    cv_.notify_all();
    auto it = st.pending.find(cur);
    if (it == st.pending.end() || !it->second.complete) break;
  }
}

void OrderedHasher::wake() {
  { std::lock_guard lock(mutex_); }
  cv_.notify_all();
}

std::vector<std::string> OrderedHasher::take(State& st, std::size_t index) {
  std::vector<std::string> pieces;
  if (auto it = st.pending.find(index); it != st.pending.end()) {
    pieces = std::move(it->second.pieces);
    for (const auto& p : pieces) window_ -= p.size();
    st.pending.erase(it);
    cv_.notify_all();
  }
  return pieces;
}

}  // namespace tmpdump::archive::detail
