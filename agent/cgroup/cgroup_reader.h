#pragma once
// CgroupReader: the per-tick reader of the process's memory cgroup (v1 or v2), its pids cgroup and memory
// PSI.
//
// Signals (see leakwatch/signals.h for the catalogue), by source:
//   every tick
//   kCgroupMemory:       kCgroupMemoryUsageBytes, LimitBytes, HighBytes (v2), WorkingSetBytes,
//   Anon/File/Shmem/
//                        InactiveFileBytes; on slow ticks also Kernel/SockBytes from v2 memory.stat.
//   kCgroupPids:         kCgroupPidsCurrent, kCgroupPidsMax.
//   slow ticks
//   kCgroupMemoryDetail: kCgroupMemorySwapBytes, EventsLow/High/Max/Oom/OomKillTotal; v1 Kernel/SockBytes.
//   kPressure:           kMemoryPressure{Some,Full}{Avg10,Avg60,Avg300} (ratio 0..1), {Some,Full}SecondsTotal
//                        (seconds).
// Usage, limits, memory.stat and pids (the values rules compare, and their ratios) are read every tick;
// events, swap, v1 kernel memory and PSI (already a 10 s average) on the slow period, which halves the cost
// on v1. Also sets Snapshot::cgroup_version and Snapshot::cgroup_path.
//
// Where each value comes from:
//   usage       v2 memory.current;  v1 memory.usage_in_bytes
//   limit       v2 the smallest memory.max of the cgroup and its ancestors below the mount root (kubelet and
//               systemd put limits on parent slices); v1 memory.limit_in_bytes, or memory.stat
//               hierarchical_memory_limit when that one is unlimited. Absent when unlimited ("max", >= 2^62).
//   high        v2 memory.high ("max": absent); v1 absent
//   working set usage - inactive_file (v2 inactive_file, v1 total_inactive_file), clamped at 0
//   by type     v2 memory.stat anon, file, kernel (kernels >= 5.18 only), sock, shmem, inactive_file;
//               v1 memory.stat total_rss, total_cache, memory.kmem.usage_in_bytes,
//               memory.kmem.tcp.usage_in_bytes, total_shmem, total_inactive_file (the key without "total_"
//               when the total_ key is missing)
//   swap        v2 memory.swap.current; v1 memory.memsw.usage_in_bytes - usage (clamped at 0) when memsw
//   exists events      v2 memory.events low/high/max/oom/oom_kill; v1 max = memory.failcnt, oom_kill =
//   memory.oom_control
//               oom_kill (low, high, oom absent)
//   pids        pids.current, pids.max ("max": absent) of the v1 pids cgroup or the v2 cgroup
//   pressure    v2 the cgroup's memory.pressure; else <proc_root>/pressure/memory
//
// Error policy. Files a kernel may legitimately lack (v2 memory.swap.current, v1 memory.memsw.usage_in_bytes,
// memory.kmem.usage_in_bytes, memory.kmem.tcp.usage_in_bytes, ancestors' memory.max, the pids files of a
// hierarchy's root cgroup, the PSI files of a kernel without PSI) are probed once when the cgroup is located:
// a file absent then leaves its signals absent without any error (v2 without memory.pressure falls back to
// the system-wide file). Every other failure -- a file that disappears or cannot be read, a value that does
// not parse -- leaves the signals depending on that file absent and is reported to the ErrorSink, once per
// Read() per source (the first error of the source, naming the file and value). A key missing from
// memory.stat or memory.events is absent, not an error (key sets differ between kernels). When the process
// has no memory cgroup at all (version 0) the cgroup signals are absent and nothing is reported: that is
// logged once at construction. PSI is still read from <proc_root>/pressure/memory in that case.
//
// Following the process. Paths are resolved at construction and kept: the hot files stay open and are re-read
// with pread(). After a read failure the cgroup is located again, at most once per `relocate_interval` (the
// first failure may relocate at once); when the process is now in another cgroup (path or version changed)
// the files are reopened and the tick is read again from the new place. A process moved to another cgroup
// whose old cgroup still exists is therefore not noticed until a read fails (typically when the old cgroup is
// removed). When the construction-time location failed (e.g. /proc/<pid>/cgroup unreadable), every Read()
// reports that error for kCgroupMemory and retries on the same schedule.
//
// Thread-safety: not thread-safe; one thread (the agent's sampler) calls Read(). Never throws.
// Cost per Read(): 5 pread() calls on open files on a regular tick (v2: +1 per ancestor level), 8-12 on a
// slow tick, one memory.stat parse (~60 keys; ~8 µs of the ~10 µs, mostly the kernel formatting it); no
// allocation in the steady state except copying the cgroup path into the snapshot (and error messages when
// something fails). A relocation costs what LocateCgroup() costs.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/cgroup/cgroup_location.h"
#include "agent/cgroup/cgroup_parse.h"
#include "agent/common/file_reader.h"
#include "agent/sampler/source_reader.h"

namespace leakwatch::internal {

struct CgroupReaderOptions {
  CgroupRoots roots;
  // Minimum time between two relocation attempts after read failures.
  std::chrono::steady_clock::duration relocate_interval = std::chrono::seconds(30);
  // Time source for the relocation rate limit; empty means std::chrono::steady_clock::now (tests inject a
  // clock).
  std::function<std::chrono::steady_clock::time_point()> now;
};

class CgroupReader final : public SourceReader {
 public:
  // Locates the cgroup (see LocateCgroup) and opens nothing yet (files open on the first Read()). Never
  // fails: a location error is kept and reported by Read().
  explicit CgroupReader(CgroupReaderOptions options = {});
  ~CgroupReader() override;
  CgroupReader(const CgroupReader&) = delete;
  CgroupReader& operator=(const CgroupReader&) = delete;

  void Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) override;

  // The location in use (version 0 when none was found or locating failed).
  const CgroupLocation& location() const { return location_; }

 private:
  struct Files;
  class Pending;

  std::chrono::steady_clock::time_point Now() const;
  void Adopt(CgroupLocation location);
  // Tries to locate again, rate-limited. Returns true when the location changed (files were rebuilt).
  bool MaybeRelocate();
  void ReadAll(TickKind tick, Snapshot* snapshot, Pending* pending);
  void ReadMemoryV1(TickKind tick, Snapshot* snapshot, Pending* pending);
  void ReadMemoryV2(TickKind tick, Snapshot* snapshot, Pending* pending);
  void ReadPids(Snapshot* snapshot, Pending* pending);
  void ReadPressure(Snapshot* snapshot, Pending* pending);

  CgroupReaderOptions options_;
  CgroupLocation location_;
  std::optional<Error> locate_error_;
  std::optional<std::chrono::steady_clock::time_point> last_relocate_;
  std::unique_ptr<Files> files_;
  FlatKeyedFile stat_;    // reused between ticks (memory.stat)
  FlatKeyedFile events_;  // reused between ticks (memory.events, v1 memory.oom_control)
};

}  // namespace leakwatch::internal
