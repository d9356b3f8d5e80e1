#pragma once
// CaptureSignal: an opt-in signal (e.g. SIGUSR2) that asks the agent for an incident bundle.
//
// The handler does one async-signal-safe thing: it sets an atomic flag, which the sampler thread takes on its
// next tick (so a bundle starts within one period). Then it chains to the handler that was installed before
// (a function handler, with or without SA_SIGINFO); a previous SIG_DFL or SIG_IGN is not chained (SIGUSR2's
// default action would kill the process). Uninstall() puts the previous handler back when ours is still the
// one installed.
//
// Thread-safety: Install()/Uninstall() from one thread (the agent's start/stop); Take() from the sampler
// thread. One CaptureSignal may be installed per process at a time.

#include <atomic>

#include "leakwatch/result.h"

namespace leakwatch::internal {

class CaptureSignal {
 public:
  CaptureSignal() = default;
  ~CaptureSignal();  // Uninstall()
  CaptureSignal(const CaptureSignal&) = delete;
  CaptureSignal& operator=(const CaptureSignal&) = delete;

  // Fails when `signal` is not a catchable signal, or when another CaptureSignal is installed.
  Status Install(int signal);
  void Uninstall();

  // True once per delivery (or per batch of deliveries) since the last call.
  static bool Take();

 private:
  int signal_ = 0;
};

}  // namespace leakwatch::internal
