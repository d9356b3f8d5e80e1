#pragma once
// Listing /proc/<pid>/fd without allocating: getdents64 straight into a fixed buffer on the stack (readdir()
// would malloc a DIR and its buffer on every call, and the caller may be counting a million fds).
//
// Thread-safety: the functions are thread-safe; a directory fd must not be listed by two threads at once.

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace leakwatch::internal {

// Opens a directory for listing (O_RDONLY | O_DIRECTORY | O_CLOEXEC). Returns the fd, or -1 with errno set.
inline int OpenDirectory(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// True when `dir_fd` is a directory of procfs. Listing <proc>/self/fd through it then shows `dir_fd` itself;
// in any other directory (a copied fixture tree) there is no such entry to skip.
inline bool IsOnProcfs(int dir_fd) {
  struct statfs filesystem {};
  return ::fstatfs(dir_fd, &filesystem) == 0 && filesystem.f_type == PROC_SUPER_MAGIC;
}

// Calls visit(name) for every entry of the open directory except "." and "..", in the kernel's order, until
// visit returns false or the listing ends. `name` is NUL-terminated (name.data() may be passed to
// readlinkat) and valid during the call only. Returns 0 or an errno value.
// Cost: one getdents64 syscall per ~300 fd entries; no allocation.
template <typename Visit>
int ForEachDirectoryEntry(int dir_fd, Visit&& visit) {
  // Layout of struct linux_dirent64 (getdents64(2)); read with memcpy, the buffer holds raw bytes.
  constexpr size_t kReclenOffset = 16;  // after u64 d_ino and s64 d_off
  constexpr size_t kNameOffset = 19;    // after u16 d_reclen and u8 d_type
  alignas(8) char buffer[8192];
  for (;;) {
    const long bytes = ::syscall(SYS_getdents64, dir_fd, buffer, sizeof(buffer));
    if (bytes < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (bytes == 0) return 0;
    for (long pos = 0; pos < bytes;) {
      uint16_t record_length = 0;
      std::memcpy(&record_length, buffer + pos + kReclenOffset, sizeof(record_length));
      // Never seen; guards against looping forever or reading outside the record on a corrupt buffer.
      if (record_length <= kNameOffset || pos + record_length > bytes) return EIO;
      const char* name_start = buffer + pos + kNameOffset;
      const std::string_view name(name_start, ::strnlen(name_start, record_length - kNameOffset));
      pos += record_length;
      if (name == "." || name == "..") continue;
      if (!visit(name)) return 0;
    }
  }
}

}  // namespace leakwatch::internal
