#include "exporters/prometheus/snapshot_collectable.h"

#include <chrono>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "agent/logging/log.h"
#include "leakwatch/signals.h"
#include "leakwatch/version.h"

namespace leakwatch::exporters {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// --- agent health families -------------------------------------------------------------------------------
constexpr const char* kBuildInfo = "leakwatch_build_info";
constexpr const char* kBuildInfoHelp =
    "A metric with a constant '1' value labeled by the leakwatch version and the compiler that built it.";
constexpr const char* kSamples = "leakwatch_samples_total";
constexpr const char* kSamplesHelp = "Sampler ticks completed since the agent started.";
constexpr const char* kMissed = "leakwatch_missed_ticks_total";
constexpr const char* kMissedHelp = "Sampler deadlines skipped because a tick ran late.";
constexpr const char* kSourceErrors = "leakwatch_source_errors_total";
constexpr const char* kSourceErrorsHelp =
    "Failed reads per data source since the agent started; a failing source makes its signals absent.";
constexpr const char* kDuration = "leakwatch_sample_duration_seconds";
constexpr const char* kDurationHelp = "Time the last sampler tick took to read every source in seconds.";
constexpr const char* kLastSample = "leakwatch_last_sample_timestamp_seconds";
constexpr const char* kLastSampleHelp = "Unix time of the last sampler tick in seconds.";
constexpr const char* kPeriod = "leakwatch_sample_period_seconds";
constexpr const char* kPeriodHelp = "Configured sampling period in seconds.";
constexpr const char* kCgroupInfo = "leakwatch_cgroup_info";
constexpr const char* kCgroupInfoHelp =
    "A metric with a constant '1' value labeled by the cgroup version and the path of the process's memory "
    "cgroup.";
constexpr const char* kAllocatorInfo = "leakwatch_allocator_info";
constexpr const char* kAllocatorInfoHelp =
    "A metric with a constant '1' value labeled by the allocator in use, its version and its heap profiling "
    "capability (unsupported, inactive, active).";
constexpr const char* kCollectErrors = "leakwatch_exporter_collect_errors_total";
constexpr const char* kCollectErrorsHelp =
    "Scrapes whose rendering failed; such a scrape carries only leakwatch_build_info and this counter.";

constexpr std::chrono::minutes kLogInterval{1};

// --- the catalogue grouped into families, computed once ----------------------------------------------------
struct Member {
  Signal signal;
  std::string label_name;  // empty: no label
  std::string label_value;
};

struct FamilyPlan {
  std::string name;
  std::string help;
  MetricType type;
  std::vector<Member> members;
};

std::vector<FamilyPlan> BuildPlan() {
  std::vector<FamilyPlan> plan;
  for (size_t i = 0; i < kSignalCount; ++i) {
    const SignalInfo& info = GetSignalInfo(static_cast<Signal>(i));
    FamilyPlan* family = nullptr;
    for (auto& f : plan) {
      if (f.name == info.metric) family = &f;
    }
    if (family == nullptr) {
      plan.push_back(FamilyPlan{std::string(info.metric),
                                std::string(info.help),
                                info.kind == MetricKind::kCounter ? MetricType::Counter : MetricType::Gauge,
                                {}});
      family = &plan.back();
    }
    // The family's help and type come from its first row; tests check that the catalogue is consistent.
    family->members.push_back(
        Member{info.signal, std::string(info.label_name), std::string(info.label_value)});
  }
  return plan;
}

// Leaked on purpose (like the logger): a scrape still running on a civetweb thread during static destruction
// must not see a destroyed table.
const std::vector<FamilyPlan>& Plan() {
  static const auto* plan = new std::vector<FamilyPlan>(BuildPlan());
  return *plan;
}

std::string CompilerName() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

const std::string& Compiler() {
  static const auto* name = new std::string(CompilerName());
  return *name;
}

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

ClientMetric Value(MetricType type, double v) {
  ClientMetric m;
  if (type == MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  return m;
}

MetricFamily Single(const char* name, const char* help, MetricType type, double v) {
  MetricFamily f = Family(name, help, type);
  f.metric.push_back(Value(type, v));
  return f;
}

MetricFamily BuildInfo() {
  MetricFamily f = Family(kBuildInfo, kBuildInfoHelp, MetricType::Gauge);
  ClientMetric m = Value(MetricType::Gauge, 1);
  m.label = {{"compiler", Compiler()}, {"version", LEAKWATCH_VERSION}};
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

SnapshotCollectable::SnapshotCollectable(SnapshotProvider provider) : provider_(std::move(provider)) {
  // Build the shared tables now, on the caller's thread, rather than in the first scrape.
  (void)Plan();
  (void)Compiler();
}

std::vector<MetricFamily> SnapshotCollectable::Collect() const {
  // An exception escaping Collect() would reach civetweb's worker thread and std::terminate the host.
  try {
    return CollectOrThrow();
  } catch (const std::exception& e) {
    ReportError(e.what());
  } catch (...) {
    ReportError("unknown exception");
  }
  try {
    return MinimalFamilies();
  } catch (...) {
    return {};
  }
}

std::vector<MetricFamily> SnapshotCollectable::MinimalFamilies() const {
  std::vector<MetricFamily> out;
  out.reserve(2);
  out.push_back(BuildInfo());
  out.push_back(
      Single(kCollectErrors, kCollectErrorsHelp, MetricType::Counter, static_cast<double>(collect_errors())));
  return out;
}

std::vector<MetricFamily> SnapshotCollectable::CollectOrThrow() const {
  if (!provider_) throw std::logic_error("no snapshot provider");
  const std::shared_ptr<const Snapshot> snapshot = provider_();
  if (!snapshot) return MinimalFamilies();
  const Snapshot& s = *snapshot;

  const auto& plan = Plan();
  std::vector<MetricFamily> out;
  out.reserve(plan.size() + 9);
  for (const FamilyPlan& fp : plan) {
    size_t present = 0;
    for (const Member& m : fp.members) present += s.has(m.signal) ? 1 : 0;
    if (present == 0) continue;
    MetricFamily family;
    family.name = fp.name;
    family.help = fp.help;
    family.type = fp.type;
    family.metric.reserve(present);
    for (const Member& m : fp.members) {
      const std::optional<double> v = s.get(m.signal);
      if (!v) continue;
      ClientMetric metric = Value(fp.type, *v);
      if (!m.label_name.empty()) metric.label.push_back({m.label_name, m.label_value});
      family.metric.push_back(std::move(metric));
    }
    out.push_back(std::move(family));
  }

  out.push_back(BuildInfo());
  out.push_back(Single(kSamples, kSamplesHelp, MetricType::Counter, static_cast<double>(s.samples_total)));
  out.push_back(Single(kMissed, kMissedHelp, MetricType::Counter, static_cast<double>(s.missed_ticks_total)));
  MetricFamily errors = Family(kSourceErrors, kSourceErrorsHelp, MetricType::Counter);
  errors.metric.reserve(kSourceCount);
  for (size_t i = 0; i < kSourceCount; ++i) {
    ClientMetric m = Value(MetricType::Counter, static_cast<double>(s.source_errors_total[i]));
    m.label.push_back({"source", std::string(SourceName(static_cast<Source>(i)))});
    errors.metric.push_back(std::move(m));
  }
  out.push_back(std::move(errors));
  out.push_back(Single(kDuration, kDurationHelp, MetricType::Gauge, Seconds(s.sample_duration)));
  out.push_back(
      Single(kLastSample, kLastSampleHelp, MetricType::Gauge, Seconds(s.wall_time.time_since_epoch())));
  out.push_back(Single(kPeriod, kPeriodHelp, MetricType::Gauge, Seconds(s.period)));
  if (s.cgroup_version != 0) {
    MetricFamily f = Family(kCgroupInfo, kCgroupInfoHelp, MetricType::Gauge);
    ClientMetric m = Value(MetricType::Gauge, 1);
    m.label = {{"path", s.cgroup_path}, {"version", std::to_string(s.cgroup_version)}};
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  if (s.allocator) {
    const AllocatorInfo& a = *s.allocator;
    MetricFamily f = Family(kAllocatorInfo, kAllocatorInfoHelp, MetricType::Gauge);
    ClientMetric m = Value(MetricType::Gauge, 1);
    const char* profiling = !a.profiling_supported ? "unsupported"
                            : a.profiling_active   ? "active"
                                                   : "inactive";
    m.label = {
        {"allocator", a.name},
        {"profiling", profiling},
        {"profiling_sample_bytes", a.profiling_sample_bytes ? std::to_string(*a.profiling_sample_bytes) : ""},
        {"version", a.version}};
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  out.push_back(
      Single(kCollectErrors, kCollectErrorsHelp, MetricType::Counter, static_cast<double>(collect_errors())));
  return out;
}

void SnapshotCollectable::ReportError(const char* what) const {
  const uint64_t n = collect_errors_.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t next = next_log_ns_.load(std::memory_order_relaxed);
  if (now < next) return;
  const int64_t after = now + std::chrono::duration_cast<std::chrono::nanoseconds>(kLogInterval).count();
  if (!next_log_ns_.compare_exchange_strong(next, after, std::memory_order_relaxed)) return;
  try {
    leakwatch::internal::Log()->error(
        "prometheus exporter: rendering a scrape failed ({} failure(s) so far; logged at most once a "
        "minute): {}",
        n, what);
  } catch (...) {
    // Logging is best effort here; the counter already records the failure.
  }
}

}  // namespace leakwatch::exporters
