#include "agent/procfs/process_reader.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include "agent/logging/log.h"
#include "agent/procfs/boot_time.h"
#include "agent/procfs/proc_limits.h"
#include "agent/procfs/proc_stat.h"
#include "agent/procfs/proc_status.h"
#include "agent/procfs/read_source.h"

namespace leakwatch::internal {
namespace {

std::optional<double> AsDouble(std::optional<uint64_t> value) {
  if (!value) return std::nullopt;
  return static_cast<double>(*value);
}

// RLIM_INFINITY and "unlimited" are both 2^64-1, which is exported as is (as a double), like client_golang
// does.
double LimitAsDouble(uint64_t limit) { return static_cast<double>(limit); }

Error PrefixError(const std::string& path, const Error& error) { return Error{path + ": " + error.message}; }

std::optional<uint64_t> ClockTicksPerSecond() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  return static_cast<uint64_t>(ticks);
}

std::optional<uint64_t> ReadBootTime(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    Log()->warn("process start time will be absent: {}", text.error().message);
    return std::nullopt;
  }
  std::optional<uint64_t> boot_time = ParseBootTime(*text);
  if (!boot_time) Log()->warn("process start time will be absent: {}: no valid btime line", path);
  return boot_time;
}

}  // namespace

ProcessReader::ProcessReader(ProcessReaderOptions options)
    : stat_file_(options.proc_root + "/" + options.pid + "/stat"),
      status_file_(options.proc_root + "/" + options.pid + "/status"),
      limits_file_(options.proc_root + "/" + options.pid + "/limits"),
      fd_counter_(FdCounterOptions{options.proc_root, options.pid, options.force_getdents}),
      limits_from_syscall_(options.limits_from_syscall && options.pid == "self"),
      clock_ticks_per_second_(ClockTicksPerSecond()),
      boot_time_seconds_(ReadBootTime(options.proc_root + "/stat")) {}

void ProcessReader::Read(Snapshot* snapshot, ErrorSink& errors) {
  ReadSource(Source::kProcStatus,
             {Signal::kResidentMemoryBytes, Signal::kVirtualMemoryBytes, Signal::kResidentMemoryPeakBytes,
              Signal::kRssAnonBytes, Signal::kRssFileBytes, Signal::kRssShmemBytes, Signal::kSwapBytes},
             snapshot, errors, [&] { return ReadStatus(snapshot); });
  ReadSource(Source::kProcStat,
             {Signal::kThreads, Signal::kCpuUserSecondsTotal, Signal::kCpuSystemSecondsTotal,
              Signal::kCpuSecondsTotal, Signal::kStartTimeSeconds},
             snapshot, errors, [&] { return ReadStat(snapshot); });
  ReadSource(Source::kOpenFds, {Signal::kOpenFds}, snapshot, errors, [&] { return ReadOpenFds(snapshot); });
  ReadSource(Source::kLimits, {Signal::kMaxFds, Signal::kMaxFdsHard, Signal::kVirtualMemoryMaxBytes},
             snapshot, errors, [&] { return ReadLimits(snapshot); });
}

Status ProcessReader::ReadStatus(Snapshot* snapshot) {
  Result<std::string_view> text = status_file_.Read();
  if (!text.ok()) return text.error();
  const ProcStatus status = ParseProcStatus(*text);
  snapshot->set(Signal::kResidentMemoryBytes, AsDouble(status.vm_rss_bytes));
  snapshot->set(Signal::kVirtualMemoryBytes, AsDouble(status.vm_size_bytes));
  snapshot->set(Signal::kResidentMemoryPeakBytes, AsDouble(status.vm_hwm_bytes));
  snapshot->set(Signal::kRssAnonBytes, AsDouble(status.rss_anon_bytes));
  snapshot->set(Signal::kRssFileBytes, AsDouble(status.rss_file_bytes));
  snapshot->set(Signal::kRssShmemBytes, AsDouble(status.rss_shmem_bytes));
  snapshot->set(Signal::kSwapBytes, AsDouble(status.vm_swap_bytes));
  return OkStatus();
}

Status ProcessReader::ReadStat(Snapshot* snapshot) {
  if (!clock_ticks_per_second_) return Error{"sysconf(_SC_CLK_TCK) failed: cannot convert clock ticks"};
  Result<std::string_view> text = stat_file_.Read();
  if (!text.ok()) return text.error();
  Result<ProcStat> stat = ParseProcStat(*text);
  if (!stat.ok()) return PrefixError(stat_file_.path(), stat.error());
  const double ticks_per_second = static_cast<double>(*clock_ticks_per_second_);
  snapshot->set(Signal::kThreads, static_cast<double>(stat->num_threads));
  snapshot->set(Signal::kCpuUserSecondsTotal, static_cast<double>(stat->utime_ticks) / ticks_per_second);
  snapshot->set(Signal::kCpuSystemSecondsTotal, static_cast<double>(stat->stime_ticks) / ticks_per_second);
  snapshot->set(Signal::kCpuSecondsTotal,
                static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks_per_second);
  if (boot_time_seconds_) {
    snapshot->set(Signal::kStartTimeSeconds,
                  static_cast<double>(*boot_time_seconds_) +
                      static_cast<double>(stat->starttime_ticks) / ticks_per_second);
  } else {
    snapshot->clear(Signal::kStartTimeSeconds);
  }
  return OkStatus();
}

Status ProcessReader::ReadOpenFds(Snapshot* snapshot) {
  Result<uint64_t> count = fd_counter_.Count();
  if (!count.ok()) return count.error();
  snapshot->set(Signal::kOpenFds, static_cast<double>(*count));
  return OkStatus();
}

Status ProcessReader::ReadLimits(Snapshot* snapshot) {
  if (limits_from_syscall_) return ReadLimitsFromSyscall(snapshot);
  Result<std::string_view> text = limits_file_.Read();
  if (!text.ok()) return text.error();
  const ProcLimits limits = ParseProcLimits(*text);
  if (limits.open_files) {
    snapshot->set(Signal::kMaxFds, LimitAsDouble(limits.open_files->soft));
    snapshot->set(Signal::kMaxFdsHard, LimitAsDouble(limits.open_files->hard));
  } else {
    snapshot->clear(Signal::kMaxFds);
    snapshot->clear(Signal::kMaxFdsHard);
  }
  if (limits.address_space) {
    snapshot->set(Signal::kVirtualMemoryMaxBytes, LimitAsDouble(limits.address_space->soft));
  } else {
    snapshot->clear(Signal::kVirtualMemoryMaxBytes);
  }
  return OkStatus();
}

Status ProcessReader::ReadLimitsFromSyscall(Snapshot* snapshot) {
  struct rlimit open_files {};
  struct rlimit address_space {};
  if (::getrlimit(RLIMIT_NOFILE, &open_files) != 0) return ErrnoError("getrlimit(RLIMIT_NOFILE)", errno);
  if (::getrlimit(RLIMIT_AS, &address_space) != 0) return ErrnoError("getrlimit(RLIMIT_AS)", errno);
  static_assert(RLIM_INFINITY == kRLimitUnlimited, "RLIM_INFINITY is exported as 2^64-1");
  snapshot->set(Signal::kMaxFds, LimitAsDouble(open_files.rlim_cur));
  snapshot->set(Signal::kMaxFdsHard, LimitAsDouble(open_files.rlim_max));
  snapshot->set(Signal::kVirtualMemoryMaxBytes, LimitAsDouble(address_space.rlim_cur));
  return OkStatus();
}

}  // namespace leakwatch::internal
