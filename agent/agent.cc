// The Agent facade: wires the readers, the sampler, the history and the Prometheus exporter together.
#include "leakwatch/agent.h"

#include <mutex>

#include "agent/allocator/allocator_reader.h"
#include "agent/allocator/detect.h"
#include "agent/cgroup/cgroup_reader.h"
#include "agent/common/block_signals.h"
#include "agent/common/clock.h"
#include "agent/config/config.h"
#include "agent/logging/log.h"
#include "agent/procfs/fd_type_reader.h"
#include "agent/procfs/process_reader.h"
#include "agent/procfs/smaps_rollup_reader.h"
#include "agent/sampler/scheduler.h"
#include "agent/sampler/tick_collector.h"
#include "exporters/prometheus/prometheus_exporter.h"
#include "exporters/prometheus/web_config.h"
#include "leakwatch/history.h"
#include "leakwatch/version.h"

namespace leakwatch {
namespace {

using internal::Log;

class AgentImpl final : public Agent {
 public:
  AgentImpl(AgentOptions options, std::unique_ptr<History> history)
      : options_(std::move(options)), history_(std::move(history)) {}
  ~AgentImpl() override { stop(); }

  Result<StartInfo> start() override {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (running_) return Error{"leakwatch agent is already running"};
    try {
      return StartLocked();
    } catch (const std::exception& e) {
      StopLocked();
      return Error{std::string("leakwatch agent failed to start: ") + e.what()};
    }
  }

  void stop() override {
    std::lock_guard lifecycle(lifecycle_mu_);
    StopLocked();
  }

  std::shared_ptr<const Snapshot> latest_snapshot() const override {
    std::lock_guard lock(snapshot_mu_);
    return latest_;
  }

  const History& history() const override { return *history_; }
  const AgentOptions& options() const override { return options_; }

 private:
  Result<StartInfo> StartLocked() {
    const auto& clock = internal::SystemClock::Instance();
    std::vector<std::unique_ptr<internal::SourceReader>> readers;
    readers.push_back(std::make_unique<internal::ProcessReader>(
        internal::ProcessReaderOptions{.proc_root = options_.proc_root, .pid = options_.pid}));
    internal::CgroupReaderOptions cgroup_options;
    cgroup_options.roots = internal::CgroupRoots{
        .proc_root = options_.proc_root, .pid = options_.pid, .mount_prefix = options_.cgroup_mount_prefix};
    readers.push_back(std::make_unique<internal::CgroupReader>(std::move(cgroup_options)));
    const auto ticks_per = [&](std::chrono::milliseconds every) {
      return static_cast<uint32_t>((every.count() + options_.period.count() - 1) / options_.period.count());
    };
    const uint32_t allocator_every =
        options_.allocator.period.count() == 0 ? 1 : ticks_per(options_.allocator.period);
    readers.push_back(std::make_unique<internal::AllocatorReader>(AllocatorProvider(), allocator_every));
    if (options_.smaps_rollup) {
      readers.push_back(std::make_unique<internal::SmapsRollupReader>(options_.proc_root, options_.pid));
    }
    if (options_.fd_types) {
      readers.push_back(
          std::make_unique<internal::FdTypeReader>(options_.proc_root, options_.pid, options_.fd_scan_limit));
    }
    const uint32_t slow_every = ticks_per(options_.slow_period);
    collector_ = std::make_unique<internal::TickCollector>(
        internal::TickCollector::Options{.period = options_.period, .slow_every = slow_every},
        std::move(readers), clock);

    // The first sample is taken here, so latest_snapshot() is never null once start() returned.
    auto first = collector_->Tick(0);
    if (first) Publish(std::move(first));

    scheduler_ = std::make_unique<internal::Scheduler>(options_.period, [this](uint64_t missed) {
      if (auto snap = collector_->Tick(missed)) Publish(std::move(snap));
    });
    const auto first_deadline = latest_snapshot()->steady_time + options_.period;
    if (auto st = scheduler_->Start(first_deadline); !st) {
      scheduler_.reset();
      return st.error();
    }
    running_ = true;

    StartInfo info;
    const auto listen = internal::ParseListen(options_.http.listen);
    if (listen && !listen->off) {
      exporters::PrometheusExporter::Options eo;
      eo.listen = listen->host + ":" + std::to_string(listen->port);
      eo.metrics_path = options_.http.metrics_path;
      eo.request_timeout_ms = options_.http.request_timeout_ms;
      eo.num_threads = options_.http.threads;
      eo.web_config_file = options_.http.web_config_file;
      auto exporter = [&] {
        internal::ScopedBlockAllSignals block_signals;  // the HTTP server's threads inherit the blocked mask
        return exporters::PrometheusExporter::Start(eo, [this] { return latest_snapshot(); });
      }();
      if (exporter) {
        exporter_ = std::move(*exporter);
        info.http_serving = true;
        info.http_port = exporter_->port();
        Log()->info("leakwatch {} serving metrics on http://{}:{}{} (period {}ms)", LEAKWATCH_VERSION,
                    listen->host, info.http_port, options_.http.metrics_path, options_.period.count());
      } else {
        info.http_error = exporter.error();
        Log()->error("leakwatch: metrics endpoint not started, sampling goes on: {}",
                     exporter.error().message);
      }
    } else {
      Log()->info("leakwatch {} sampling every {}ms; HTTP endpoint off", LEAKWATCH_VERSION,
                  options_.period.count());
    }
    return info;
  }

