#include "agent/procfs/process_reader.h"

#include <sys/resource.h>
#include <sys/times.h>
#include <unistd.h>

#include <cerrno>

#include "agent/logging/log.h"
#include "agent/procfs/boot_time.h"
#include "agent/procfs/proc_limits.h"
#include "agent/procfs/proc_statm.h"
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

uint64_t PageSize() {
  const long size = ::sysconf(_SC_PAGESIZE);
  return size > 0 ? static_cast<uint64_t>(size) : 4096;
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
    : statm_file_(options.proc_root + "/" + options.pid + "/statm"),
      stat_file_(options.proc_root + "/" + options.pid + "/stat"),
      status_file_(options.proc_root + "/" + options.pid + "/status"),
      limits_file_(options.proc_root + "/" + options.pid + "/limits"),
      fd_counter_(FdCounterOptions{options.proc_root, options.pid, options.force_getdents}),
      thread_counter_(options.proc_root, options.pid),
      limits_from_syscall_(options.limits_from_syscall && options.pid == "self"),
      cpu_from_syscall_(options.cpu_from_syscall && options.pid == "self"),
      page_size_(PageSize()),
      clock_ticks_per_second_(ClockTicksPerSecond()),
      boot_time_seconds_(ReadBootTime(options.proc_root + "/stat")) {}

void ProcessReader::Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) {
  ReadSource(Source::kProcStatm,
             {Signal::kResidentMemoryBytes, Signal::kVirtualMemoryBytes, Signal::kRssAnonBytes}, snapshot,
             errors, [&] { return ReadStatm(snapshot); });
  ReadSource(Source::kThreads, {Signal::kThreads}, snapshot, errors, [&] { return ReadThreads(snapshot); });
  ReadSource(Source::kCpu,
             {Signal::kCpuUserSecondsTotal, Signal::kCpuSystemSecondsTotal, Signal::kCpuSecondsTotal},
             snapshot, errors, [&] { return ReadCpu(snapshot); });
  ReadSource(Source::kOpenFds, {Signal::kOpenFds}, snapshot, errors, [&] { return ReadOpenFds(snapshot); });
  ReadSource(Source::kLimits, {Signal::kMaxFds, Signal::kMaxFdsHard, Signal::kVirtualMemoryMaxBytes},
             snapshot, errors, [&] { return ReadLimits(snapshot); });
  if (tick != TickKind::kSlow) return;
  ReadSource(
      Source::kProcStatus,
      {Signal::kResidentMemoryPeakBytes, Signal::kRssFileBytes, Signal::kRssShmemBytes, Signal::kSwapBytes},
      snapshot, errors, [&] { return ReadStatus(snapshot); });
  ReadSource(Source::kProcStat, {Signal::kStartTimeSeconds}, snapshot, errors,
             [&] { return ReadStartTime(snapshot); });
}

Status ProcessReader::ReadStatm(Snapshot* snapshot) {
  Result<std::string_view> text = statm_file_.Read();
  if (!text.ok()) return text.error();
  Result<ProcStatm> statm = ParseProcStatm(*text, page_size_);
  if (!statm.ok()) return PrefixError(statm_file_.path(), statm.error());
  snapshot->set(Signal::kResidentMemoryBytes, static_cast<double>(statm->resident_bytes));
  snapshot->set(Signal::kVirtualMemoryBytes, static_cast<double>(statm->size_bytes));
  snapshot->set(Signal::kRssAnonBytes, static_cast<double>(statm->anon_bytes()));
  return OkStatus();
}

Status ProcessReader::ReadThreads(Snapshot* snapshot) {
  Result<uint64_t> count = thread_counter_.Count();
  if (!count.ok()) return count.error();
  snapshot->set(Signal::kThreads, static_cast<double>(*count));
  return OkStatus();
}

Status ProcessReader::ReadCpu(Snapshot* snapshot) {
  if (!clock_ticks_per_second_) return Error{"sysconf(_SC_CLK_TCK) failed: cannot convert clock ticks"};
  uint64_t user_ticks = 0;
  uint64_t system_ticks = 0;
  if (cpu_from_syscall_) {
    struct tms times_now {};
    errno = 0;
    if (::times(&times_now) == static_cast<clock_t>(-1) && errno != 0) return ErrnoError("times()", errno);
    user_ticks = static_cast<uint64_t>(times_now.tms_utime);
    system_ticks = static_cast<uint64_t>(times_now.tms_stime);
  } else {
    Result<ProcStat> stat = ReadStat();
    if (!stat.ok()) return stat.error();
    user_ticks = stat->utime_ticks;
    system_ticks = stat->stime_ticks;
  }
  const double ticks_per_second = static_cast<double>(*clock_ticks_per_second_);
  snapshot->set(Signal::kCpuUserSecondsTotal, static_cast<double>(user_ticks) / ticks_per_second);
  snapshot->set(Signal::kCpuSystemSecondsTotal, static_cast<double>(system_ticks) / ticks_per_second);
  snapshot->set(Signal::kCpuSecondsTotal, static_cast<double>(user_ticks + system_ticks) / ticks_per_second);
  return OkStatus();
}

Status ProcessReader::ReadStatus(Snapshot* snapshot) {
  Result<std::string_view> text = status_file_.Read();
  if (!text.ok()) return text.error();
  const ProcStatus status = ParseProcStatus(*text);
  snapshot->set(Signal::kResidentMemoryPeakBytes, AsDouble(status.vm_hwm_bytes));
  snapshot->set(Signal::kRssFileBytes, AsDouble(status.rss_file_bytes));
  snapshot->set(Signal::kRssShmemBytes, AsDouble(status.rss_shmem_bytes));
  snapshot->set(Signal::kSwapBytes, AsDouble(status.vm_swap_bytes));
  return OkStatus();
}

Result<ProcStat> ProcessReader::ReadStat() {
  Result<std::string_view> text = stat_file_.Read();
  if (!text.ok()) return text.error();
  Result<ProcStat> stat = ParseProcStat(*text);
  if (!stat.ok()) return PrefixError(stat_file_.path(), stat.error());
  return stat;
}

Status ProcessReader::ReadStartTime(Snapshot* snapshot) {
  // A process's start time never changes: once read, it is kept (formatting <pid>/stat costs ~30 µs at 1,000
  // threads).
  if (!start_time_seconds_) {
    if (!clock_ticks_per_second_) return Error{"sysconf(_SC_CLK_TCK) failed: cannot convert clock ticks"};
    Result<ProcStat> stat = ReadStat();
    if (!stat.ok()) return stat.error();
    if (!boot_time_seconds_) {
      snapshot->clear(Signal::kStartTimeSeconds);
      return OkStatus();
    }
    start_time_seconds_ =
        static_cast<double>(*boot_time_seconds_) +
        static_cast<double>(stat->starttime_ticks) / static_cast<double>(*clock_ticks_per_second_);
  }
  snapshot->set(Signal::kStartTimeSeconds, *start_time_seconds_);
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
