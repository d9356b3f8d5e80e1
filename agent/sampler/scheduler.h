#pragma once
// Scheduler: the agent's one sampling thread, a Boost.Asio steady_timer with absolute deadlines.
//
// Deadlines lie on a fixed grid (first + k * period), so the schedule never drifts. Catch-up policy: late
// ticks are never replayed. When a tick (or the thread's wake-up) runs past one or more later deadlines, those
// deadlines are skipped, counted as missed, and the next tick runs at the next grid point still in the future.
// The thread blocks every signal (the host's handlers keep running on the host's threads) and is named
// "leakwatch".
//
// Thread-safety: Start() and Stop() must not race each other (the Agent serialises them); Stop() must not be
// called from the tick callback. The callback runs on the scheduler thread only.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "leakwatch/result.h"

namespace leakwatch::internal {

// The pure catch-up rule. Given the deadline that just fired and the time the tick finished, returns the next
// deadline (strictly after `now`, on the grid) and how many grid points were skipped.
struct NextDeadline {
  std::chrono::steady_clock::time_point deadline;
  uint64_t missed = 0;
};
NextDeadline ComputeNextDeadline(std::chrono::steady_clock::time_point fired,
                                 std::chrono::steady_clock::time_point now, std::chrono::nanoseconds period);

class Scheduler {
 public:
  // Receives the running count of missed ticks.
  using TickFn = std::function<void(uint64_t missed_ticks_total)>;

  Scheduler(std::chrono::nanoseconds period, TickFn tick);
  ~Scheduler();  // Stop()s
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the thread; the first tick runs at `first_deadline`. Fails when the thread cannot be created.
  Status Start(std::chrono::steady_clock::time_point first_deadline);
  // Cancels the timer and joins the thread. Idempotent. Waits for a tick in progress to finish.
  void Stop();

  uint64_t missed_ticks_total() const { return missed_.load(std::memory_order_relaxed); }

 private:
  struct Impl;
  std::chrono::nanoseconds period_;
  TickFn tick_;
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> missed_{0};
};

}  // namespace leakwatch::internal
