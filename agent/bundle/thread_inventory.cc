#include "agent/bundle/thread_inventory.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/bundle/csv.h"
#include "agent/common/file_reader.h"
#include "agent/procfs/fd_dir.h"
#include "agent/procfs/proc_stat.h"

namespace leakwatch::internal {
namespace {

// Clock ticks as seconds with two decimals ("12.34"), in integers: no locale, no rounding surprise.
void AppendSeconds(uint64_t ticks, uint64_t ticks_per_second, std::string* out) {
  AppendU64(ticks / ticks_per_second, out);
  const uint64_t hundredths = (ticks % ticks_per_second) * 100 / ticks_per_second;
  out->push_back('.');
  out->push_back(static_cast<char>('0' + hundredths / 10));
  out->push_back(static_cast<char>('0' + hundredths % 10));
}

uint64_t TicksPerSecond() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<uint64_t>(ticks) : 100;
}

// The outcome of reading one task/<tid>/stat.
enum class StatRead { kRead, kVanished, kFailed };

// Reads <dir_fd>/<tid>/stat into `buffer`. A stat file is ~300 bytes (comm is at most 15): a 4 KiB buffer
// always holds it. ENOENT (opening) and ESRCH (reading) mean the thread exited after the listing; so does an
// empty read.
StatRead ReadTaskStat(int dir_fd, std::string_view tid, char (&buffer)[4096], size_t* length, int* error) {
  char relative[64];
  if (tid.size() + sizeof("/stat") > sizeof(relative)) {
    *error = ENAMETOOLONG;
    return StatRead::kFailed;
  }
  std::memcpy(relative, tid.data(), tid.size());
  std::memcpy(relative + tid.size(), "/stat", sizeof("/stat"));
  int fd;
  do {
    fd = ::openat(dir_fd, relative, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT || errno == ESRCH) return StatRead::kVanished;
    *error = errno;
    return StatRead::kFailed;
  }
  size_t used = 0;
  while (used < sizeof(buffer)) {
    const ssize_t n = ::read(fd, buffer + used, sizeof(buffer) - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int read_errno = errno;
      ::close(fd);
      if (read_errno == ESRCH) return StatRead::kVanished;
      *error = read_errno;
      return StatRead::kFailed;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  *length = used;
  return used == 0 ? StatRead::kVanished : StatRead::kRead;
}

// Writes `text` unless the sink already refused a write; remembers a refusal.
void WriteTo(TextSink& sink, bool* open, std::string_view text) {
  if (*open && !sink.Write(text)) *open = false;
}

void WriteByName(const std::unordered_map<std::string, size_t>& counts, TextSink& by_name) {
  std::vector<const std::pair<const std::string, size_t>*> sorted;
  sorted.reserve(counts.size());
  for (const auto& entry : counts) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    if (a->second != b->second) return a->second > b->second;
    return a->first < b->first;
  });
  bool open = true;
  WriteTo(by_name, &open, "name,count\n");
  std::string row;
  for (const auto* entry : sorted) {
    if (!open) break;
    row.clear();
    AppendCsvField(entry->first, &row);
    row.push_back(',');
    AppendU64(entry->second, &row);
    row.push_back('\n');
    WriteTo(by_name, &open, row);
  }
}

}  // namespace

Result<ThreadInventorySummary> WriteThreadInventory(const ThreadInventoryOptions& options, TextSink& threads,
                                                    TextSink& by_name) {
  const std::string directory = options.proc_root + "/" + options.pid + "/task";
  const int dir_fd = OpenDirectory(directory);
  if (dir_fd < 0) return ErrnoError(directory, errno);

  const uint64_t ticks_per_second = TicksPerSecond();
  ThreadInventorySummary summary;
  std::unordered_map<std::string, size_t> counts;
  bool threads_open = true;
  WriteTo(threads, &threads_open, "tid,name,state,utime_seconds,stime_seconds\n");

  std::optional<Error> error;
  std::string row;
  char buffer[4096];
  const int list_errno = ForEachDirectoryEntry(dir_fd, [&](std::string_view tid) {
    if (summary.threads >= options.max_threads) {
      summary.truncated = true;
      return false;
    }
    size_t length = 0;
    int read_errno = 0;
    switch (ReadTaskStat(dir_fd, tid, buffer, &length, &read_errno)) {
      case StatRead::kVanished:
        return true;
      case StatRead::kFailed:
        error = ErrnoError(directory + "/" + std::string(tid) + "/stat", read_errno);
        return false;
      case StatRead::kRead:
        break;
    }
    Result<ProcStat> stat = ParseProcStat(std::string_view(buffer, length));
    if (!stat.ok()) {
      error = Error{directory + "/" + std::string(tid) + "/stat: " + stat.error().message};
      return false;
    }
    ++summary.threads;
    ++counts.try_emplace(stat->comm, 0).first->second;
    if (!threads_open) return true;  // keep counting by name
    row.clear();
    AppendU64(stat->pid, &row);
    row.push_back(',');
    AppendCsvField(stat->comm, &row);
    row.push_back(',');
    AppendCsvField(std::string_view(&stat->state, 1), &row);
    row.push_back(',');
    AppendSeconds(stat->utime_ticks, ticks_per_second, &row);
    row.push_back(',');
    AppendSeconds(stat->stime_ticks, ticks_per_second, &row);
    row.push_back('\n');
    WriteTo(threads, &threads_open, row);
    if (threads_open) ++summary.threads_written;
    return true;
  });
  ::close(dir_fd);

  summary.names = counts.size();
  WriteByName(counts, by_name);
  if (list_errno != 0) return ErrnoError(directory, list_errno);
  if (error) return std::move(*error);
  return summary;
}

}  // namespace leakwatch::internal
