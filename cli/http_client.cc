#include "cli/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace leakwatch::cli {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Waits until `fd` is ready for `events`; false on timeout. Retries EINTR.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, RemainingMs(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Decodes a chunked body; nullopt while incomplete or malformed, with *malformed telling which.
std::optional<std::string> Dechunk(std::string_view in, bool* malformed) {
  *malformed = false;
  std::string out;
  for (;;) {
    const size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view size_line = in.substr(0, eol);
    if (const size_t semi = size_line.find(';'); semi != std::string_view::npos)
      size_line = size_line.substr(0, semi);
    size_line = Trim(size_line);
    size_t size = 0;
    if (size_line.empty() || size_line.size() > 15) {
      *malformed = true;
      return std::nullopt;
    }
    for (char c : size_line) {
      int d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else {
        *malformed = true;
        return std::nullopt;
      }
      size = size * 16 + static_cast<size_t>(d);
    }
    in.remove_prefix(eol + 2);
    if (size == 0) {
      // Trailers (ignored) end with an empty line.
      if (in.find("\r\n") == std::string_view::npos) return std::nullopt;
      return out;
    }
    if (in.size() < size + 2) return std::nullopt;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

// "host" or "[v6]" as it appears in a URL and in the Host header.
std::string UrlHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

struct Exchange {
  std::string what;  // "<method> <url>", the prefix of every error
  HttpFailure* failure;

  Error Fail(HttpFailure kind, const std::string& message) const {
    if (failure != nullptr) *failure = kind;
    return Error{what + ": " + message};
  }
  Error FailErrno(HttpFailure kind, const std::string& call, int err) const {
    return Fail(kind, call + ": " + std::strerror(err));
  }
};

// Connects to one of the host's addresses before the deadline; the connected socket or an error.
Result<int> Connect(const HttpRequestOptions& options, int port, Clock::time_point deadline,
                    const Exchange& x) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(options.host.c_str(), service.c_str(), &hints, &found);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    // AI_ADDRCONFIG hides loopback-only families on hosts without another interface: try without it.
    hints.ai_flags = AI_NUMERICSERV;
    rc = ::getaddrinfo(options.host.c_str(), service.c_str(), &hints, &found);
  }
  if (rc != 0) {
    return x.Fail(HttpFailure::kBadAddress, "cannot resolve host \"" + options.host + "\": " +
                                                (rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc)));
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  int last_errno = 0;
  bool only_refused = true;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      last_errno = errno;
      only_refused = false;
      continue;
    }
    int err = 0;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        if (!WaitFor(fd.get(), POLLOUT, deadline)) {
          return x.Fail(HttpFailure::kTimeout,
                        "connect timed out after " + std::to_string(options.timeout.count()) + " ms");
        }
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err == 0) return fd.release();
    last_errno = err;
    if (err != ECONNREFUSED) only_refused = false;
  }
  return x.FailErrno(only_refused ? HttpFailure::kRefused : HttpFailure::kConnect, "connect", last_errno);
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return std::nullopt;
}

std::string Base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(in[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string UrlEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : in) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' || u == '.' ||
        u == '_' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Result<HttpResponse> HttpRequest(int port, std::string_view path, const HttpRequestOptions& options,
                                 HttpFailure* failure) {
  if (failure != nullptr) *failure = HttpFailure::kNone;
  const std::string host_port = UrlHost(options.host) + ":" + std::to_string(port);
  const Exchange x{options.method + " http://" + host_port + std::string(path), failure};
  const auto deadline = Clock::now() + options.timeout;
  if (port < 1 || port > 65535 || options.host.empty())
    return x.Fail(HttpFailure::kBadAddress, "bad host or port");

  auto connected = Connect(options, port, deadline, x);
  if (!connected) return connected.error();
  Fd fd(*connected);

  std::string request = options.method + " " + std::string(path) + " HTTP/1.1\r\nHost: " + host_port +
                        "\r\nUser-Agent: leakwatch\r\nAccept: */*\r\nConnection: close\r\n";
  if (options.basic_auth) {
    request += "Authorization: Basic " +
               Base64Encode(options.basic_auth->user + ":" + options.basic_auth->password) + "\r\n";
  }
  for (const auto& [k, v] : options.extra_headers) request += k + ": " + v + "\r\n";
  if (!options.body.empty() || options.method == "POST" || options.method == "PUT") {
    request += "Content-Length: " + std::to_string(options.body.size()) + "\r\n";
  }
  request += "\r\n";
  request += options.body;

  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd.get(), POLLOUT, deadline)) {
        return x.Fail(HttpFailure::kTimeout,
                      "sending timed out after " + std::to_string(options.timeout.count()) + " ms");
      }
    } else {
      return x.FailErrno(HttpFailure::kIo, "send", errno);
    }
  }

  HttpResponse response;
  std::string raw;
  size_t header_end = std::string::npos;
  std::optional<size_t> content_length;
  bool chunked = false;
  bool eof = false;
  char buf[65536];
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = raw.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        // Status line and headers.
        std::string_view head(raw.data(), header_end);
        const size_t first_eol = head.find("\r\n");
        const std::string_view status_line = head.substr(0, first_eol);
        if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
          return x.Fail(HttpFailure::kProtocol,
                        "malformed status line \"" + std::string(status_line.substr(0, 100)) + "\"");
        }
        response.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
        response.reason = std::string(Trim(status_line.size() > 13 ? status_line.substr(13) : ""));
        std::string_view rest = first_eol == std::string_view::npos ? "" : head.substr(first_eol + 2);
        while (!rest.empty()) {
          const size_t eol = rest.find("\r\n");
          const std::string_view line = rest.substr(0, eol);
          rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
          const size_t colon = line.find(':');
          if (colon == std::string_view::npos) continue;
          response.headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                                        std::string(Trim(line.substr(colon + 1))));
        }
        if (auto te = response.header("Transfer-Encoding"); te && IEquals(Trim(*te), "chunked"))
          chunked = true;
        if (auto cl = response.header("Content-Length"); cl && !chunked) {
          content_length = static_cast<size_t>(std::strtoull(cl->c_str(), nullptr, 10));
        }
      }
    }
    if (header_end != std::string::npos) {
      const std::string_view body(raw.data() + header_end + 4, raw.size() - header_end - 4);
      if (chunked) {
        bool malformed = false;
        if (auto decoded = Dechunk(body, &malformed)) {
          response.body = std::move(*decoded);
          return response;
        }
        if (malformed) return x.Fail(HttpFailure::kProtocol, "malformed chunked body");
      } else if (content_length && body.size() >= *content_length) {
        response.body = std::string(body.substr(0, *content_length));
        return response;
      } else if (eof && !content_length) {
        response.body = std::string(body);
        return response;
      }
    }
    if (eof) {
      return x.Fail(HttpFailure::kProtocol, "connection closed before the response was complete (" +
                                                std::to_string(raw.size()) + " bytes received)");
    }
    if (!WaitFor(fd.get(), POLLIN, deadline)) {
      return x.Fail(HttpFailure::kTimeout, "timed out after " + std::to_string(options.timeout.count()) +
                                               " ms (" + std::to_string(raw.size()) + " bytes received)");
    }
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return x.FailErrno(HttpFailure::kIo, "recv", errno);
    }
  }
}

}  // namespace leakwatch::cli
