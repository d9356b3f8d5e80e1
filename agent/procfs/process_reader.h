#pragma once
// ProcessReader: the every-tick process signals (the standard process_* metrics and a few more).
//
// Sources and signals:
//   kProcStatus  /proc/<pid>/status   rss, virtual memory, rss peak (VmHWM), RssAnon/File/Shmem, VmSwap
//   (bytes) kProcStat    /proc/<pid>/stat     threads, CPU user/system/total seconds, start time (Unix
//   seconds) kOpenFds     FdCounter            open fds kLimits      getrlimit() or /proc/<pid>/limits   max
//   fds (soft, hard), max virtual memory (RLIMIT_AS soft)
// An unlimited limit is exported as 18446744073709551615.0 (2^64-1, what client_golang exports).
// The start time needs the boot time, read once at construction from <proc_root>/stat; when that fails the
// start time stays absent (logged once) and the other signals are unaffected.
//
// Thread-safety: one thread at a time (the sampler's). Cost: ~20 µs per Read() measured (stat and status are
// kept open and re-read with pread(); the fd count is one stat() on Linux >= 6.2, else see FdCounter).

#include <cstdint>
#include <optional>
#include <string>

#include "agent/common/file_reader.h"
#include "agent/procfs/fd_counter.h"
#include "agent/sampler/source_reader.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

struct ProcessReaderOptions {
  std::string proc_root = "/proc";
  std::string pid = "self";
  // With pid "self", read the limits with getrlimit() (no file I/O) instead of parsing <pid>/limits. Ignored
  // for other pids. Set it to false to read a fixture tree's limits file.
  bool limits_from_syscall = true;
  bool force_getdents = false;  // see FdCounterOptions
};

class ProcessReader final : public SourceReader {
 public:
  // Does not fail: a file that cannot be read yet is retried on every Read().
  explicit ProcessReader(ProcessReaderOptions options = {});

  void Read(Snapshot* snapshot, ErrorSink& errors) override;

  const FdCounter& fd_counter() const { return fd_counter_; }

 private:
  Status ReadStatus(Snapshot* snapshot);
  Status ReadStat(Snapshot* snapshot);
  Status ReadOpenFds(Snapshot* snapshot);
  Status ReadLimits(Snapshot* snapshot);
  Status ReadLimitsFromSyscall(Snapshot* snapshot);

  ReusableFile stat_file_;
  ReusableFile status_file_;
  ReusableFile limits_file_;
  FdCounter fd_counter_;
  bool limits_from_syscall_;
  std::optional<uint64_t> clock_ticks_per_second_;
  std::optional<uint64_t> boot_time_seconds_;
};

}  // namespace leakwatch::internal
