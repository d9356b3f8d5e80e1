#include "agent/heap_sampler/heap_profiler.h"

#include <dlfcn.h>

#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

const void* DefaultProcessMalloc() { return ::dlsym(RTLD_DEFAULT, "malloc"); }

std::string DefaultObjectName(const void* address) {
  Dl_info info{};
  if (address == nullptr || ::dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname[0] != '\0' ? info.dli_fname : "the main program";
}

}  // namespace

std::string_view HeapProfilerStateName(HeapProfilerState s) {
  switch (s) {
    case HeapProfilerState::kOff:
      return "off";
    case HeapProfilerState::kUnavailable:
      return "unavailable";
    case HeapProfilerState::kRunning:
      return "running";
    case HeapProfilerState::kStopped:
      return "stopped";
  }
  return "unknown";
}

HeapProfiler::HeapProfiler(HeapProfilerOptions options, Environment environment)
    : options_(std::move(options)), env_(std::move(environment)) {}

void HeapProfiler::Start() {
  try {
    HeapProfilerStatus st;
    const HeapSamplerHooks* hooks = nullptr;
    if (!options_.enabled) {
      st.state = HeapProfilerState::kOff;
      st.reason = "disabled (heap_profiler.enabled: false or LEAKWATCH_HEAP_SAMPLER=off)";
    } else {
      std::string problem;
      hooks = env_.find_hooks ? env_.find_hooks(&problem) : nullptr;
      const auto name_of = env_.object_name ? env_.object_name : &DefaultObjectName;
      if (hooks == nullptr) {
        st.state = HeapProfilerState::kUnavailable;
        st.reason = problem +
                    ": run the program with `leakwatch run` (or LD_PRELOAD=libleakwatch_preload.so), "
                    "or link libleakwatch_heap.so ahead of the allocator";
      } else if (const void* m = env_.process_malloc ? env_.process_malloc() : DefaultProcessMalloc();
                 m != hooks->own_malloc) {
        hooks = nullptr;
        st.state = HeapProfilerState::kUnavailable;
        const std::string where = name_of(m);
        st.reason =
            "the process's malloc comes from " + (where.empty() ? std::string("elsewhere") : where) +
            ", ahead of leakwatch's allocation hooks: load libleakwatch_preload.so or "
            "libleakwatch_heap.so first (first in LD_PRELOAD, or before the allocator on the link line)";
      } else {
        HeapSamplerSettings settings;
        settings.mean_interval_bytes = options_.sampling_interval_bytes;
        settings.max_live_samples = options_.max_live_samples;
        settings.max_stacks = options_.max_stacks;
        // Room for every stack at full depth: reserved, not committed.
        settings.max_stack_bytes = options_.max_stacks * (sizeof(StackBucket) + 64 * sizeof(uint64_t));
        const HeapSamplerStartResult r = hooks->start(settings);
        st.unwinder = r.unwinder;
        st.real_allocator = hooks->real_malloc != nullptr ? name_of(hooks->real_malloc()) : "";
        if (r.ok) {
          st.state = HeapProfilerState::kRunning;
        } else {
          hooks = nullptr;
          st.state = HeapProfilerState::kUnavailable;
          st.reason = r.error;
        }
      }
    }
    {
      std::lock_guard lock(mu_);
      hooks_ = hooks;
      status_.state = st.state;
      status_.reason = st.reason;
      status_.unwinder = st.unwinder;
      status_.real_allocator = st.real_allocator;
    }
    if (st.state == HeapProfilerState::kRunning) {
      Log()->info(
          "heap profiler: sampling every {} bytes on average (unwinder {}, allocator {}); "
          "GET /debug/pprof/heap",
          options_.sampling_interval_bytes, st.unwinder, st.real_allocator);
    } else if (st.state == HeapProfilerState::kUnavailable) {
      Log()->warn("heap profiler: unavailable: {}", st.reason);
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    hooks_ = nullptr;
    status_.state = HeapProfilerState::kUnavailable;
    status_.reason = std::string("failed to start: ") + e.what();
    Log()->warn("heap profiler: {}", status_.reason);
  }
}

void HeapProfiler::Stop() {
  std::lock_guard lock(mu_);
  if (hooks_ != nullptr && status_.state == HeapProfilerState::kRunning) {
    hooks_->core->Stop();
    status_.state = HeapProfilerState::kStopped;
  }
}

void HeapProfiler::ReadTick(Snapshot* snapshot) {
  const HeapSamplerHooks* hooks = nullptr;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
  }
  snapshot->set(Signal::kHeapSamplerRunning, hooks != nullptr && hooks->core->running() ? 1.0 : 0.0);
  if (hooks == nullptr) return;
  const HeapSamplerStats s = hooks->core->Stats();
  snapshot->set(Signal::kHeapSamplerIntervalBytes, static_cast<double>(s.mean_interval_bytes));
  snapshot->set(Signal::kHeapSampledInuseBytes, s.inuse_bytes_estimate);
  snapshot->set(Signal::kHeapSampledInuseObjects, s.inuse_objects_estimate);
  snapshot->set(Signal::kHeapSampledAllocBytesTotal, s.alloc_bytes_estimate);
  snapshot->set(Signal::kHeapSamplerSamplesTotal, static_cast<double>(s.samples_total));
  snapshot->set(Signal::kHeapSamplerLiveSamples, static_cast<double>(s.live_samples));
  snapshot->set(Signal::kHeapSamplerStacks, static_cast<double>(s.stacks));
  snapshot->set(Signal::kHeapSamplerMemoryBytes, static_cast<double>(s.memory_bytes));
  snapshot->set(Signal::kHeapSamplerDroppedLiveTotal, static_cast<double>(s.dropped_live_table_full));
  snapshot->set(Signal::kHeapSamplerDroppedStacksTotal, static_cast<double>(s.dropped_stack_table_full));
  snapshot->set(Signal::kHeapSamplerHookSecondsTotal, static_cast<double>(s.hook_nanoseconds) * 1e-9);

  double peak = 0;
  std::optional<std::chrono::steady_clock::time_point> last;
  {
    std::lock_guard lock(mu_);
    status_.stats = s;
    peak = status_.peak_inuse_bytes;
    last = last_peak_capture_;
  }
  const auto now = env_.clock->SteadyNow();
  const bool new_peak = s.inuse_bytes_estimate > peak * (1.0 + options_.peak_growth) && s.live_samples > 0;
  if (new_peak && (!last || now - *last >= options_.peak_min_interval)) {
    auto capture = std::make_shared<SampledHeapCapture>(CaptureSampledHeap(*hooks->core, env_.capture));
    const double bytes = capture->heap.stats.inuse_bytes_estimate;
    std::lock_guard lock(mu_);
    status_.peak_inuse_bytes = bytes;
    status_.peak_time = capture->time;
    peak_ = std::move(capture);
    last_peak_capture_ = now;
    peak = bytes;
  }
  snapshot->set(Signal::kHeapSampledPeakInuseBytes, std::max(peak, s.inuse_bytes_estimate));
}

HeapProfilerStatus HeapProfiler::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::optional<SampledHeapCapture> HeapProfiler::CaptureNow() const {
  const HeapSamplerHooks* hooks = nullptr;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
  }
  if (hooks == nullptr) return std::nullopt;
  return CaptureSampledHeap(*hooks->core, env_.capture);
}

std::shared_ptr<const SampledHeapCapture> HeapProfiler::peak() const {
  std::lock_guard lock(mu_);
  return peak_;
}

void HeapSamplerReader::Read(TickKind, Snapshot* snapshot, ErrorSink& errors) {
  try {
    profiler_.ReadTick(snapshot);
  } catch (const std::exception& e) {
    errors.Report(Source::kHeapSampler, Error{std::string("heap sampler: ") + e.what()});
  }
}

}  // namespace leakwatch::internal
