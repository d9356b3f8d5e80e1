#include "agent/common/file_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace leakwatch::internal {
namespace {

// Reads from fd at offset 0 until EOF into *out. Returns 0 or an errno value (EFBIG when over max_bytes).
int PreadAll(int fd, size_t max_bytes, std::string* out) {
  out->clear();
  size_t used = 0;
  size_t chunk = 4096;
  for (;;) {
    if (out->size() < used + chunk) out->resize(used + chunk);
    ssize_t n = ::pread(fd, out->data() + used, chunk, static_cast<off_t>(used));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      out->clear();
      return err;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (used > max_bytes) {
      out->clear();
      return EFBIG;
    }
    if (static_cast<size_t>(n) == chunk && chunk < 65536) chunk *= 2;
  }
  out->resize(used);
  return 0;
}

int OpenReadOnly(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

}  // namespace

Error ErrnoError(const std::string& path, int errno_value) {
  return Error{path + ": " + std::strerror(errno_value)};
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  int fd = OpenReadOnly(path);
  if (fd < 0) return ErrnoError(path, errno);
  std::string out;
  int err = PreadAll(fd, max_bytes, &out);
  ::close(fd);
  if (err == EFBIG) return Error{path + ": larger than " + std::to_string(max_bytes) + " bytes"};
  if (err != 0) return ErrnoError(path, err);
  return out;
}

ReusableFile::ReusableFile(std::string path, size_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {}

ReusableFile::~ReusableFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string_view> ReusableFile::Read() {
  if (fd_ < 0) {
    fd_ = OpenReadOnly(path_);
    if (fd_ < 0) return ErrnoError(path_, errno);
  }
  int err = PreadAll(fd_, max_bytes_, &buffer_);
  if (err != 0) {
    ::close(fd_);
    fd_ = -1;
    if (err == EFBIG) return Error{path_ + ": larger than " + std::to_string(max_bytes_) + " bytes"};
    return ErrnoError(path_, err);
  }
  return std::string_view(buffer_);
}

}  // namespace leakwatch::internal
