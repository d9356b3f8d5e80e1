#pragma once
// Parser for /proc/<pid>/status (proc(5)). Pure function over the file's text.
//
// Thread-safety: pure, thread-safe. Cost: one pass over ~1.5 KiB, no allocation.

#include <cstdint>
#include <optional>
#include <string_view>

namespace leakwatch::internal {

// Memory fields are in BYTES (the file says "kB", meaning KiB). A key that is missing from the text or whose
// value does not parse is nullopt: kernel threads and zombies have no Vm* lines, and older kernels lack
// RssAnon/RssFile/RssShmem (added in 4.5).
struct ProcStatus {
  std::optional<uint64_t> vm_peak_bytes;    // VmPeak
  std::optional<uint64_t> vm_size_bytes;    // VmSize
  std::optional<uint64_t> vm_hwm_bytes;     // VmHWM (peak resident set)
  std::optional<uint64_t> vm_rss_bytes;     // VmRSS
  std::optional<uint64_t> rss_anon_bytes;   // RssAnon
  std::optional<uint64_t> rss_file_bytes;   // RssFile
  std::optional<uint64_t> rss_shmem_bytes;  // RssShmem
  std::optional<uint64_t> vm_swap_bytes;    // VmSwap
  std::optional<uint64_t> threads;          // Threads (a count)
};

ProcStatus ParseProcStatus(std::string_view text);

}  // namespace leakwatch::internal
