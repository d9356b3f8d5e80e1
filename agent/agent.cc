// The Agent facade: wires the readers, the sampler, the history and the Prometheus exporter together.
#include "leakwatch/agent.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

#include "agent/agent_factory.h"
#include "agent/allocator/allocator_reader.h"
#include "agent/allocator/detect.h"
#include "agent/attach/fork_handlers.h"
#include "agent/bundle/bundle_service.h"
#include "agent/bundle/capture_signal.h"
#include "agent/cgroup/cgroup_location.h"
#include "agent/cgroup/cgroup_reader.h"
#include "agent/common/block_signals.h"
#include "agent/common/clock.h"
#include "agent/config/config.h"
#include "agent/config/config_watcher.h"
#include "agent/heap_sampler/heap_profiler.h"
#include "agent/heap_sampler/sampled_profile.h"
#include "agent/logging/log.h"
#include "agent/procfs/fd_type_reader.h"
#include "agent/procfs/process_reader.h"
#include "agent/procfs/smaps_rollup_reader.h"
#include "agent/rules/rule_engine.h"
#include "agent/rules/rule_events.h"
#include "agent/sampler/scheduler.h"
#include "agent/sampler/tick_collector.h"
#include "exporters/debug/debug_endpoints.h"
#include "exporters/prometheus/prometheus_exporter.h"
#include "exporters/prometheus/web_config.h"
#include "exporters/status/status_json.h"
#include "leakwatch/history.h"
#include "leakwatch/version.h"

namespace leakwatch {
namespace {

using internal::Log;

const std::vector<std::string>& ActionNames() { return internal::KnownActionNames(); }

// Runs a rule's actions: "log" at once, "bundle" queued to the bundle worker (never blocking the tick).
class AgentActions final : public internal::ActionRunner {
 public:
  explicit AgentActions(internal::BundleService& bundles) : bundles_(bundles) {}
  std::vector<std::string> names() const override { return ActionNames(); }
  void Run(std::string_view action, const internal::RuleEvent& event) override {
    if (action == "log") {
      log_.Run(action, event);
    } else if (action == "bundle") {
      bundles_.Request(internal::BundleTrigger{
          .source = "rule", .reason = DescribeRuleStatus(event.status), .rule = event.status});
    }
  }

 private:
  internal::LogActionRunner log_;
  internal::BundleService& bundles_;
};

internal::BundleWriterOptions WriterOptions(const AgentOptions& o) {
  internal::BundleWriterOptions w;
  w.dir = o.bundle.dir;
  w.proc_root = o.proc_root;
  w.pid = o.pid;
  w.max_file_bytes = o.bundle.max_file_bytes;
  w.low_headroom_bytes = o.bundle.low_headroom_bytes;
  w.max_fds = o.bundle.max_fds;
  w.smaps_rollup = o.smaps_rollup;
  w.glibc_malloc_info = o.allocator.glibc_mallinfo;
  return w;
}

class AgentImpl final : public Agent {
 public:
  AgentImpl(AgentOptions program, internal::EnvLookup env, internal::ResolvedConfig resolved,
            std::unique_ptr<History> history)
      : program_(std::move(program)),
        env_(std::move(env)),
        options_(std::move(resolved.options)),
        history_(std::move(history)),
        heap_profiler_(options_.heap_profiler),
        bundles_(options_.bundle, WriterOptions(options_), [this] { return BundleInputsNow(); }),
        actions_(bundles_),
        engine_(std::move(resolved.rules), options_.period, &events_, &actions_),
        watcher_(options_.config_file, options_.config_check_period) {
    watcher_.MarkLoaded();
    config_status_.file = options_.config_file;
    config_status_.last_success = std::chrono::system_clock::now();
  }
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
    // In a forked child the agent's threads do not exist and its locks may be held by them: leave it alone.
    if (const pid_t owner = started_in_.load(); owner != 0 && owner != getpid()) return;
    std::lock_guard lifecycle(lifecycle_mu_);
    StopLocked();
  }

  std::shared_ptr<const Snapshot> latest_snapshot() const override {
    std::lock_guard lock(snapshot_mu_);
    return latest_;
  }

  const History& history() const override { return *history_; }
  std::shared_ptr<const RulesStatus> rules_status() const override {
    auto status = engine_.status();
    return status->sequence == 0 ? nullptr : status;
  }
  Result<std::string> capture(const std::string& reason, std::chrono::milliseconds wait) override {
    auto written = bundles_.RequestAndWait(internal::BundleTrigger{.source = "api", .reason = reason}, wait);
    if (!written) return written.error();
    return written->path;
  }
  BundleStats bundle_stats() const override { return bundles_.stats(); }

