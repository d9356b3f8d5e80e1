#include "agent/bundle/bundle_service.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <filesystem>

#include "agent/bundle/bundle_store.h"
#include "agent/bundle/egress_command.h"
#include "agent/common/block_signals.h"
#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

constexpr size_t kMaxQueued = 4;
constexpr size_t kReserveFds = 8;
constexpr size_t kEgressOutputBytes = 8 * 1024;  // of the egress command's output, logged with its result

void OpenReserve(std::vector<int>* fds) {
  while (fds->size() < kReserveFds) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // the process is at its limit already: the next bundle gets what is free
    fds->push_back(fd);
  }
}

void CloseReserve(std::vector<int>* fds) {
  for (const int fd : *fds) ::close(fd);
  fds->clear();
}

}  // namespace

BundleService::BundleService(BundleOptions options, BundleWriterOptions writer, InputsFn inputs)
    : options_(std::move(options)), writer_(std::move(writer)), inputs_(std::move(inputs)) {
  stats_.egress_configured = !options_.egress_command.empty();
}

BundleService::~BundleService() { Stop(); }

Status BundleService::Start() {
  std::lock_guard lock(mu_);
  if (running_) return OkStatus();
  try {
    ScopedBlockAllSignals block;  // the worker inherits the blocked mask
    stopping_ = false;
    reserve_fds_.reserve(kReserveFds);  // the worker only pushes within this capacity
    OpenReserve(&reserve_fds_);         // taken now, so the reserve exists once Start() returns
    worker_ = std::thread([this] { Run(); });
    if (!options_.egress_command.empty()) {
      egress_cancel_ = false;
      egress_worker_ = std::thread([this] { RunEgress(); });
      pthread_setname_np(egress_worker_.native_handle(), "leakwatch-egrs");
    }
  } catch (const std::exception& e) {
    return Error{std::string("cannot start the bundle worker: ") + e.what()};
  }
  pthread_setname_np(worker_.native_handle(), "leakwatch-bndl");
  running_ = true;
  return OkStatus();
}

void BundleService::Stop() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
    dropped.swap(queue_);
    egress_queue_.clear();
  }
  egress_cancel_ = true;
  wake_.notify_all();
  egress_wake_.notify_all();
  for (auto& job : dropped) {
    if (job.done) job.done->set_value(Error{"the agent stopped before the bundle was written"});
  }
  if (worker_.joinable()) worker_.join();
  if (egress_worker_.joinable()) egress_worker_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

// mu_ held. Returns the count to log, or 0 when this reason was logged less than a minute ago: the caller
// logs after releasing mu_ (a slow log sink must not hold up stats() on a scrape).
uint64_t BundleService::CountSuppressed(const std::string& reason) {
  const uint64_t total = ++stats_.suppressed_total[reason];
  const auto now = Clock::now();
  auto& last = last_suppressed_log_[reason];
  if (last.time_since_epoch().count() != 0 && now - last < std::chrono::minutes(1)) return 0;
  last = now;
  return total;
}

static void LogSuppressed(const std::string& reason, uint64_t total) {
  if (total == 0) return;
  LogEvent(spdlog::level::warn, "bundle_suppressed",
           {{"reason", std::string_view(reason)}, {"suppressed_total", static_cast<int64_t>(total)}});
}

BundleService::RequestResult BundleService::Enqueue(Job job) {
  RequestResult result;
  uint64_t to_log = 0;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    while (!accepted_.empty() && now - accepted_.front() >= options_.window) accepted_.pop_front();
    if (!running_ || stopping_) {
      result = {Outcome::kSuppressed, "stopping"};
    } else if (accepted_.size() >= options_.max_per_window) {
      result = {Outcome::kSuppressed, "rate_limit"};
    } else if (queue_.size() >= kMaxQueued) {
      result = {Outcome::kSuppressed, "queue_full"};
    } else {
      accepted_.push_back(now);
      queue_.push_back(std::move(job));
    }
    if (result.outcome == Outcome::kSuppressed) to_log = CountSuppressed(result.reason);
  }
  if (result.outcome == Outcome::kQueued) wake_.notify_one();
  LogSuppressed(result.reason, to_log);
  return result;
}

BundleService::RequestResult BundleService::Request(BundleTrigger trigger) {
  return Enqueue(Job{std::move(trigger), nullptr});
}

BundleService::Ticket BundleService::Submit(BundleTrigger trigger) {
  auto done = std::make_shared<std::promise<Result<BundleResult>>>();
  Ticket ticket;
  ticket.done = done->get_future();
  ticket.request = Enqueue(Job{std::move(trigger), std::move(done)});
  if (ticket.request.outcome == Outcome::kSuppressed) ticket.done = {};
  return ticket;
}

Result<BundleResult> BundleService::RequestAndWait(BundleTrigger trigger, std::chrono::milliseconds wait) {
  Ticket ticket = Submit(std::move(trigger));
  if (ticket.request.outcome == Outcome::kSuppressed)
    return Error{"bundle suppressed: " + ticket.request.reason};
  if (ticket.done.wait_for(wait) != std::future_status::ready) {
    return Error{"the bundle is still being written after " + std::to_string(wait.count()) + " ms"};
  }
  return ticket.done.get();
}

