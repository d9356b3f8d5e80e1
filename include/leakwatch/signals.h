#pragma once
// The catalogue of everything leakwatch samples.
//
// A Signal is one number in a Snapshot. Every signal has exactly one metric (family name plus at most one
// label pair) under which the Prometheus exporter publishes it, a one-line help text, a kind (gauge or
// counter) and a base unit. Rules, history and exporters iterate this catalogue; adding a signal is one enum
// value plus one catalogue row (agent/signals.cc).
//
// Thread-safety: everything here is immutable after static initialisation and safe to use from any thread.
// Cost: GetSignalInfo() and FindSignal() are O(1) and O(number of signals) respectively.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
namespace leakwatch {

enum class Signal : uint16_t {
  // --- process (every tick unless marked slow) ---
  kResidentMemoryBytes,      // process_resident_memory_bytes (statm resident)
  kVirtualMemoryBytes,       // process_virtual_memory_bytes (statm size)
  kVirtualMemoryMaxBytes,    // process_virtual_memory_max_bytes (RLIMIT_AS soft; RLIM_INFINITY as 2^64-1)
  kResidentMemoryPeakBytes,  // slow: VmHWM, and never below the current RSS
  kRssAnonBytes,             // statm resident - shared (= RssAnon)
  kRssFileBytes,             // slow: RssFile
  kRssShmemBytes,            // slow: RssShmem
  kSwapBytes,                // slow: VmSwap
  kThreads,                  // process_threads
  kOpenFds,                  // process_open_fds
  kMaxFds,                   // process_max_fds (RLIMIT_NOFILE soft)
  kMaxFdsHard,               // RLIMIT_NOFILE hard
  kCpuSecondsTotal,          // process_cpu_seconds_total (user + system)
  kCpuUserSecondsTotal,
  kCpuSystemSecondsTotal,
  kStartTimeSeconds,  // slow: process_start_time_seconds (Unix epoch)

  // --- cgroup memory controller (v1 or v2); kernel, sock, swap and events on the slow period ---
  kCgroupMemoryUsageBytes,          // v2 memory.current, v1 memory.usage_in_bytes
  kCgroupMemoryLimitBytes,          // v2 memory.max, v1 memory.limit_in_bytes; absent when unlimited
  kCgroupMemoryHighBytes,           // v2 memory.high; absent when "max" and on v1
  kCgroupMemoryWorkingSetBytes,     // usage - inactive_file (kubelet's container_memory_working_set_bytes)
  kCgroupMemoryAnonBytes,           // v2 anon, v1 total_rss
  kCgroupMemoryFileBytes,           // v2 file, v1 total_cache
  kCgroupMemoryKernelBytes,         // v2 kernel, v1 memory.kmem.usage_in_bytes
  kCgroupMemorySockBytes,           // v2 sock, v1 memory.kmem.tcp.usage_in_bytes
  kCgroupMemoryShmemBytes,          // v2 shmem, v1 total_shmem
  kCgroupMemoryInactiveFileBytes,   // v2 inactive_file, v1 total_inactive_file
  kCgroupMemorySwapBytes,           // v2 memory.swap.current, v1 memsw.usage - usage
  kCgroupMemoryEventsLowTotal,      // v2 memory.events low
  kCgroupMemoryEventsHighTotal,     // v2 memory.events high
  kCgroupMemoryEventsMaxTotal,      // v2 memory.events max, v1 memory.failcnt
  kCgroupMemoryEventsOomTotal,      // v2 memory.events oom
  kCgroupMemoryEventsOomKillTotal,  // v2 memory.events oom_kill, v1 memory.oom_control oom_kill
  kCgroupPidsCurrent,               // pids.current
  kCgroupPidsMax,                   // pids.max; absent when "max"

  // --- slow period: memory pressure (PSI), the cgroup's memory.pressure on v2, /proc/pressure/memory
  // otherwise ---
  kMemoryPressureSomeAvg10,  // ratio 0..1
  kMemoryPressureSomeAvg60,
  kMemoryPressureSomeAvg300,
  kMemoryPressureFullAvg10,
  kMemoryPressureFullAvg60,
  kMemoryPressureFullAvg300,
  kMemoryPressureSomeSecondsTotal,
  kMemoryPressureFullSecondsTotal,

  // --- slow period: /proc/<pid>/smaps_rollup ---
  kSmapsRssBytes,
  kSmapsPssBytes,
  kSmapsPssAnonBytes,
  kSmapsPssFileBytes,
  kSmapsPssShmemBytes,
  kSmapsSharedCleanBytes,
  kSmapsSharedDirtyBytes,
  kSmapsPrivateCleanBytes,
  kSmapsPrivateDirtyBytes,
  kSmapsAnonymousBytes,
  kSmapsSwapBytes,
  kSmapsSwapPssBytes,

  // --- slow period: open fds by type (readlink of /proc/<pid>/fd/*, capped) ---
  kOpenFdsSocket,
  kOpenFdsPipe,
  kOpenFdsFile,
  kOpenFdsAnonInode,
  kOpenFdsOther,
  kOpenFdsScanTruncated,  // 1 when the scan stopped at the cap, else 0

