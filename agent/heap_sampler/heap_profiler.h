#pragma once
// HeapProfiler: the agent's side of the sampling heap profiler. It finds the allocation hooks
// (heap_sampler_hooks.h) and starts them with the configured settings, turns their counters into the
// snapshot's heap_sampler signals every tick, keeps the profile of the heap at its largest ("peak"), and
// hands out captures for GET /debug/pprof/heap and the incident bundles.
//
// States: off (disabled in the config), unavailable (no hooks in the process, the process's malloc is not
// theirs, no unwinder: `reason` says which), running, stopped. Whatever the state, the host is unaffected.
//
// Peak: on a tick where the sampled in-use estimate exceeds the last peak by more than peak_growth (and at
// least peak_min_interval after the last capture), the samples and the memory map are captured then (a
// copy of the tables under the sampler's lock: about 1 µs per 20 stacks) and kept; encoding waits until a
// bundle or a request wants it.
//
// Thread-safety: Start/Stop from the agent's lifecycle; ReadTick from the sampler thread; status(),
// CaptureNow() and peak() from any thread.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/common/clock.h"
#include "agent/heap_sampler/heap_sampler_hooks.h"
#include "agent/heap_sampler/sampled_profile.h"
#include "agent/sampler/source_reader.h"
#include "leakwatch/agent.h"

namespace leakwatch::internal {

enum class HeapProfilerState { kOff, kUnavailable, kRunning, kStopped };
std::string_view HeapProfilerStateName(HeapProfilerState s);

struct HeapProfilerStatus {
  HeapProfilerState state = HeapProfilerState::kOff;
  std::string reason;                     // why it is off or unavailable
  std::string unwinder;                   // "libunwind", "libgcc"
  std::string real_allocator;             // the library the hooks forward to, e.g. "libjemalloc.so.2"
  std::optional<HeapSamplerStats> stats;  // null without hooks
  double peak_inuse_bytes = 0;
  std::chrono::system_clock::time_point peak_time{};  // epoch when there is no peak profile yet
};

class HeapProfiler {
 public:
  using HooksFinder = std::function<const HeapSamplerHooks*(std::string* problem)>;
  // Tests inject their own hooks (and the process malloc they stand for).
  struct Environment {
    HooksFinder find_hooks = &FindHeapSamplerHooks;
    std::function<const void*()> process_malloc;          // the address malloc resolves to; default dlsym
    std::function<std::string(const void*)> object_name;  // the file of an address; default dladdr
    SampledHeapCaptureOptions capture;
    const Clock* clock = &SystemClock::Instance();  // peak_min_interval is measured on its steady time
  };

  explicit HeapProfiler(HeapProfilerOptions options) : HeapProfiler(std::move(options), Environment{}) {}
  HeapProfiler(HeapProfilerOptions options, Environment environment);

  // Finds and starts the hooks; logs one line saying what it did. Never throws.
  void Start();
  // Stops sampling (records stay, so a later Start sees a correct in-use picture).
  void Stop();

  // The heap_sampler signals, and the peak check. Sampler thread.
  void ReadTick(Snapshot* snapshot);

  HeapProfilerStatus status() const;
  // The samples now; nullopt unless running or stopped with samples (reason in status()).
  std::optional<SampledHeapCapture> CaptureNow() const;
  // The capture at the largest in-use estimate seen; null before the first.
  std::shared_ptr<const SampledHeapCapture> peak() const;
  const HeapProfilerOptions& options() const { return options_; }

 private:
  const HeapProfilerOptions options_;
  const Environment env_;
  const HeapSamplerHooks* hooks_ = nullptr;  // set by Start, when usable
  mutable std::mutex mu_;
  HeapProfilerStatus status_;
  std::shared_ptr<const SampledHeapCapture> peak_;
  std::optional<std::chrono::steady_clock::time_point> last_peak_capture_;
};

// The SourceReader of Source::kHeapSampler, for the tick collector.
class HeapSamplerReader final : public SourceReader {
 public:
  explicit HeapSamplerReader(HeapProfiler& profiler) : profiler_(profiler) {}
  void Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) override;

 private:
  HeapProfiler& profiler_;
};

}  // namespace leakwatch::internal
