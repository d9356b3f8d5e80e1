#pragma once
// WriteBundle: one incident bundle, `<dir>/<time>-<pid>-<trigger>/`, built under a temporary name
// (`.tmp-<name>`) and renamed when complete, so a reader never sees half a bundle.
//
// Contents (docs/BUNDLES.md): manifest.json (what fired and why, who the process is, the files and their
// sizes, what was skipped and why, the heap profile or why there is none); the memory picture at that moment
// (status, smaps_rollup and limits of the process, the memory cgroup's stat / events / pressure files); the
// heap profile when the allocator can give one (heap.prof, heap.pb.gz: agent/bundle/heap_profile_part.h);
// snapshot.json (every signal of the latest tick) and allocator.json; threads and fds inventories; the metric
// history (full resolution and downsampled). The small parts come first; with less memory headroom than
// `low_headroom_bytes` (cgroup limit - working set) the large ones (inventories, history) are skipped, and
// any part not done by the deadline is skipped too — the manifest says which and why, and is always written.
//
// Safety: files are written with a 64 KiB buffer, synced and dropped from the page cache as they go (page
// cache is charged to the cgroup); nothing forks; no core dump.
//
// Thread-safety: WriteBundle may run on any thread (the agent runs it on its bundle worker); `inputs.history`
// is read with its own locking. Cost: milliseconds to a second, dominated by the inventories and the history.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/cgroup/cgroup_location.h"
#include "leakwatch/history.h"
#include "leakwatch/result.h"
#include "leakwatch/rules.h"
#include "leakwatch/snapshot.h"

namespace leakwatch::internal {

struct BundleWriterOptions {
  std::string dir;  // created (0750) when missing
  std::string proc_root = "/proc";
  std::string pid = "self";
  uint64_t max_file_bytes = 64ull << 20;      // each file is cut at this size (the manifest says so)
  uint64_t low_headroom_bytes = 64ull << 20;  // below this headroom only the small parts are written
  size_t max_fds = 10000;                     // fds inspected for fds.csv
  // /proc/<pid>/smaps_rollup is copied only when on and while RSS is at most this: the kernel produces it by
  // walking every page table under the process's mmap lock (the host's mmap/munmap wait meanwhile).
  bool smaps_rollup = true;
  uint64_t smaps_rollup_max_rss_bytes = 1ull << 30;
  // Under glibc malloc, add malloc_info.xml (glibc's per-arena statistics). malloc_info walks every free
  // chunk under each arena's lock, stalling the host's malloc for up to ~1 s on a fragmented heap: on only
  // when AllocatorOptions::glibc_mallinfo (the operator's consent to that cost) is on.
  bool glibc_malloc_info = false;
  size_t max_threads = 100000;  // threads listed in threads.csv
};

struct BundleTrigger {
  std::string source;  // "rule", "api", "http", "signal"
  std::string reason;  // free text: the rule's description, or what the caller gave
  std::optional<RuleStatus> rule = std::nullopt;  // for source == "rule"
};

class HeapProfiler;

struct BundleInputs {
  std::shared_ptr<const Snapshot> snapshot;  // the latest tick (may be null: then no snapshot-based parts)
  const History* history = nullptr;
  CgroupLocation cgroup;  // where the memory cgroup's files are (version 0: none)
  // leakwatch's heap sampler; its profiles replace the allocator's when it has samples (may be null).
  const HeapProfiler* heap_profiler = nullptr;
};

struct BundleFileEntry {
  std::string name;
  uint64_t bytes = 0;
  bool capped = false;  // cut at max_file_bytes or by a full disk
};

struct BundleSkip {
  std::string part;
  std::string why;
};

struct BundleResult {
  std::string name;  // e.g. "20261201T192712.345Z-4242-memory_time_to_limit"
  std::string path;  // <dir>/<name>
  uint64_t bytes = 0;
  std::chrono::nanoseconds duration{0};
  std::vector<BundleFileEntry> files;
  std::vector<BundleSkip> skipped;
};

// Fails only when the bundle directory cannot be made or renamed (then the temporary one is removed); a part
// that fails is recorded in `skipped` and the bundle still completes.
Result<BundleResult> WriteBundle(const BundleWriterOptions& options, const BundleTrigger& trigger,
                                 const BundleInputs& inputs, std::chrono::steady_clock::time_point deadline);

// The directory name of a bundle: "<UTC time with ms>Z-<pid>-<label>", label = the rule name or the source,
// reduced to [a-z0-9_-].
std::string BundleName(std::chrono::system_clock::time_point t, int pid, const std::string& label);

}  // namespace leakwatch::internal
