#pragma once
// Blocks every signal in the calling thread for the lifetime of the object, so that threads started meanwhile
// (the sampler, the HTTP server's threads) inherit a fully blocked mask: the host's signals are then always
// delivered to the host's own threads, never to the agent's.
//
// Thread-safety: affects the calling thread only. Cost: two pthread_sigmask calls.

#include <signal.h>

namespace leakwatch::internal {

class ScopedBlockAllSignals {
 public:
  ScopedBlockAllSignals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved_);
  }
  ~ScopedBlockAllSignals() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  ScopedBlockAllSignals(const ScopedBlockAllSignals&) = delete;
  ScopedBlockAllSignals& operator=(const ScopedBlockAllSignals&) = delete;

 private:
  sigset_t saved_;
};

}  // namespace leakwatch::internal