  // POST /debug/leakwatch/capture, on an HTTP worker.
  exporters::CaptureReply CaptureForHttp(const std::string& reason, std::chrono::milliseconds wait) {
    using Kind = exporters::CaptureReply::Kind;
    auto ticket = bundles_.Submit(internal::BundleTrigger{.source = "http", .reason = reason});
    if (ticket.request.outcome == internal::BundleService::Outcome::kSuppressed) {
      return {.kind = Kind::kSuppressed, .detail = ticket.request.reason};
    }
    if (wait.count() == 0) return {.kind = Kind::kQueued};
    if (ticket.done.wait_for(wait) != std::future_status::ready) return {.kind = Kind::kPending};
    auto written = ticket.done.get();
    if (!written) {
      const std::string& message = written.error().message;
      if (message.rfind("bundle suppressed: ", 0) == 0)
        return {.kind = Kind::kSuppressed, .detail = "min_free_disk"};
      return {.kind = Kind::kFailed, .detail = message};
    }
    return {.kind = Kind::kWritten,
            .bundle = written->name,
            .bytes = written->bytes,
            .seconds = std::chrono::duration<double>(written->duration).count()};
  }

  // GET /debug/pprof/heap, on an HTTP worker.
  exporters::HeapProfileReply HeapProfileForHttp(bool peak, bool symbolize) const {
    try {
      std::optional<internal::SampledHeapCapture> now;
      std::shared_ptr<const internal::SampledHeapCapture> kept;
      const internal::SampledHeapCapture* capture = nullptr;
      if (peak) {
        kept = heap_profiler_.peak();
        if (!kept)
          return {.status = 404,
                  .error =
                      "no peak heap profile yet (the heap sampler keeps one "
                      "once it has live samples)"};
        capture = kept.get();
      } else {
        now = heap_profiler_.CaptureNow();
        if (!now) {
          const auto st = heap_profiler_.status();
          return {.status = 503,
                  .error = "the heap profiler is " + std::string(internal::HeapProfilerStateName(st.state)) +
                           (st.reason.empty() ? "" : ": " + st.reason)};
        }
        capture = &*now;
      }
      internal::EncodeSampledHeapOptions o;
      o.symbolize = symbolize;
      o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      o.what = peak ? "peak" : "current";
      auto encoded = internal::EncodeSampledHeap(*capture, o);
      if (!encoded) return {.status = 500, .error = encoded.error().message};
      return {.status = 200, .pprof_gz = std::move(encoded->pprof_gz)};
    } catch (const std::exception& e) {
      return {.status = 500, .error = std::string("heap profile failed: ") + e.what()};
    }
  }

  ConfigStatus config_status() const override {
    std::lock_guard lock(config_mu_);
    return config_status_;
  }
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
    heap_profiler_.Start();
    readers.push_back(std::make_unique<internal::HeapSamplerReader>(heap_profiler_));
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

    if (auto st = bundles_.Start(); !st) Log()->error("leakwatch: {}; bundles are off", st.error().message);
    if (options_.bundle.capture_signal != 0) {
      if (auto st = capture_signal_.Install(options_.bundle.capture_signal); !st) {
        Log()->error("leakwatch: {}; bundles on a signal are off", st.error().message);
      }
    }
    // The first sample is taken here, so latest_snapshot() is never null once start() returned.
    auto first = collector_->Tick(0);
    if (first) Publish(std::move(first));

    scheduler_ = std::make_unique<internal::Scheduler>(options_.period, [this](uint64_t missed) {
      if (auto snap = collector_->Tick(missed)) Publish(std::move(snap));
      if (internal::CaptureSignal::Take()) {
        bundles_.Request(internal::BundleTrigger{
            .source = "signal", .reason = "signal " + std::to_string(options_.bundle.capture_signal)});
      }
      MaybeReload();
    });
    const auto first_deadline = latest_snapshot()->steady_time + options_.period;
    if (auto st = scheduler_->Start(first_deadline); !st) {
      scheduler_.reset();
      return st.error();
    }
    running_ = true;
    started_in_.store(getpid());

