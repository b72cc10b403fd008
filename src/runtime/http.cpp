#include "runtime/http.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <span>
#include <system_error>

// retry_eintr only, a header template: the installed client still links nothing beyond libstdc++.
#include "util/io.hpp"

namespace tmpdump::runtime::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits "a\r\nb\r\n..." into lines; returns false on a bare CR/LF mix we do not accept.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

bool parse_fields(std::span<const std::string_view> lines, Headers& out) {
  for (auto line : lines) {
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return false;
    }
    out.add(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<ResponseHead> parse_response_head(std::string_view text) {
  auto lines = lines_of(text);
  if (lines.empty()) return std::nullopt;
  std::string_view status_line = lines[0];
  if (!status_line.starts_with("HTTP/1.")) return std::nullopt;
  auto sp = status_line.find(' ');
  if (sp == std::string_view::npos || status_line.size() < sp + 4) return std::nullopt;
  ResponseHead head;
  auto digits = status_line.substr(sp + 1, 3);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), head.status);
  if (ec != std::errc() || p != digits.data() + 3 || head.status < 100) return std::nullopt;
  if (!parse_fields(std::span(lines).subspan(1), head.headers)) return std::nullopt;
  return head;
}

std::optional<RequestHead> parse_request_head(std::string_view text) {
  auto lines = lines_of(text);
  if (lines.empty()) return std::nullopt;
  std::string_view l = lines[0];
  auto sp1 = l.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return std::nullopt;
  auto sp2 = l.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return std::nullopt;
  if (!l.substr(sp2 + 1).starts_with("HTTP/1.")) return std::nullopt;
  RequestHead head;
  head.method = l.substr(0, sp1);
  head.target = l.substr(sp1 + 1, sp2 - sp1 - 1);
  if (head.target.front() != '/') return std::nullopt;
  if (!parse_fields(std::span(lines).subspan(1), head.headers)) return std::nullopt;
  return head;
}

