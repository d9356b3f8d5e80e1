#include "agent/attach/fork_handlers.h"

#include <pthread.h>

#include <array>
#include <atomic>
#include <mutex>

#include "agent/common/listening_socket.h"
#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

struct TrackedSocket {
  std::atomic<int> fd{-1};
  std::atomic<int> port{0};
};
std::array<TrackedSocket, 16> g_sockets;
std::atomic<void (*)()> g_child_hook{nullptr};
constexpr int kReserved = -2;  // a slot being filled

void Prepare() { ForkPrepareLogging(); }

void Parent() { ForkParentLogging(); }

void Child() {
  ForkChildLogging();
  for (auto& s : g_sockets) {
    const int fd = s.fd.exchange(-1);
    if (fd >= 0) CloseListening(fd, s.port.load());
  }
  if (auto hook = g_child_hook.load()) hook();
}

}  // namespace

void InstallForkHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const int rc = pthread_atfork(&Prepare, &Parent, &Child); rc != 0) {
      Log()->error("leakwatch: pthread_atfork failed (error {}); forked children keep the agent's socket",
                   rc);
    }
  });
}

void TrackListeningSocket(int fd, int port) {
  for (auto& s : g_sockets) {
    int expected = -1;
    if (!s.fd.compare_exchange_strong(expected, kReserved)) continue;
    s.port.store(port);
    s.fd.store(fd);
    return;
  }
  static std::once_flag once;
  std::call_once(
      once, [] { Log()->warn("leakwatch: more than 16 agents' sockets to close on fork; not tracked"); });
}

void UntrackListeningSocket(int fd) {
  for (auto& s : g_sockets) {
    int expected = fd;
    if (s.fd.compare_exchange_strong(expected, -1)) return;
  }
}

void SetChildForkHook(void (*hook)()) { g_child_hook.store(hook); }

}  // namespace leakwatch::internal
