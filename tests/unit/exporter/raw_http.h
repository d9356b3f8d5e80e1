#pragma once
// Test helpers for what tests/support/http_client.h does not do: send an arbitrary request (any method, raw
// text) and read the raw response until the server closes (Gunzip comes from tests/support/gunzip.h).
//
// Thread-safety: reentrant. Cost: one connection per call; reads until EOF or the timeout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/gunzip.h"

namespace leakwatch::exporters::testdata {

struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // everything after the header block, as received (not de-chunked)

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
    }
    return std::nullopt;
  }
};

// Sends `request` verbatim to 127.0.0.1:port and parses what comes back until the server closes the
// connection (send "Connection: close"). Throws on socket errors, a timeout or an unparsable response.
inline RawResponse RawHttpExchange(int port, const std::string& request, int timeout_ms = 5000) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect failed");
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    throw std::runtime_error("send failed");
  }
  std::string raw;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0)
      throw std::runtime_error("recv failed or timed out after " + std::to_string(raw.size()) + " bytes");
    raw.append(buf, static_cast<size_t>(n));
  }
  const size_t end = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos) {
    throw std::runtime_error("not an HTTP/1.1 response: " + raw.substr(0, 200));
  }
  RawResponse r;
  r.status = std::stoi(raw.substr(9, 3));
  size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    const size_t eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      r.headers.emplace_back(line.substr(0, colon), line.substr(v));
    }
    pos = eol + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

// "<METHOD> <target> HTTP/1.1" with Host and Connection: close, plus `extra` header lines ("Name:
// value\r\n").
inline std::string RequestText(const std::string& method, const std::string& target,
                               const std::string& extra = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra + "\r\n";
}

using test_support::Gunzip;  // tests/support/gunzip.h

}  // namespace leakwatch::exporters::testdata
