#pragma once
// ProcessReader: the process signals (the standard process_* metrics and a few more).
//
// Sources and signals, each from the cheapest correct source (costs measured at 10 and 1,000 threads):
//   every tick
//     kProcStatm  <pid>/statm          rss, virtual memory, RssAnon (= resident - shared)        ~0.6 µs
//     kThreads    ThreadCounter        threads                                                    ~0.8 µs
//     kCpu        times(2) for "self", CPU user/system/total seconds                   0.3 / ~17 µs
//                 else <pid>/stat
//     kOpenFds    FdCounter            open fds                                                   ~1 µs
//     kLimits     getrlimit() or <pid>/limits   max fds (soft, hard), max virtual memory (RLIMIT_AS soft)
//   slow ticks
//     kProcStatus <pid>/status         rss peak (VmHWM), RssFile, RssShmem, VmSwap               ~4-7 µs
//     kProcStat   <pid>/stat           start time (Unix seconds), read until it succeeds once  2 / ~30 µs
// (/proc/<pid>/stat would give threads and CPU in one read, but formatting it sums every thread's counters:
// ~30 µs at 1,000 threads, against ~18 µs for times() and the link count together.)
// An unlimited limit is exported as 18446744073709551615.0 (2^64-1, what client_golang exports).
// The start time needs the boot time, read once at construction from <proc_root>/stat; when that fails the
// start time stays absent (logged once) and the other signals are unaffected.
//
// Thread-safety: one thread at a time (the sampler's). Files are kept open and re-read with pread().

#include <cstdint>
#include <optional>
#include <string>

#include "agent/common/file_reader.h"
#include "agent/procfs/fd_counter.h"
#include "agent/procfs/proc_stat.h"
#include "agent/procfs/thread_counter.h"
#include "agent/sampler/source_reader.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

struct ProcessReaderOptions {
  std::string proc_root = "/proc";
  std::string pid = "self";
  // With pid "self", read the limits with getrlimit() (no file I/O) instead of parsing <pid>/limits. Ignored
  // for other pids. Set it to false to read a fixture tree's limits file.
  bool limits_from_syscall = true;
  // With pid "self", read the CPU times with times(2) instead of parsing <pid>/stat. Ignored for other pids.
  bool cpu_from_syscall = true;
  bool force_getdents = false;  // see FdCounterOptions
};

class ProcessReader final : public SourceReader {
 public:
  // Does not fail: a file that cannot be read yet is retried on every Read().
  explicit ProcessReader(ProcessReaderOptions options = {});

  void Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) override;

  const FdCounter& fd_counter() const { return fd_counter_; }
  const ThreadCounter& thread_counter() const { return thread_counter_; }

 private:
  Status ReadStatm(Snapshot* snapshot);
  Status ReadThreads(Snapshot* snapshot);
  Status ReadCpu(Snapshot* snapshot);
  Status ReadCpuFromSyscall(Snapshot* snapshot);
  Status ReadOpenFds(Snapshot* snapshot);
  Status ReadLimits(Snapshot* snapshot);
  Status ReadLimitsFromSyscall(Snapshot* snapshot);
  Status ReadStatus(Snapshot* snapshot);
  Status ReadStartTime(Snapshot* snapshot);
  Result<ProcStat> ReadStat();

  ReusableFile statm_file_;
  ReusableFile stat_file_;
  ReusableFile status_file_;
  ReusableFile limits_file_;
  FdCounter fd_counter_;
  ThreadCounter thread_counter_;
  bool limits_from_syscall_;
  bool cpu_from_syscall_;
  uint64_t page_size_;
  std::optional<uint64_t> clock_ticks_per_second_;
  std::optional<uint64_t> boot_time_seconds_;
  std::optional<double> start_time_seconds_;  // read once
};

}  // namespace leakwatch::internal