std::optional<Framing> body_framing(const Headers& headers, std::size_t max_length) {
  Framing f;
  if (auto te = headers.get("Transfer-Encoding")) {
    if (!iequals(trim(*te), "chunked")) return std::nullopt;
    f.chunked = true;
    return f;
  }
  if (auto cl = headers.get("Content-Length")) {
    std::string_view v = trim(*cl);
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), f.length);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
    if (f.length > max_length) return std::nullopt;
  }
  return f;
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16 |
                   static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8 |
                   static_cast<unsigned char>(data[i + 2]);
    out += kB64[n >> 18 & 63];
    out += kB64[n >> 12 & 63];
    out += kB64[n >> 6 & 63];
    out += kB64[n & 63];
  }
  if (i < data.size()) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16;
    if (i + 1 < data.size()) n |= static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += kB64[n >> 18 & 63];
    out += kB64[n >> 12 & 63];
    out += i + 1 < data.size() ? kB64[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    unsigned n = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      unsigned v = 0;
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;
        auto at = kB64.find(c);
        if (at == std::string_view::npos) return std::nullopt;
        v = static_cast<unsigned>(at);
      }
      n = n << 6 | v;
    }
    out += static_cast<char>(n >> 16 & 0xff);
    if (pad < 2) out += static_cast<char>(n >> 8 & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[static_cast<unsigned char>(c) >> 4];
          out += kHex[static_cast<unsigned char>(c) & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

void Socket::close() {
  fd_.reset();
  buf_.clear();
  pos_ = 0;
}

Socket Socket::connect_to(const std::string& host, const std::string& port, std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    if (why != nullptr) *why = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return {};
  }
  Socket s;
  int error = 0;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    if (retry_eintr([&] { return ::connect(fd, ai->ai_addr, ai->ai_addrlen); }) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      s = Socket(fd);
      break;
    }
    error = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (!s.valid() && why != nullptr)
    *why = error != 0 ? std::generic_category().message(error) : "no address to connect to";
  return s;
}

bool Socket::peer_closed() {
  if (!fd_.valid()) return true;
  if (pos_ < buf_.size()) return false;
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if ((p.revents & (POLLERR | POLLHUP)) != 0) return true;
  char c;
  return ::recv(fd_.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

bool Socket::send_all(std::initializer_list<std::string_view> pieces) {
  std::array<iovec, 8> iov{};
  std::size_t n = 0;
  for (auto p : pieces) {
    if (p.empty()) continue;
    if (n == iov.size()) return false;
    iov[n++] = iovec{const_cast<char*>(p.data()), p.size()};
  }
  std::size_t first = 0;
  while (first < n) {
    msghdr msg{};
    msg.msg_iov = &iov[first];
    msg.msg_iovlen = n - first;
    const ssize_t sent = retry_eintr([&] { return ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL); });
    if (sent < 0) return false;
    auto left = static_cast<std::size_t>(sent);
    while (first < n && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < n) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

bool Socket::fill() {
  char tmp[65536];
  const ssize_t got = retry_eintr([&] { return ::recv(fd_.get(), tmp, sizeof tmp, 0); });
  if (got <= 0) return false;
  buf_.append(tmp, static_cast<std::size_t>(got));
  return true;
}

std::optional<std::string> Socket::read_head(std::size_t max_bytes, bool* idle) {
  if (idle != nullptr) *idle = false;
  if (!fd_.valid()) return std::nullopt;
  buf_.erase(0, pos_);
  pos_ = 0;
  std::size_t scanned = 0;
  for (;;) {
    auto end = buf_.find("\r\n\r\n", scanned > 3 ? scanned - 3 : 0);
    if (end != std::string::npos) {
      std::string head = buf_.substr(pos_, end - pos_);
      pos_ = end + 4;
      return head;
    }
    scanned = buf_.size();
    if (buf_.size() - pos_ > max_bytes) return std::nullopt;
    const bool empty = buf_.empty();
    if (!fill()) {
      if (idle != nullptr && empty) *idle = true;
      return std::nullopt;
    }
  }
}

std::optional<std::string> Socket::read_line(std::size_t max_bytes) {
  for (;;) {
    auto nl = buf_.find("\r\n", pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 2;
      return line;
    }
    if (buf_.size() - pos_ > max_bytes) return std::nullopt;
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    if (!fill()) return std::nullopt;
  }
}

bool Socket::read_body(const Framing& framing, std::size_t max_bytes, const std::function<bool(std::string_view)>& sink,
                       Headers* trailers) {
  auto take = [&](std::size_t n) {
    while (n > 0) {
      if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
        if (!fill()) return false;
      }
      const std::size_t part = std::min(n, buf_.size() - pos_);
      if (!sink(std::string_view(buf_).substr(pos_, part))) return false;
      pos_ += part;
      n -= part;
    }
    return true;
  };
  if (!framing.chunked) return framing.length <= max_bytes && take(framing.length);
  std::size_t total = 0;
  for (;;) {
    auto line = read_line(1024);
    if (!line) return false;
    std::string_view size_text = *line;
    if (auto semi = size_text.find(';'); semi != std::string_view::npos) size_text = size_text.substr(0, semi);
    size_text = trim(size_text);
    std::size_t size = 0;
    auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || p != size_text.data() + size_text.size() || size_text.empty()) return false;
    if (size == 0) break;
    if (size > max_bytes - total) return false;
    total += size;
    if (!take(size)) return false;
    auto crlf = read_line(0);
    if (!crlf || !crlf->empty()) return false;
  }
  std::size_t trailer_bytes = 0;
  for (;;) {
    auto line = read_line(64 << 10);
    if (!line) return false;
    if (line->empty()) return true;
    trailer_bytes += line->size();
    if (trailer_bytes > (64u << 10)) return false;
    Headers parsed;
    std::string_view lv = *line;
    if (!parse_fields(std::span(&lv, 1), parsed)) return false;
    if (trailers != nullptr) {
      for (auto& f : parsed.fields) trailers->fields.push_back(std::move(f));
    }
  }
}

}  // namespace tmpdump::runtime::http