  // --- allocator statistics, every tick (leakwatch/allocator.h; absent when the allocator has no such
  // figure) ---
  kHeapBytes,                // process_heap_bytes: bytes allocated to the application
  kAllocatorAllocatedBytes,  // the same figure under leakwatch_allocator_*
  kAllocatorActiveBytes,
  kAllocatorResidentBytes,
  kAllocatorMappedBytes,
  kAllocatorRetainedBytes,
  kAllocatorMetadataBytes,
  kAllocatorFreeBytes,
  kAllocatorArenas,
  kAllocatorOverheadBytes,            // derived: resident - allocated
  kAllocatorUnexplainedAnonBytes,     // derived: RssAnon - allocator resident
  kAllocatorMallinfoDurationSeconds,  // glibc guard: duration of the last mallinfo2() call
  kAllocatorMallinfoPeriodSeconds,    // glibc guard: current (possibly backed-off) period
  kAllocatorMallinfoBackoffsTotal,    // glibc guard: calls over budget

  // --- leakwatch's sampling heap profiler, every tick (docs/HEAP_PROFILER.md). kHeapSamplerRunning is
  // always present (0 when off or unavailable); the others only while the allocation hooks are in the
  // process ---
  kHeapSamplerRunning,        // 1 while sampling, else 0
  kHeapSamplerIntervalBytes,  // mean bytes between samples
  kHeapSampledInuseBytes,     // live heap estimated from the samples
  kHeapSampledInuseObjects,
  kHeapSampledPeakInuseBytes,      // the largest kHeapSampledInuseBytes seen (the peak profile's)
  kHeapSampledAllocBytesTotal,     // bytes allocated since sampling began, estimated
  kHeapSamplerSamplesTotal,        // allocations sampled
  kHeapSamplerLiveSamples,         // sampled allocations still live
  kHeapSamplerStacks,              // distinct stacks recorded
  kHeapSamplerMemoryBytes,         // the sampler's own tables
  kHeapSamplerDroppedLiveTotal,    // samples not tracked: live table full
  kHeapSamplerDroppedStacksTotal,  // samples without their stack: stack table full
  kHeapSamplerHookSecondsTotal,    // time spent recording samples

  kCount  // not a signal
};

inline constexpr size_t kSignalCount = static_cast<size_t>(Signal::kCount);

enum class MetricKind : uint8_t { kGauge, kCounter };

// How often a signal is refreshed.
enum class Cadence : uint8_t { kEveryTick, kSlow };

struct SignalInfo {
  Signal signal;
  std::string_view key;     // stable snake_case id used in config and history files, e.g. "rss_anon_bytes"
  std::string_view metric;  // Prometheus family name, e.g. "process_resident_memory_bytes"
  std::string_view label_name;  // empty when the family has no label
  std::string_view label_value;
  std::string_view help;  // one line, no newline
  MetricKind kind;
  Cadence cadence;
};

// REQUIRES: s != Signal::kCount.
const SignalInfo& GetSignalInfo(Signal s);

// Looks a signal up by its stable key ("rss_bytes", "cgroup_memory_working_set_bytes", ...).
std::optional<Signal> FindSignal(std::string_view key);

// Sources of data. A source that fails makes its signals absent and increments its error counter. Each source
// is read at one cadence (SourceCadence): every tick, or on slow ticks only.
enum class Source : uint8_t {
  // every tick
  kProcStatm,     // /proc/<pid>/statm: RSS, virtual size, RssAnon
  kThreads,       // thread count (the link count of /proc/<pid>/task)
  kCpu,           // CPU times (times(2) for "self", else /proc/<pid>/stat)
  kLimits,        // getrlimit / /proc/<pid>/limits
  kOpenFds,       // fd count
  kCgroupMemory,  // cgroup memory usage, limit(s), memory.high, memory.stat
  kCgroupPids,    // cgroup pids.current, pids.max
  kAllocator,     // the allocator's statistics provider (leakwatch/allocator.h)
  kHeapSampler,   // leakwatch's heap sampler (its tables' counters)
  // slow ticks
  kProcStat,            // /proc/<pid>/stat: start time
  kProcStatus,          // /proc/<pid>/status: VmHWM, RssFile, RssShmem, VmSwap
  kCgroupMemoryDetail,  // v2 memory.events, memory.swap.current; v1 failcnt, oom_control, kmem, memsw files
  kPressure,            // PSI file
  kSmapsRollup,         // /proc/<pid>/smaps_rollup
  kFdTypes,             // /proc/<pid>/fd/* readlink scan
  // any tick
  kInternal,  // an unexpected exception inside a reader (a bug: please report it)
  kCount
};

inline constexpr size_t kSourceCount = static_cast<size_t>(Source::kCount);

// Stable snake_case name ("proc_statm", "cgroup_memory", ...), used as a metric label value.
std::string_view SourceName(Source s);

// When a source is read. kInternal is reported as kEveryTick (any reader may fail with it).
Cadence SourceCadence(Source s);

}  // namespace leakwatch

#pragma GCC visibility pop
