#pragma once
// BundleService: the agent's bundle worker. Requests (from rule actions, Agent::capture) never block the
// caller: they are checked against the global limit (BundleOptions::max_per_window per window), queued (at
// most 4 waiting), and written one at a time on the worker thread ("leakwatch-bndl", every signal blocked)
// with a deadline. Before writing, the free-disk guard; after, retention. 8 fds are held in reserve and
// released for the bundle, so a process at its fd limit still gets one. Every outcome is counted
// (BundleStats) and logged as a structured event: bundle_written, bundle_failed, bundle_suppressed (at most
// once a minute per reason).
//
// Egress (BundleOptions::egress_command): after a bundle completes, its path is queued for the egress thread
// ("leakwatch-egrs", at most 4 waiting; more are dropped and counted), which runs the command
// (egress_command.h) and logs a `bundle_egress` event with its result and (bounded) output. A slow or hanging
// command never delays the next bundle; Stop() cancels a running one (SIGTERM, SIGKILL 0.5 s later).
//
// Thread-safety: Request(), RequestAndWait() and stats() from any thread. Start()/Stop() from one thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/bundle/bundle_writer.h"
#include "leakwatch/bundles.h"

namespace leakwatch::internal {

class BundleService {
 public:
  // Called on the worker for each bundle: the latest snapshot, the history, the cgroup location.
  using InputsFn = std::function<BundleInputs()>;
  using Clock = std::chrono::steady_clock;

  BundleService(BundleOptions options, BundleWriterOptions writer, InputsFn inputs);
  ~BundleService();  // Stop()
  BundleService(const BundleService&) = delete;
  BundleService& operator=(const BundleService&) = delete;

  Status Start();
  // Finishes the bundle in progress (its deadline bounds the wait), drops the queued ones. Idempotent.
  void Stop();

  // Queued, or suppressed with a reason ("rate_limit", "queue_full", "stopping"). Never blocks on I/O.
  enum class Outcome { kQueued, kSuppressed };
  struct RequestResult {
    Outcome outcome = Outcome::kQueued;
    std::string reason;
  };
  RequestResult Request(BundleTrigger trigger);
  // Queues like Request(); when queued, `done` becomes ready with the bundle or why there is none (failed, or
  // suppressed by the free-disk guard: the error then starts with "bundle suppressed:").
  struct Ticket {
    RequestResult request;
    std::future<Result<BundleResult>> done;  // valid only when request.outcome == kQueued
  };
  Ticket Submit(BundleTrigger trigger);
  // Queues and waits up to `wait` for the bundle; an Error says why there is none (suppressed, failed,
  // still being written).
  Result<BundleResult> RequestAndWait(BundleTrigger trigger, std::chrono::milliseconds wait);

  BundleStats stats() const;

 private:
  struct Job {
    BundleTrigger trigger;
    std::shared_ptr<std::promise<Result<BundleResult>>> done;  // may be null
  };
  RequestResult Enqueue(Job job);
  uint64_t CountSuppressed(const std::string& reason);
  void Run();
  Result<BundleResult> Write(const BundleTrigger& trigger);
  void QueueEgress(const std::string& bundle_path);
  void RunEgress();

  const BundleOptions options_;
  const BundleWriterOptions writer_;
  const InputsFn inputs_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::deque<Clock::time_point> accepted_;  // within options_.window
  bool running_ = false;
  bool stopping_ = false;
  BundleStats stats_;
  std::map<std::string, Clock::time_point> last_suppressed_log_;
  // File descriptors held in reserve (/dev/null) and released while a bundle is written: a process that
  // leaked fds up to its limit could otherwise not open a single bundle file (EMFILE). Opened by Start(),
  // then used by the worker thread only.
  std::vector<int> reserve_fds_;
  std::thread worker_;
  // Egress: paths of completed bundles waiting for the command (under mu_), and its thread.
  std::deque<std::string> egress_queue_;
  std::condition_variable egress_wake_;
  std::atomic<bool> egress_cancel_{false};
  std::thread egress_worker_;
};

}  // namespace leakwatch::internal