BundleStats BundleService::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void BundleService::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        CloseReserve(&reserve_fds_);
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Result<BundleResult> result = Error{"not written"};
    CloseReserve(&reserve_fds_);
    try {
      result = Write(job.trigger);
    } catch (const std::exception& e) {
      result = Error{std::string("bundle failed: ") + e.what()};
    } catch (...) {
      result = Error{"bundle failed: an unknown exception"};
    }
    OpenReserve(&reserve_fds_);
    if (job.done) job.done->set_value(result);
  }
}

Result<BundleResult> BundleService::Write(const BundleTrigger& trigger) {
  if (options_.min_free_disk_bytes > 0) {
    std::error_code ec;
    std::filesystem::create_directories(options_.dir, ec);
    const auto free = FreeDiskBytes(options_.dir);
    if (free && *free < options_.min_free_disk_bytes) {
      uint64_t to_log = 0;
      {
        std::lock_guard lock(mu_);
        to_log = CountSuppressed("min_free_disk");
      }
      LogSuppressed("min_free_disk", to_log);
      return Error{"bundle suppressed: " + std::to_string(*free >> 20) + " MiB free in " + options_.dir +
                   ", below min_free_disk_bytes (" + std::to_string(options_.min_free_disk_bytes >> 20) +
                   " MiB)"};
    }
  }
  const auto deadline = Clock::now() + options_.deadline;
  auto written = WriteBundle(writer_, trigger, inputs_(), deadline);
  if (!written) {
    {
      std::lock_guard lock(mu_);
      ++stats_.failed_total;
      stats_.last_error = written.error().message;
    }
    LogEvent(
        spdlog::level::err, "bundle_failed",
        {{"source", std::string_view(trigger.source)}, {"error", std::string_view(written.error().message)}});
    return written;
  }
  auto retention = ApplyRetention(options_.dir, options_.max_bundles, options_.max_bytes, written->name);
  if (!retention) Log()->error("bundles: retention failed: {}", retention.error().message);
  {
    std::lock_guard lock(mu_);
    ++stats_.written_total;
    stats_.last_written = std::chrono::system_clock::now();
    stats_.last_duration = written->duration;
    stats_.last_path = written->path;
    if (retention) {
      stats_.bytes_on_disk = retention->bytes_kept;
      stats_.bundles_on_disk = retention->bundles_kept;
    }
  }
  LogEvent(spdlog::level::warn, "bundle_written",
           {{"path", std::string_view(written->path)},
            {"source", std::string_view(trigger.source)},
            {"bytes", static_cast<int64_t>(written->bytes)},
            {"files", static_cast<int64_t>(written->files.size())},
            {"skipped", static_cast<int64_t>(written->skipped.size())},
            {"duration_seconds", std::chrono::duration<double>(written->duration).count()},
            {"deleted_old", static_cast<int64_t>(retention ? retention->deleted.size() : 0)}});
  if (!options_.egress_command.empty()) QueueEgress(written->path);
  return written;
}

void BundleService::QueueEgress(const std::string& bundle_path) {
  bool dropped = false;
  {
    std::lock_guard lock(mu_);
    if (egress_queue_.size() >= kMaxQueued) {
      ++stats_.egress_total["dropped"];
      dropped = true;
    } else {
      egress_queue_.push_back(bundle_path);
    }
  }
  if (dropped) {
    LogEvent(spdlog::level::err, "bundle_egress",
             {{"result", std::string_view("dropped")},
              {"path", std::string_view(bundle_path)},
              {"why", std::string_view("4 bundles are already waiting for the egress command")}});
    return;
  }
  egress_wake_.notify_one();
}

void BundleService::RunEgress() {
  EgressCommand command;
  command.argv = options_.egress_command;
  command.timeout = options_.egress_timeout;
  command.max_output_bytes = kEgressOutputBytes;
  command.cancel = &egress_cancel_;
  for (;;) {
    std::string path;
    {
      std::unique_lock lock(mu_);
      egress_wake_.wait(lock, [this] { return stopping_ || !egress_queue_.empty(); });
      if (stopping_) return;
      path = std::move(egress_queue_.front());
      egress_queue_.pop_front();
    }
    const EgressResult r = RunEgressCommand(command, path);
    const char* result = r.ok() ? "success" : r.timed_out ? "timeout" : r.cancelled ? "cancelled" : "failure";
    {
      std::lock_guard lock(mu_);
      ++stats_.egress_total[result];
    }
    const std::string description = DescribeEgressResult(command, r);
    LogEvent(r.ok() ? spdlog::level::info : spdlog::level::err, "bundle_egress",
             {{"result", std::string_view(result)},
              {"path", std::string_view(path)},
              {"description", std::string_view(description)},
              {"duration_seconds", std::chrono::duration<double>(r.duration).count()},
              {"output", std::string_view(r.output)}});
  }
}

}  // namespace leakwatch::internal