  // The application's provider, or the one detected now (the glibc guard's worker starts here when enabled).
  std::shared_ptr<AllocatorStatsProvider> AllocatorProvider() const {
    if (options_.allocator.provider) {
      Log()->info("allocator: statistics from the application's own provider");
      return options_.allocator.provider;
    }
    const AllocatorOptions& a = options_.allocator;
    internal::AllocatorDetectOptions detect;
    detect.glibc = internal::GlibcMallinfoOptions{.enabled = a.glibc_mallinfo,
                                                  .period = a.glibc_mallinfo_period,
                                                  .budget = a.glibc_mallinfo_budget,
                                                  .max_period = a.glibc_mallinfo_max_period};
    return internal::DetectAllocator(detect);
  }

  void StopLocked() {
    if (scheduler_) scheduler_->Stop();
    scheduler_.reset();
    exporter_.reset();  // blocks up to ~2 s while the HTTP server shuts down
    collector_.reset();
    running_ = false;
  }

  void Publish(std::shared_ptr<const Snapshot> snap) {
    history_->Append(*snap);
    std::lock_guard lock(snapshot_mu_);
    latest_ = std::move(snap);
  }

  const AgentOptions options_;
  const std::unique_ptr<History> history_;
  std::mutex lifecycle_mu_;
  bool running_ = false;
  std::unique_ptr<internal::TickCollector> collector_;
  std::unique_ptr<internal::Scheduler> scheduler_;
  std::unique_ptr<exporters::PrometheusExporter> exporter_;
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> latest_;
};

}  // namespace

Result<std::unique_ptr<Agent>> Agent::Create(AgentOptions options) {
  try {
    if (options.use_environment) {
      if (auto st = internal::ApplyEnvironment(internal::GetEnv, &options); !st) return st.error();
    }
    if (auto st = internal::ValidateOptions(options); !st) return st.error();
    if (!options.http.web_config_file.empty()) {
      if (auto web = exporters::LoadWebConfig(options.http.web_config_file); !web) {
        return Error{"http.web_config_file: " + web.error().message};
      }
    }
    if (auto st = internal::ConfigureLogging(internal::LogSettings{
            .level = options.log.level, .sink = options.log.sink, .json = options.log.json});
        !st) {
      return st.error();
    }
    auto history = History::Create(
        HistoryOptions{.period = options.period, .budget_bytes = options.history_budget_bytes});
    if (!history) return history.error();
    return std::unique_ptr<Agent>(new AgentImpl(std::move(options), std::move(*history)));
  } catch (const std::exception& e) {
    return Error{std::string("leakwatch agent could not be created: ") + e.what()};
  }
}

}  // namespace leakwatch
