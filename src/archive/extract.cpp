// extract()'s facade. The parts live one idea per file: extract_plan (which
// byte ranges each worker reads), extract_worker (the per-chunk state
// machine), extract_framed (zstd entries split across workers),
// extract_output (buffered writers), extract_hash (the archive's sha256 in
// order), extract_links (symlinks, created last) and extract_files (the
// destination tree on disk).
#include "archive/extract.hpp"

#include <algorithm>
#include <thread>
#include <unordered_map>
#include <utility>

#include "archive/bytes.hpp"
#include "archive/extract_files.hpp"
#include "archive/extract_links.hpp"
#include "archive/extract_shared.hpp"
#include "archive/extract_worker.hpp"
#include "util/sha256.hpp"

namespace tmpdump::archive {
namespace {

using detail::printable;

struct TreeNode {
  EntryType type = EntryType::File;
  std::size_t archive = 0;
  const Entry* entry = nullptr;
};

Result<void> check_inputs(std::span<const ArchiveInput> archives) {
  for (const auto& a : archives) {
    if (!a.source || !a.directory) return fail(Errc::InvalidArgument, "extract: archive without source or directory");
    if (a.expected_sha256 && !is_sha256_hex(*a.expected_sha256))
      return fail(Errc::InvalidArgument, "{}: expected sha256 \"{}\" is not 64 hex digits", a.source->describe(),
                  *a.expected_sha256);
  }
  return {};
}

// Runs the planned chunks on `jobs` workers; returns when all have stopped.
void run_workers(detail::Shared& shared, unsigned jobs) {
  std::vector<std::unique_ptr<detail::Worker>> workers;
  std::vector<std::jthread> threads;
  for (unsigned j = 0; j < jobs; ++j) workers.push_back(std::make_unique<detail::Worker>(shared));
  for (unsigned j = 0; j < jobs; ++j) threads.emplace_back([w = workers[j].get()] { w->run(); });
}

Result<void> check_digests(std::span<const ArchiveInput> archives, detail::OrderedHasher& hasher) {
  for (std::size_t a = 0; a < archives.size(); ++a) {
    if (!archives[a].expected_sha256) continue;
    std::string expected = *archives[a].expected_sha256;
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](char ch) { return static_cast<char>(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch); });
    const auto actual = hasher.digest(a);
    if (actual != expected)
      return fail(Errc::ChecksumMismatch, "{}: sha256 is {}, expected {}", archives[a].source->describe(), actual,
                  expected);
  }
  return {};
}

}  // namespace

Result<void> check_union(std::span<const ArchiveInput> archives) {
  std::unordered_map<std::string_view, TreeNode> tree;
  auto where = [&](std::size_t a, const Entry& e) {
    return fmt::format("entry \"{}\" of {}", printable(e.raw_name), archives[a].source->describe());
  };
  for (std::size_t a = 0; a < archives.size(); ++a) {
    for (const auto& e : archives[a].directory->entries) {
      auto [it, inserted] = tree.emplace(e.name, TreeNode{e.type, a, &e});
      if (inserted) continue;
      const auto& other = it->second;
      if (other.type == EntryType::Directory && e.type == EntryType::Directory) continue;
      return fail(Errc::Unsafe, "{} collides with {}: the same path twice", where(a, e),
                  where(other.archive, *other.entry));
    }
  }
  for (std::size_t a = 0; a < archives.size(); ++a) {
    for (const auto& e : archives[a].directory->entries) {
      for (std::size_t s = e.name.find('/'); s != std::string::npos; s = e.name.find('/', s + 1)) {
        auto it = tree.find(std::string_view(e.name).substr(0, s));
        if (it == tree.end() || it->second.type == EntryType::Directory) continue;
        return fail(Errc::Unsafe, "{} runs through {}, which is {}", where(a, e),
                    where(it->second.archive, *it->second.entry),
                    it->second.type == EntryType::Symlink ? "a symlink (would write through symlink)" : "a file");
      }
    }
  }
  return {};
}

Result<void> check_symlinks(std::span<const SymlinkTarget> links) {
  std::vector<detail::PendingLink> pending;
  pending.reserve(links.size());
  for (const auto& l : links) pending.push_back(detail::PendingLink{l.name, l.target, 0, l.label});
  return detail::check_links(pending);
}

Result<ExtractStats> extract(std::span<const ArchiveInput> archives, const std::filesystem::path& dest,
                             const ExtractOptions& options) {
  if (auto r = check_inputs(archives); !r) return std::unexpected(r.error());
  if (auto r = check_union(archives); !r) return std::unexpected(r.error());
  auto dest_fd = detail::open_empty_dest(dest);
  if (!dest_fd) return std::unexpected(dest_fd.error());

  detail::Shared shared(archives);
  shared.options = &options;
  shared.dest_fd = dest_fd->get();
  shared.chunks = detail::plan_chunks(archives, options.chunk_bytes, shared.framed);
  for (std::size_t a = 0; a < archives.size(); ++a)
    if (archives[a].expected_sha256) shared.hasher.enable(a);

  unsigned jobs = options.jobs != 0 ? options.jobs : std::max(2u, std::thread::hardware_concurrency());
  jobs = static_cast<unsigned>(std::clamp<std::size_t>(shared.chunks.size(), 1, jobs));
  run_workers(shared, jobs);
  if (shared.error) return std::unexpected(std::move(*shared.error));

  if (auto r = check_digests(archives, shared.hasher); !r) return std::unexpected(r.error());
  if (auto r = detail::create_links(dest_fd->get(), shared.links); !r) return std::unexpected(r.error());
  if (auto r = detail::finish_directories(dest_fd->get(), archives); !r) return std::unexpected(r.error());

  ExtractStats stats;
  stats.files = shared.files;
  stats.directories = shared.directories;
  stats.symlinks = shared.links.size();
  stats.bytes_read = shared.bytes_read;
  stats.bytes_written = shared.bytes_written;
  return stats;
}

}  // namespace tmpdump::archive
