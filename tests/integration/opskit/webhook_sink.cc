#include "tests/integration/opskit/webhook_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace leakwatch::integration {
namespace {

constexpr size_t kMaxRequestBytes = 4 << 20;
constexpr auto kConnectionDeadline = std::chrono::seconds(5);

// The Content-Length of a request whose header block is `head`, 0 when absent.
size_t ContentLength(const std::string& head) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    static constexpr char kName[] = "content-length:";
    if (::strncasecmp(head.c_str() + pos, kName, sizeof kName - 1) == 0) {
      return std::strtoull(head.c_str() + pos + sizeof kName - 1, nullptr, 10);
    }
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<WebhookSink>> WebhookSink::Start() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{std::string("webhook sink: socket: ") + std::strerror(errno)};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return Error{std::string("webhook sink: bind/listen on 127.0.0.1: ") + std::strerror(err)};
  }
  return std::unique_ptr<WebhookSink>(new WebhookSink(fd, ntohs(addr.sin_port)));
}

WebhookSink::WebhookSink(int fd, int port) : listen_fd_(fd), port_(port) {
  thread_ = std::thread([this] { Serve(); });
}

WebhookSink::~WebhookSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  thread_.join();
  ::close(listen_fd_);
}

std::vector<WebhookRequest> WebhookSink::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool WebhookSink::WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t seen = 0;
    {
      std::lock_guard lock(mu_);
      seen = requests_.size();
    }
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::unique_lock lock(mu_);
    changed_.wait_until(lock,
                        std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(200)),
                        [&] { return requests_.size() != seen; });
  }
}

void WebhookSink::Serve() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    HandleConnection(conn);
    ::close(conn);
  }
}

void WebhookSink::HandleConnection(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + kConnectionDeadline;
  std::string data;
  size_t header_end = std::string::npos;
  size_t total = 0;
  char buffer[16384];
  while (data.size() < kMaxRequestBytes) {
    if (header_end != std::string::npos && data.size() >= total) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    data.append(buffer, static_cast<size_t>(n));
    if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
      total = header_end + 4 + ContentLength(data.substr(0, header_end + 2));
    }
  }
  if (header_end == std::string::npos) return;
  WebhookRequest request;
  const size_t sp1 = data.find(' ');
  const size_t sp2 = data.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return;
  request.method = data.substr(0, sp1);
  request.path = data.substr(sp1 + 1, sp2 - sp1 - 1);
  request.body = data.substr(header_end + 4);
  request.received = std::chrono::steady_clock::now();
  static constexpr char kAnswer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)::send(fd, kAnswer, sizeof kAnswer - 1, MSG_NOSIGNAL);
  {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(request));
  }
  changed_.notify_all();
}

}  // namespace leakwatch::integration
