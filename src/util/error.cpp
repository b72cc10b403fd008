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
    case Errc::InvalidArgument: return "TmpDump.InvalidConfiguration";
    case Errc::NotFound: return "TmpDump.NotFound";
    case Errc::Forbidden: return "TmpDump.Forbidden";
    case Errc::Corrupt: return "TmpDump.Corrupt";
    case Errc::Unsafe: return "TmpDump.Unsafe";
    case Errc::ChecksumMismatch: return "TmpDump.ChecksumMismatch";
    case Errc::NoSpace: return "TmpDump.NoSpace";
    case Errc::Network: return "TmpDump.Network";
    case Errc::Io: return "TmpDump.Io";
    case Errc::Unsupported: return "TmpDump.Unsupported";
    case Errc::Conflict: return "TmpDump.Conflict";
  }
  return "TmpDump.Error";
}

// Exit codes: 0 success, 1 unexpected, 2 usage; then one per kind.
int exit_code(Errc code) noexcept {
  switch (code) {
    case Errc::InvalidArgument: return 2;
    case Errc::NotFound: return 3;
    case Errc::Forbidden: return 4;
    case Errc::Corrupt: return 5;
    case Errc::Unsafe: return 6;
    case Errc::ChecksumMismatch: return 7;
    case Errc::NoSpace: return 8;
    case Errc::Network: return 9;
    case Errc::Io: return 10;
    case Errc::Unsupported: return 11;
    case Errc::Conflict: return 12;
  }
  return 1;
}

std::string_view describe(Errc code) noexcept {
  switch (code) {
    case Errc::InvalidArgument: return "invalid argument";
    case Errc::NotFound: return "not found";
    case Errc::Forbidden: return "forbidden";
    case Errc::Corrupt: return "corrupt archive";
    case Errc::Unsafe: return "unsafe archive";
    case Errc::ChecksumMismatch: return "checksum mismatch";
    case Errc::NoSpace: return "no space";
    case Errc::Network: return "network error";
    case Errc::Io: return "i/o error";
    case Errc::Unsupported: return "unsupported";
    case Errc::Conflict: return "conflict";
  }
  return "error";
}

Errc errc_from_errno(int err) noexcept {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return Errc::NoSpace;
    case ENOENT:
    case ENOTDIR: return Errc::NotFound;
    case EACCES:
    case EPERM:
    case EROFS: return Errc::Forbidden;
    default: return Errc::Io;
  }
}

Error sys_error(int err, std::string_view what) {
  return Error{errc_from_errno(err), fmt::format("{}: {}", what, std::strerror(err))};
}

}  // namespace tmpdump
