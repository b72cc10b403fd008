#include "util/error.hpp"

#include <cerrno>
#include <cstring>

namespace tmpdump {

Error with_context(Error e, std::string_view context) {
  // Layers each name the thing they work on; a message that already starts
  // with that name keeps it once.
  if (e.message.starts_with(context) && e.message.substr(context.size()).starts_with(": ")) return e;
  e.message = fmt::format("{}: {}", context, e.message);
  return e;
}

std::string_view error_type(Errc code) noexcept {
  switch (code) {
    case Errc::InvalidArgument:
      return "TmpDump.InvalidConfiguration";
    case Errc::NotFound:
      return "TmpDump.NotFound";
    case Errc::Forbidden:
      return "TmpDump.Forbidden";
    case Errc::Corrupt:
      return "TmpDump.Corrupt";
    case Errc::Unsafe:
      return "TmpDump.Unsafe";
    case Errc::ChecksumMismatch:
      return "TmpDump.ChecksumMismatch";
    case Errc::NoSpace:
      return "TmpDump.NoSpace";
    case Errc::Network:
      return "TmpDump.Network";
    case Errc::Io:
      return "TmpDump.Io";
    case Errc::Unsupported:
      return "TmpDump.Unsupported";
    case Errc::Conflict:
      return "TmpDump.Conflict";
  }
  return "TmpDump.Error";
}

// Codes are listed in order and without gaps, so the table reads as a list.
static_assert([] {
  int expected = 0;
  for (const auto& row : kExitCodes) {
    if (row.code != expected++) return false;
  }
  return true;
}());

int exit_code(Errc code) noexcept {
  for (const auto& row : kExitCodes) {
    if (row.kind == code) return row.code;
  }
  return 1;
}

std::string_view describe(Errc code) noexcept {
  switch (code) {
    case Errc::InvalidArgument:
      return "invalid argument";
    case Errc::NotFound:
      return "not found";
    case Errc::Forbidden:
      return "forbidden";
    case Errc::Corrupt:
      return "corrupt archive";
    case Errc::Unsafe:
      return "unsafe archive";
    case Errc::ChecksumMismatch:
      return "checksum mismatch";
    case Errc::NoSpace:
      return "no space";
    case Errc::Network:
      return "network error";
    case Errc::Io:
      return "i/o error";
    case Errc::Unsupported:
      return "unsupported";
    case Errc::Conflict:
      return "conflict";
  }
  return "error";
}

Errc errc_from_errno(int err) noexcept {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return Errc::NoSpace;
    case ENOENT:
    case ENOTDIR:
      return Errc::NotFound;
    case EACCES:
    case EPERM:
    case EROFS:
      return Errc::Forbidden;
    default:
      return Errc::Io;
  }
}

std::string errno_text(int err) {
  // strerrordesc_np (glibc 2.32) is the table strerror() reads, without its
  // static buffer; strerror() words an unknown value the same way.
  if (const char* desc = ::strerrordesc_np(err)) return desc;
  return fmt::format("Unknown error {}", err);
}

Error sys_error(int err, std::string_view what) {
  return Error{errc_from_errno(err), fmt::format("{}: {}", what, errno_text(err))};
}

}  // namespace tmpdump
