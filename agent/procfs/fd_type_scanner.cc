#include "agent/procfs/fd_type_scanner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "agent/common/file_reader.h"
#include "agent/procfs/fd_dir.h"

namespace leakwatch::internal {

FdTypeScanner::FdTypeScanner(std::string proc_root, std::string pid, uint64_t max_fds)
    : directory_(proc_root + "/" + pid + "/fd"), max_fds_(max_fds), scanning_self_(pid == "self") {}

Result<FdTypeCounts> FdTypeScanner::Scan() const {
  const int dir_fd = OpenDirectory(directory_);
  if (dir_fd < 0) return ErrnoError(directory_, errno);

  char own_fd_name[16] = {};
  std::string_view own_fd;
  if (scanning_self_ && IsOnProcfs(dir_fd)) {
    const auto converted = std::to_chars(own_fd_name, own_fd_name + sizeof(own_fd_name), dir_fd);
    own_fd = std::string_view(own_fd_name, static_cast<size_t>(converted.ptr - own_fd_name));
  }

  FdTypeCounts counts;
  int readlink_errno = 0;
  char failed_name[32] = {};
  const int list_errno = ForEachDirectoryEntry(dir_fd, [&](std::string_view name) {
    if (name == own_fd) return true;
    if (counts.scanned >= max_fds_) {
      counts.truncated = true;
      return false;
    }
    // The prefix is enough to classify a target; readlinkat truncates longer ones silently.
    char target[256];
    const ssize_t length = ::readlinkat(dir_fd, name.data(), target, sizeof(target));
    if (length < 0) {
      if (errno == ENOENT) return true;  // closed since the listing
      readlink_errno = errno;
      name.copy(failed_name, sizeof(failed_name) - 1);
      return false;
    }
    ++counts.by_type[static_cast<size_t>(
        ClassifyFdTarget(std::string_view(target, static_cast<size_t>(length))))];
    ++counts.scanned;
    return true;
  });
  ::close(dir_fd);
  if (list_errno != 0) return ErrnoError(directory_, list_errno);
  if (readlink_errno != 0) return ErrnoError(directory_ + "/" + failed_name, readlink_errno);
  return counts;
}

}  // namespace leakwatch::internal
