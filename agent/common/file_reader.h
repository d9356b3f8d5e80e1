#pragma once
// Reading /proc and cgroup files.
//
// Kernel pseudo-files report st_size 0 or 4096 whatever their content: these helpers read until EOF and never
// trust st_size. Errors are values that name the path and errno.
//
// Thread-safety: free functions are thread-safe. A ReusableFile must be used by one thread at a time.

#include <cstddef>
#include <string>

#include "leakwatch/result.h"

namespace leakwatch::internal {

// Reads the whole file (at most max_bytes; more is an error naming the path). Retries EINTR.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 1 << 20);

// Keeps a pseudo-file open and re-reads it from offset 0 with pread() on every call, saving the open/close
// of ReadFile() on the sampler's hot path. Reopens after an error, so a file that appears later is found.
class ReusableFile {
 public:
  explicit ReusableFile(std::string path, size_t max_bytes = 1 << 20);
  ~ReusableFile();
  ReusableFile(const ReusableFile&) = delete;
  ReusableFile& operator=(const ReusableFile&) = delete;

  // Reads the current content into an internal buffer and returns a view of it, valid until the next Read().
  Result<std::string_view> Read();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  size_t max_bytes_;
  int fd_ = -1;
  std::string buffer_;
};

// "<path>: <strerror(errno_value)>"
Error ErrnoError(const std::string& path, int errno_value);

}  // namespace leakwatch::internal
