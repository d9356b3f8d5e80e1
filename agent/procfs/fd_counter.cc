#include "agent/procfs/fd_counter.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>

#include "agent/common/file_reader.h"
#include "agent/common/text.h"
#include "agent/procfs/fd_dir.h"

namespace leakwatch::internal {
namespace {

std::optional<uint64_t> NextVersionNumber(std::string_view* text) {
  size_t digits = 0;
  while (digits < text->size() && (*text)[digits] >= '0' && (*text)[digits] <= '9') ++digits;
  const std::optional<uint64_t> number = ParseU64(text->substr(0, digits));
  text->remove_prefix(digits);
  return number;
}

bool RunningKernelAtLeast(uint64_t major, uint64_t minor) {
  struct utsname names {};
  if (::uname(&names) != 0) return false;
  return KernelReleaseAtLeast(names.release, major, minor);
}

}  // namespace

bool KernelReleaseAtLeast(std::string_view release, uint64_t major, uint64_t minor) {
  const std::optional<uint64_t> release_major = NextVersionNumber(&release);
  if (!release_major || !release.starts_with('.')) return false;
  release.remove_prefix(1);
  const std::optional<uint64_t> release_minor = NextVersionNumber(&release);
  if (!release_minor) return false;
  return *release_major > major || (*release_major == major && *release_minor >= minor);
}

FdCounter::FdCounter(FdCounterOptions options)
    : directory_(options.proc_root + "/" + options.pid + "/fd"), counting_self_(options.pid == "self") {
  if (options.force_getdents || !RunningKernelAtLeast(6, 2)) return;
  struct statfs filesystem {};
  if (::statfs(directory_.c_str(), &filesystem) != 0 || filesystem.f_type != PROC_SUPER_MAGIC) return;
  struct stat info {};
  uses_stat_size_ = ::stat(directory_.c_str(), &info) == 0 && info.st_size > 0;
}

Result<uint64_t> FdCounter::Count() const { return uses_stat_size_ ? CountByStatSize() : CountByGetdents(); }

Result<uint64_t> FdCounter::CountByStatSize() const {
  struct stat info {};
  if (::stat(directory_.c_str(), &info) != 0) return ErrnoError(directory_, errno);
  if (info.st_size < 0) return Error{directory_ + ": negative st_size " + std::to_string(info.st_size)};
  return static_cast<uint64_t>(info.st_size);
}

Result<uint64_t> FdCounter::CountByGetdents() const {
  const int dir_fd = OpenDirectory(directory_);
  if (dir_fd < 0) return ErrnoError(directory_, errno);
  uint64_t entries = 0;
  // /proc/self/fd lists dir_fd itself; it is ours, not the process's.
  const bool listed_own_fd = counting_self_ && IsOnProcfs(dir_fd);
  const int err = ForEachDirectoryEntry(dir_fd, [&entries](std::string_view) {
    ++entries;
    return true;
  });
  ::close(dir_fd);
  if (err != 0) return ErrnoError(directory_, err);
  if (listed_own_fd && entries > 0) --entries;
  return entries;
}

}  // namespace leakwatch::internal
