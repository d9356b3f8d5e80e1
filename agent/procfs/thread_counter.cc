#include "agent/procfs/thread_counter.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

#include "agent/common/file_reader.h"
#include "agent/procfs/fd_dir.h"

namespace leakwatch::internal {

ThreadCounter::ThreadCounter(const std::string& proc_root, const std::string& pid)
    : directory_(proc_root + "/" + pid + "/task") {
  struct statfs filesystem {};
  if (::statfs(directory_.c_str(), &filesystem) != 0 || filesystem.f_type != PROC_SUPER_MAGIC) return;
  // A live process has at least one thread: a smaller link count means this kernel does not count them there.
  struct stat info {};
  uses_link_count_ = ::stat(directory_.c_str(), &info) == 0 && info.st_nlink >= 3;
}

Result<uint64_t> ThreadCounter::Count() const {
  return uses_link_count_ ? CountByLinkCount() : CountByListing();
}

Result<uint64_t> ThreadCounter::CountByLinkCount() const {
  struct stat info {};
  if (::stat(directory_.c_str(), &info) != 0) return ErrnoError(directory_, errno);
  if (info.st_nlink < 3) {
    return Error{directory_ + ": link count " + std::to_string(info.st_nlink) +
                 " does not count the threads"};
  }
  return static_cast<uint64_t>(info.st_nlink - 2);
}

Result<uint64_t> ThreadCounter::CountByListing() const {
  const int dir_fd = OpenDirectory(directory_);
  if (dir_fd < 0) return ErrnoError(directory_, errno);
  uint64_t entries = 0;
  const int err = ForEachDirectoryEntry(dir_fd, [&entries](std::string_view) {
    ++entries;
    return true;
  });
  ::close(dir_fd);
  if (err != 0) return ErrnoError(directory_, err);
  return entries;
}

}  // namespace leakwatch::internal
