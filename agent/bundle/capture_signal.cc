#include "agent/bundle/capture_signal.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace leakwatch::internal {
namespace {

std::atomic<bool> g_requested{false};
std::atomic<bool> g_installed{false};
struct sigaction g_previous {};

void OnCaptureSignal(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  g_requested.store(true, std::memory_order_relaxed);
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
             g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
  }
  errno = saved_errno;
}

}  // namespace

static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

CaptureSignal::~CaptureSignal() { Uninstall(); }

Status CaptureSignal::Install(int signal) {
  if (signal <= 0 || signal >= NSIG || signal == SIGKILL || signal == SIGSTOP) {
    return Error{"capture signal " + std::to_string(signal) + " cannot be caught"};
  }
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) {
    return Error{"capture signal: another leakwatch agent in this process already handles one"};
  }
  struct sigaction ours {};
  ours.sa_sigaction = &OnCaptureSignal;
  ours.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&ours.sa_mask);
  if (::sigaction(signal, &ours, &g_previous) != 0) {
    const std::string why = std::strerror(errno);
    g_installed.store(false);
    return Error{"capture signal " + std::to_string(signal) + ": sigaction: " + why};
  }
  signal_ = signal;
  return OkStatus();
}

void CaptureSignal::Uninstall() {
  if (signal_ == 0) return;
  struct sigaction current {};
  if (::sigaction(signal_, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
      current.sa_sigaction == &OnCaptureSignal) {
    ::sigaction(signal_, &g_previous, nullptr);
  }
  signal_ = 0;
  g_installed.store(false);
}

bool CaptureSignal::Take() { return g_requested.exchange(false, std::memory_order_relaxed); }

}  // namespace leakwatch::internal
