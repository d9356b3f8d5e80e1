#include "leakwatch/signals.h"

#include <array>

namespace leakwatch {
namespace {

using S = Signal;
constexpr MetricKind G = MetricKind::kGauge;
constexpr MetricKind C = MetricKind::kCounter;
constexpr Cadence T = Cadence::kEveryTick;
constexpr Cadence L = Cadence::kSlow;
constexpr std::string_view kPsiSomeHelp =
    "Share of wall time in which at least one task stalled on memory (PSI some), averaged over the window.";
constexpr std::string_view kPsiFullHelp =
    "Share of wall time in which all non-idle tasks stalled on memory (PSI full), averaged over the window.";

// Help strings of the process_* families are the ones client_golang, client_python and client_java publish.
constexpr std::array<SignalInfo, kSignalCount> kCatalog{{
    {S::kResidentMemoryBytes, "rss_bytes", "process_resident_memory_bytes", "", "",
     "Resident memory size in bytes.", G, T},
    {S::kVirtualMemoryBytes, "virtual_memory_bytes", "process_virtual_memory_bytes", "", "",
     "Virtual memory size in bytes.", G, T},
    {S::kVirtualMemoryMaxBytes, "virtual_memory_max_bytes", "process_virtual_memory_max_bytes", "", "",
     "Maximum amount of virtual memory available in bytes.", G, T},
    {S::kResidentMemoryPeakBytes, "rss_peak_bytes", "leakwatch_process_resident_memory_peak_bytes", "", "",
     "Peak resident memory size in bytes (VmHWM on the slow period, never below the current RSS).", G, L},
    {S::kRssAnonBytes, "rss_anon_bytes", "leakwatch_process_resident_memory_type_bytes", "type", "anon",
     "Resident memory by type (RssAnon, RssFile, RssShmem) in bytes.", G, T},
    {S::kRssFileBytes, "rss_file_bytes", "leakwatch_process_resident_memory_type_bytes", "type", "file",
     "Resident memory by type (RssAnon, RssFile, RssShmem) in bytes.", G, L},
    {S::kRssShmemBytes, "rss_shmem_bytes", "leakwatch_process_resident_memory_type_bytes", "type", "shmem",
     "Resident memory by type (RssAnon, RssFile, RssShmem) in bytes.", G, L},
    {S::kSwapBytes, "swap_bytes", "leakwatch_process_swap_bytes", "", "",
     "Anonymous memory of the process swapped out (VmSwap) in bytes.", G, L},
    {S::kThreads, "threads", "process_threads", "", "", "Number of OS threads in the process.", G, T},
    {S::kOpenFds, "open_fds", "process_open_fds", "", "", "Number of open file descriptors.", G, T},
    {S::kMaxFds, "max_fds", "process_max_fds", "", "", "Maximum number of open file descriptors.", G, T},
    {S::kMaxFdsHard, "max_fds_hard", "leakwatch_process_max_fds_hard", "", "",
     "Hard limit on the number of open file descriptors (RLIMIT_NOFILE).", G, T},
    {S::kCpuSecondsTotal, "cpu_seconds_total", "process_cpu_seconds_total", "", "",
     "Total user and system CPU time spent in seconds.", C, T},
    {S::kCpuUserSecondsTotal, "cpu_user_seconds_total", "leakwatch_process_cpu_mode_seconds_total", "mode",
     "user", "CPU time spent by the process in seconds, by mode.", C, T},
    {S::kCpuSystemSecondsTotal, "cpu_system_seconds_total", "leakwatch_process_cpu_mode_seconds_total",
     "mode", "system", "CPU time spent by the process in seconds, by mode.", C, T},
    {S::kStartTimeSeconds, "start_time_seconds", "process_start_time_seconds", "", "",
     "Start time of the process since unix epoch in seconds.", G, L},

    {S::kCgroupMemoryUsageBytes, "cgroup_memory_usage_bytes", "leakwatch_cgroup_memory_usage_bytes", "", "",
     "Memory charged to the process's cgroup (memory.current or memory.usage_in_bytes) in bytes.", G, T},
    {S::kCgroupMemoryLimitBytes, "cgroup_memory_limit_bytes", "leakwatch_cgroup_memory_limit_bytes", "", "",
     "Memory limit of the cgroup (memory.max or memory.limit_in_bytes) in bytes; absent when unlimited.", G,
     T},
    {S::kCgroupMemoryHighBytes, "cgroup_memory_high_bytes", "leakwatch_cgroup_memory_high_bytes", "", "",
     "Memory throttling threshold of the cgroup (memory.high) in bytes; absent when unlimited or on cgroup "
     "v1.",
     G, T},
    {S::kCgroupMemoryWorkingSetBytes, "cgroup_memory_working_set_bytes",
     "leakwatch_cgroup_memory_working_set_bytes", "", "",
     "Cgroup memory usage minus inactive file cache in bytes, as the kubelet computes the working set.", G,
     T},
    {S::kCgroupMemoryAnonBytes, "cgroup_memory_anon_bytes", "leakwatch_cgroup_memory_stat_bytes", "type",
     "anon", "Cgroup memory by type from memory.stat in bytes.", G, T},
    {S::kCgroupMemoryFileBytes, "cgroup_memory_file_bytes", "leakwatch_cgroup_memory_stat_bytes", "type",
     "file", "Cgroup memory by type from memory.stat in bytes.", G, T},
    {S::kCgroupMemoryKernelBytes, "cgroup_memory_kernel_bytes", "leakwatch_cgroup_memory_stat_bytes", "type",
     "kernel", "Cgroup memory by type from memory.stat in bytes.", G, L},
    {S::kCgroupMemorySockBytes, "cgroup_memory_sock_bytes", "leakwatch_cgroup_memory_stat_bytes", "type",
     "sock", "Cgroup memory by type from memory.stat in bytes.", G, L},
    {S::kCgroupMemoryShmemBytes, "cgroup_memory_shmem_bytes", "leakwatch_cgroup_memory_stat_bytes", "type",
     "shmem", "Cgroup memory by type from memory.stat in bytes.", G, T},
    {S::kCgroupMemoryInactiveFileBytes, "cgroup_memory_inactive_file_bytes",
     "leakwatch_cgroup_memory_stat_bytes", "type", "inactive_file",
     "Cgroup memory by type from memory.stat in bytes.", G, T},
    {S::kCgroupMemorySwapBytes, "cgroup_memory_swap_bytes", "leakwatch_cgroup_memory_swap_bytes", "", "",
     "Swap used by the cgroup in bytes.", G, L},
    {S::kCgroupMemoryEventsLowTotal, "cgroup_memory_events_low_total", "leakwatch_cgroup_memory_events_total",
     "event", "low",
     "Cgroup memory events (memory.events; v1: max is memory.failcnt) since the cgroup was created.", C, L},
    {S::kCgroupMemoryEventsHighTotal, "cgroup_memory_events_high_total",
     "leakwatch_cgroup_memory_events_total", "event", "high",
     "Cgroup memory events (memory.events; v1: max is memory.failcnt) since the cgroup was created.", C, L},
    {S::kCgroupMemoryEventsMaxTotal, "cgroup_memory_events_max_total", "leakwatch_cgroup_memory_events_total",
     "event", "max",
     "Cgroup memory events (memory.events; v1: max is memory.failcnt) since the cgroup was created.", C, L},
    {S::kCgroupMemoryEventsOomTotal, "cgroup_memory_events_oom_total", "leakwatch_cgroup_memory_events_total",
     "event", "oom",
     "Cgroup memory events (memory.events; v1: max is memory.failcnt) since the cgroup was created.", C, L},
    {S::kCgroupMemoryEventsOomKillTotal, "cgroup_memory_events_oom_kill_total",
     "leakwatch_cgroup_memory_events_total", "event", "oom_kill",
     "Cgroup memory events (memory.events; v1: max is memory.failcnt) since the cgroup was created.", C, L},
    {S::kCgroupPidsCurrent, "cgroup_pids_current", "leakwatch_cgroup_pids", "", "",
     "Number of tasks (processes and threads) in the cgroup (pids.current).", G, T},
    {S::kCgroupPidsMax, "cgroup_pids_max", "leakwatch_cgroup_pids_max", "", "",
     "Maximum number of tasks in the cgroup (pids.max); absent when unlimited.", G, T},

    {S::kMemoryPressureSomeAvg10, "memory_pressure_some_avg10", "leakwatch_memory_pressure_some_ratio",
     "window", "10s", kPsiSomeHelp, G, L},
    {S::kMemoryPressureSomeAvg60, "memory_pressure_some_avg60", "leakwatch_memory_pressure_some_ratio",
     "window", "60s", kPsiSomeHelp, G, L},
    {S::kMemoryPressureSomeAvg300, "memory_pressure_some_avg300", "leakwatch_memory_pressure_some_ratio",
     "window", "300s", kPsiSomeHelp, G, L},
    {S::kMemoryPressureFullAvg10, "memory_pressure_full_avg10", "leakwatch_memory_pressure_full_ratio",
     "window", "10s", kPsiFullHelp, G, L},
    {S::kMemoryPressureFullAvg60, "memory_pressure_full_avg60", "leakwatch_memory_pressure_full_ratio",
     "window", "60s", kPsiFullHelp, G, L},
    {S::kMemoryPressureFullAvg300, "memory_pressure_full_avg300", "leakwatch_memory_pressure_full_ratio",
     "window", "300s", kPsiFullHelp, G, L},
    {S::kMemoryPressureSomeSecondsTotal, "memory_pressure_some_seconds_total",
     "leakwatch_memory_pressure_stalled_seconds_total", "kind", "some",
     "Total time some (kind=some) or all (kind=full) tasks stalled on memory in seconds (PSI total).", C, L},
    {S::kMemoryPressureFullSecondsTotal, "memory_pressure_full_seconds_total",
     "leakwatch_memory_pressure_stalled_seconds_total", "kind", "full",
     "Total time some (kind=some) or all (kind=full) tasks stalled on memory in seconds (PSI total).", C, L},

    {S::kSmapsRssBytes, "smaps_rss_bytes", "leakwatch_process_smaps_rollup_bytes", "field", "rss",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsPssBytes, "smaps_pss_bytes", "leakwatch_process_smaps_rollup_bytes", "field", "pss",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsPssAnonBytes, "smaps_pss_anon_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "pss_anon",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsPssFileBytes, "smaps_pss_file_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "pss_file",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsPssShmemBytes, "smaps_pss_shmem_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "pss_shmem",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsSharedCleanBytes, "smaps_shared_clean_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "shared_clean",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsSharedDirtyBytes, "smaps_shared_dirty_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "shared_dirty",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsPrivateCleanBytes, "smaps_private_clean_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "private_clean",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsPrivateDirtyBytes, "smaps_private_dirty_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "private_dirty",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsAnonymousBytes, "smaps_anonymous_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "anonymous",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsSwapBytes, "smaps_swap_bytes", "leakwatch_process_smaps_rollup_bytes", "field", "swap",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},
    {S::kSmapsSwapPssBytes, "smaps_swap_pss_bytes", "leakwatch_process_smaps_rollup_bytes", "field",
     "swap_pss",
     "Process memory from /proc/<pid>/smaps_rollup in bytes, by field (sampled on the slow period).", G, L},

    {S::kOpenFdsSocket, "open_fds_socket", "leakwatch_process_open_fds_by_type", "type", "socket",
     "Open file descriptors by type (sampled on the slow period, capped at the scan limit).", G, L},
    {S::kOpenFdsPipe, "open_fds_pipe", "leakwatch_process_open_fds_by_type", "type", "pipe",
     "Open file descriptors by type (sampled on the slow period, capped at the scan limit).", G, L},
    {S::kOpenFdsFile, "open_fds_file", "leakwatch_process_open_fds_by_type", "type", "file",
     "Open file descriptors by type (sampled on the slow period, capped at the scan limit).", G, L},
    {S::kOpenFdsAnonInode, "open_fds_anon_inode", "leakwatch_process_open_fds_by_type", "type", "anon_inode",
     "Open file descriptors by type (sampled on the slow period, capped at the scan limit).", G, L},
    {S::kOpenFdsOther, "open_fds_other", "leakwatch_process_open_fds_by_type", "type", "other",
     "Open file descriptors by type (sampled on the slow period, capped at the scan limit).", G, L},
    {S::kOpenFdsScanTruncated, "open_fds_scan_truncated", "leakwatch_process_open_fds_scan_truncated", "", "",
     "1 when the last fds-by-type scan stopped at its limit (counts are then partial), else 0.", G, L},

    {S::kHeapBytes, "heap_bytes", "process_heap_bytes", "", "",
     "Process heap size in bytes: bytes allocated to the application, as its allocator reports them.", G, T},
    {S::kAllocatorAllocatedBytes, "allocator_allocated_bytes", "leakwatch_allocator_allocated_bytes", "", "",
     "Bytes in live allocations, as the allocator reports them (same value as process_heap_bytes).", G, T},
    {S::kAllocatorActiveBytes, "allocator_active_bytes", "leakwatch_allocator_active_bytes", "", "",
     "Bytes in pages the allocator uses for live allocations, size-class rounding included (jemalloc).", G,
     T},
    {S::kAllocatorResidentBytes, "allocator_resident_bytes", "leakwatch_allocator_resident_bytes", "", "",
     "Bytes the allocator holds in resident pages: live data, caches, free pages not yet returned, metadata.",
     G, T},
    {S::kAllocatorMappedBytes, "allocator_mapped_bytes", "leakwatch_allocator_mapped_bytes", "", "",
     "Bytes of address space the allocator has mapped.", G, T},
    {S::kAllocatorRetainedBytes, "allocator_retained_bytes", "leakwatch_allocator_retained_bytes", "", "",
     "Bytes of address space the allocator keeps mapped but has returned to the OS (not resident).", G, T},
    {S::kAllocatorMetadataBytes, "allocator_metadata_bytes", "leakwatch_allocator_metadata_bytes", "", "",
     "Bytes of the allocator's own bookkeeping.", G, T},
    {S::kAllocatorFreeBytes, "allocator_free_bytes", "leakwatch_allocator_free_bytes", "", "",
     "Bytes free inside the allocator and still resident (page heap, caches, free chunks).", G, T},
    {S::kAllocatorArenas, "allocator_arenas", "leakwatch_allocator_arenas", "", "",
     "Number of arenas of the allocator.", G, T},
    {S::kAllocatorOverheadBytes, "allocator_overhead_bytes", "leakwatch_allocator_overhead_bytes", "", "",
     "Allocator resident bytes minus allocated bytes: fragmentation, caches and metadata.", G, T},
    {S::kAllocatorUnexplainedAnonBytes, "allocator_unexplained_anon_bytes",
     "leakwatch_allocator_unexplained_anon_bytes", "", "",
     "Anonymous RSS minus allocator resident bytes: thread stacks, direct mmaps, another allocator's memory.",
     G, T},
    {S::kAllocatorMallinfoDurationSeconds, "allocator_mallinfo_duration_seconds",
     "leakwatch_allocator_mallinfo_duration_seconds", "", "",
     "Duration of the last glibc mallinfo2() call in seconds (the application's malloc waits meanwhile).", G,
     T},
    {S::kAllocatorMallinfoPeriodSeconds, "allocator_mallinfo_period_seconds",
     "leakwatch_allocator_mallinfo_period_seconds", "", "",
     "Current period of the glibc mallinfo2() calls in seconds; above the configured one while backed off.",
     G, T},
    {S::kAllocatorMallinfoBackoffsTotal, "allocator_mallinfo_backoffs_total",
     "leakwatch_allocator_mallinfo_backoffs_total", "", "",
     "glibc mallinfo2() calls that took longer than their budget (each doubles the period).", C, T},

    {S::kHeapSamplerRunning, "heap_sampler_running", "leakwatch_heap_sampler_running", "", "",
     "1 while leakwatch's heap sampler samples allocations, else 0 (off, or no allocation hooks in the "
     "process).",
     G, T},
    {S::kHeapSamplerIntervalBytes, "heap_sampler_interval_bytes", "leakwatch_heap_sampler_interval_bytes", "",
     "", "Mean bytes allocated between two sampled allocations (per thread).", G, T},
    {S::kHeapSampledInuseBytes, "heap_sampled_inuse_bytes", "leakwatch_heap_sampled_inuse_bytes", "", "",
     "Bytes in live allocations, estimated from the heap sampler's samples.", G, T},
    {S::kHeapSampledInuseObjects, "heap_sampled_inuse_objects", "leakwatch_heap_sampled_inuse_objects", "",
     "", "Live allocations, estimated from the heap sampler's samples.", G, T},
    {S::kHeapSampledPeakInuseBytes, "heap_sampled_peak_inuse_bytes",
     "leakwatch_heap_sampled_peak_inuse_bytes", "", "",
     "The largest estimate of bytes in live allocations seen (the peak heap profile's).", G, T},
    {S::kHeapSampledAllocBytesTotal, "heap_sampled_alloc_bytes_total",
     "leakwatch_heap_sampled_alloc_bytes_total", "", "",
     "Bytes allocated since the heap sampler started, estimated from its samples.", C, T},
    {S::kHeapSamplerSamplesTotal, "heap_sampler_samples_total", "leakwatch_heap_sampler_samples_total", "",
     "", "Allocations the heap sampler sampled.", C, T},
    {S::kHeapSamplerLiveSamples, "heap_sampler_live_samples", "leakwatch_heap_sampler_live_samples", "", "",
     "Sampled allocations not freed yet.", G, T},
    {S::kHeapSamplerStacks, "heap_sampler_stacks", "leakwatch_heap_sampler_stacks", "", "",
     "Distinct allocation stacks the heap sampler recorded.", G, T},
    {S::kHeapSamplerMemoryBytes, "heap_sampler_memory_bytes", "leakwatch_heap_sampler_memory_bytes", "", "",
     "Memory of the heap sampler's own tables in bytes.", G, T},
    {S::kHeapSamplerDroppedLiveTotal, "heap_sampler_dropped_live_table_full_total",
     "leakwatch_heap_sampler_dropped_samples_total", "reason", "live_table_full",
     "Samples the heap sampler could not record in full, by reason (a table at its bound).", C, T},
    {S::kHeapSamplerDroppedStacksTotal, "heap_sampler_dropped_stack_table_full_total",
     "leakwatch_heap_sampler_dropped_samples_total", "reason", "stack_table_full",
     "Samples the heap sampler could not record in full, by reason (a table at its bound).", C, T},
    {S::kHeapSamplerHookSecondsTotal, "heap_sampler_hook_seconds_total",
     "leakwatch_heap_sampler_hook_seconds_total", "", "",
     "Time spent in the allocation hooks recording samples (stack capture included) in seconds.", C, T},
}};

constexpr bool CatalogIsInEnumOrder() {
  for (size_t i = 0; i < kCatalog.size(); ++i) {
    if (static_cast<size_t>(kCatalog[i].signal) != i) return false;
  }
  return true;
}
static_assert(CatalogIsInEnumOrder(), "kCatalog rows must follow the order of enum Signal");

struct SourceRow {
  std::string_view name;
  Cadence cadence;
};
constexpr std::array<SourceRow, kSourceCount> kSources{{
    {"proc_statm", T},
    {"threads", T},
    {"cpu", T},
    {"limits", T},
    {"open_fds", T},
    {"cgroup_memory", T},
    {"cgroup_pids", T},
    {"allocator", T},
    {"heap_sampler", T},
    {"proc_stat", L},
    {"proc_status", L},
    {"cgroup_memory_detail", L},
    {"pressure", L},
    {"smaps_rollup", L},
    {"fd_types", L},
    {"internal", T},
}};

}  // namespace

const SignalInfo& GetSignalInfo(Signal s) { return kCatalog[static_cast<size_t>(s)]; }

std::optional<Signal> FindSignal(std::string_view key) {
  for (const auto& info : kCatalog) {
    if (info.key == key) return info.signal;
  }
  return std::nullopt;
}

std::string_view SourceName(Source s) { return kSources[static_cast<size_t>(s)].name; }

Cadence SourceCadence(Source s) { return kSources[static_cast<size_t>(s)].cadence; }

}  // namespace leakwatch