    StartInfo info;
    const auto listen = internal::ParseListen(options_.http.listen);
    if (listen && !listen->off) {
      exporters::PrometheusExporter::Options eo;
      eo.listen = listen->host + ":" + std::to_string(listen->port);
      eo.metrics_path = options_.http.metrics_path;
      eo.request_timeout_ms = options_.http.request_timeout_ms;
      eo.num_threads = options_.http.threads;
      eo.web_config_file = options_.http.web_config_file;
      debug_ = std::make_unique<exporters::DebugEndpoints>(exporters::DebugEndpointsOptions{
          .token = options_.http.debug_token,
          .bundle_dir = options_.bundle.dir,
          .capture = [this](const std::string& reason,
                            std::chrono::milliseconds wait) { return CaptureForHttp(reason, wait); },
          .max_wait = std::chrono::seconds(60),
          .retry_after = options_.bundle.window / std::max<uint32_t>(1, options_.bundle.max_per_window),
          .heap_profile = [this](bool peak, bool symbolize) { return HeapProfileForHttp(peak, symbolize); },
          .heap_requires_token = options_.heap_profiler.require_token});
      eo.routes = debug_->Routes();
      eo.rules_provider = [this] {
        auto rules = engine_.status();
        if (rules->sequence == 0) rules = nullptr;
        return exporters::RulesView{std::move(rules), config_status(), bundles_.stats(), debug_->counts()};
      };
      eo.extra_routes.push_back({"/status", "application/json; charset=utf-8", [this] {
                                   const auto rules = engine_.status();
                                   const auto heap = heap_profiler_.status();
                                   return exporters::RenderStatusJson(rules.get(), config_status(), &heap);
                                 }});
      auto exporter = [&] {
        internal::ScopedBlockAllSignals block_signals;  // the HTTP server's threads inherit the blocked mask
        return exporters::PrometheusExporter::Start(eo, [this] { return latest_snapshot(); });
      }();
      if (exporter) {
        exporter_ = std::move(*exporter);
        info.http_serving = true;
        info.http_port = exporter_->port();
        // A forked child must not keep the port bound (agent/attach/fork_handlers.h).
        internal::InstallForkHandlers();
        for (const int fd : exporter_->listening_fds()) internal::TrackListeningSocket(fd, info.http_port);
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
    if (exporter_) {
      for (const int fd : exporter_->listening_fds()) internal::UntrackListeningSocket(fd);
    }
    if (scheduler_) scheduler_->Stop();
    capture_signal_.Uninstall();
    bundles_.Stop();
    scheduler_.reset();
    exporter_.reset();  // joins the HTTP server's threads (a request in flight finishes first)
    debug_.reset();
    collector_.reset();
    heap_profiler_.Stop();
    running_ = false;
  }

  void Publish(std::shared_ptr<const Snapshot> snap) {
    history_->Append(*snap);
    engine_.Evaluate(*snap);
    std::lock_guard lock(snapshot_mu_);
    latest_ = std::move(snap);
  }

  // On the sampler thread: applies a changed config file. Only the rules and the logging change at run time;
  // the other settings are reported as waiting for a restart.
  void MaybeReload() {
    try {
      auto changed = watcher_.Poll(std::chrono::steady_clock::now());
      if (!changed) return;
      Result<internal::ResolvedConfig> resolved =
          changed->ok() ? internal::ResolveConfig(program_, env_, changed->value(), ActionNames())
                        : Result<internal::ResolvedConfig>(changed->error());
      if (!resolved) {
        {
          std::lock_guard lock(config_mu_);
          config_status_.last_load_ok = false;
          config_status_.last_error = resolved.error().message;
          ++config_status_.reload_failures_total;
        }
        Log()->error(
            "leakwatch: config file {} changed but is rejected; the running configuration stays:\n{}",
            options_.config_file, resolved.error().message);
        return;
      }
      const AgentOptions& next = resolved->options;
      const size_t rule_count = resolved->rules.rules.size();
      engine_.Replace(std::move(resolved->rules));
      if (next.log.level != applied_log_.level || next.log.sink != applied_log_.sink ||
          next.log.json != applied_log_.json) {
        const internal::LogSettings settings{
            .level = next.log.level, .sink = next.log.sink, .json = next.log.json};
        if (auto st = internal::ConfigureLogging(settings); st) {
          applied_log_ = next.log;
        } else {
          Log()->error("leakwatch: config reload: log settings not applied: {}", st.error().message);
        }
      }
      const std::string pending = SettingsNeedingRestart(next);
      {
        std::lock_guard lock(config_mu_);
        config_status_.last_load_ok = true;
        config_status_.last_error.clear();
        config_status_.last_success = std::chrono::system_clock::now();
        ++config_status_.reloads_total;
      }
      Log()->info("leakwatch: config file {} reloaded: {} rules in force{}", options_.config_file, rule_count,
                  pending.empty() ? "" : "; changed but applied only at the next start: " + pending);
    } catch (const std::exception& e) {
      Log()->error("leakwatch: config reload failed: {}", e.what());
    }
  }

  // What a bundle reads besides the files: the latest snapshot, the history, the cgroup's directory.
  internal::BundleInputs BundleInputsNow() const {
    internal::BundleInputs in;
    in.snapshot = latest_snapshot();
    in.history = history_.get();
    auto location = internal::LocateCgroup(internal::CgroupRoots{
        .proc_root = options_.proc_root, .pid = options_.pid, .mount_prefix = options_.cgroup_mount_prefix});
    if (location) in.cgroup = std::move(*location);
    in.heap_profiler = &heap_profiler_;
    return in;
  }

  // The settings of `next` that differ from those in force and cannot change while running.
  std::string SettingsNeedingRestart(const AgentOptions& next) const {
    std::string out;
    const auto note = [&out](bool changed, const char* name) {
      if (changed) out += (out.empty() ? "" : ", ") + std::string(name);
    };
    const AgentOptions& o = options_;
    note(next.period != o.period, "period");
    note(next.slow_period != o.slow_period, "slow_period");
    note(next.smaps_rollup != o.smaps_rollup, "smaps_rollup");
    note(next.fd_types != o.fd_types, "fd_types");
    note(next.fd_scan_limit != o.fd_scan_limit, "fd_scan_limit");
    note(next.history_budget_bytes != o.history_budget_bytes, "history_budget_bytes");
    note(next.http.listen != o.http.listen || next.http.metrics_path != o.http.metrics_path ||
             next.http.request_timeout_ms != o.http.request_timeout_ms ||
             next.http.threads != o.http.threads || next.http.web_config_file != o.http.web_config_file,
         "http");
    const AllocatorOptions& a = next.allocator;
    const AllocatorOptions& b = o.allocator;
    note(a.period != b.period || a.glibc_mallinfo != b.glibc_mallinfo ||
             a.glibc_mallinfo_period != b.glibc_mallinfo_period ||
             a.glibc_mallinfo_budget != b.glibc_mallinfo_budget ||
             a.glibc_mallinfo_max_period != b.glibc_mallinfo_max_period,
         "allocator");
    const HeapProfilerOptions& h = next.heap_profiler;
    const HeapProfilerOptions& g = o.heap_profiler;
    note(h.enabled != g.enabled || h.sampling_interval_bytes != g.sampling_interval_bytes ||
             h.max_live_samples != g.max_live_samples || h.max_stacks != g.max_stacks ||
             h.require_token != g.require_token || h.peak_growth != g.peak_growth ||
             h.peak_min_interval != g.peak_min_interval,
         "heap_profiler");
    note(next.config_check_period != o.config_check_period, "config_check_period");
    return out;
  }

  const AgentOptions program_;  // as the program passed them: a reload applies the new file over these
  const internal::EnvLookup env_;
  const AgentOptions options_;
  const std::unique_ptr<History> history_;
  internal::HeapProfiler heap_profiler_;
  internal::LoggingEventSink events_;
  internal::BundleService bundles_;
  internal::CaptureSignal capture_signal_;
  std::unique_ptr<exporters::DebugEndpoints>
      debug_;  // read by the exporter's threads until exporter_.reset()
  AgentActions actions_;
  internal::RuleEngine engine_;
  internal::ConfigWatcher watcher_;  // sampler thread only
  LogOptions applied_log_ = options_.log;
  mutable std::mutex config_mu_;
  ConfigStatus config_status_;
  std::mutex lifecycle_mu_;
  bool running_ = false;
  std::atomic<pid_t> started_in_{0};  // the process whose threads run this agent
  std::unique_ptr<internal::TickCollector> collector_;
  std::unique_ptr<internal::Scheduler> scheduler_;
  std::unique_ptr<exporters::PrometheusExporter> exporter_;
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> latest_;
};

}  // namespace

Result<std::unique_ptr<Agent>> Agent::Create(AgentOptions options) {
  try {
    return internal::CreateAgent(std::move(options), internal::CaptureEnvironment(internal::GetEnv));
  } catch (const std::exception& e) {
    return Error{std::string("leakwatch agent could not be created: ") + e.what()};
  }
}

Result<std::unique_ptr<Agent>> internal::CreateAgent(AgentOptions options, EnvLookup env) {
  try {
    auto resolved = internal::ResolveConfig(options, env, std::nullopt, ActionNames());
    if (!resolved) return resolved.error();
    const AgentOptions& o = resolved->options;
    if (!o.http.web_config_file.empty()) {
      if (auto web = exporters::LoadWebConfig(o.http.web_config_file); !web) {
        return Error{"http.web_config_file: " + web.error().message};
      }
    }
    if (auto st = internal::ConfigureLogging(
            internal::LogSettings{.level = o.log.level, .sink = o.log.sink, .json = o.log.json});
        !st) {
      return st.error();
    }
    auto history =
        History::Create(HistoryOptions{.period = o.period, .budget_bytes = o.history_budget_bytes});
    if (!history) return history.error();
    return std::unique_ptr<Agent>(
        new AgentImpl(std::move(options), std::move(env), std::move(*resolved), std::move(*history)));
  } catch (const std::exception& e) {
    return Error{std::string("leakwatch agent could not be created: ") + e.what()};
  }
}

}  // namespace leakwatch
