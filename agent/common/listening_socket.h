#pragma once
// The listening TCP sockets of this process, found by port: the agent's HTTP server does not hand out its
// socket's fd, yet two things need it. A forked child must close its inherited copy (else the port stays
// bound after the parent's agent stops, and connections queue on a socket nobody accepts), and stopping the
// server is fast when the socket is shut down first (civetweb's acceptor otherwise sleeps in poll() for up to
// 2 s before it sees the stop flag).
//
// Thread-safety: every function is reentrant. IsListeningOn() and ShutDownListening() make only
// async-signal-safe system calls (getsockname, getsockopt, shutdown, close), so a pthread_atfork child
// handler may call them. Cost: FindListeningSockets reads the fd directory once (one getsockname per socket
// fd).

#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::internal {

// The fds of this process that are TCP sockets listening on `port` (IPv4 or IPv6). `proc_self` is normally
// "/proc/self": the sockets' inodes come from its net/tcp and net/tcp6, the fds from readlink() on its fd/
// entries ("socket:[inode]"). No system call touches the fds themselves, so fds that other threads open and
// close meanwhile (the host's, or civetweb's) are never used.
std::vector<int> FindListeningSockets(const std::string& proc_self, int port);

// The inodes of the sockets in LISTEN state on `port` in the text of /proc/net/tcp or /proc/net/tcp6 (pure).
std::vector<unsigned long> ListeningSocketInodes(std::string_view proc_net_tcp, int port);

// True when `fd` is a TCP socket listening on `port`: a re-check before acting on a remembered fd, which the
// host may have closed and reused for something else.
bool IsListeningOn(int fd, int port);

// shutdown(SHUT_RDWR) on `fd` when it is still a socket listening on `port`: wakes a thread blocked in poll()
// or accept() on it. Returns whether it did.
bool ShutDownListening(int fd, int port);

// close(fd) when it is still a socket listening on `port`. Returns whether it did.
bool CloseListening(int fd, int port);

}  // namespace leakwatch::internal
