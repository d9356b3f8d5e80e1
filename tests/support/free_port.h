#pragma once
// A TCP port on 127.0.0.1 that was free a moment ago: bound with port 0, read back, closed. For programs a test
// starts that cannot listen on port 0 and report the port (a real Prometheus, redis), and for "connection
// refused" cases. Another process may take the port in between: callers that start a server on it retry.
//
// Thread-safety: reentrant. Returns 0 when no socket could be bound.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace leakwatch::test_support {

inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

}  // namespace leakwatch::test_support
