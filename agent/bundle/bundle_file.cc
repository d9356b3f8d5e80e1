#include "agent/bundle/bundle_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace leakwatch::internal {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;
constexpr size_t kSyncEvery = 1024 * 1024;

}  // namespace

BundleFile::BundleFile(std::string path, size_t cap) : path_(std::move(path)), cap_(cap) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    Fail("cannot create", errno);
    return;
  }
  buffer_.reserve(kBufferBytes);
}

BundleFile::~BundleFile() { Close(); }

void BundleFile::Fail(const char* what, int err) {
  if (error_.empty()) error_ = std::string(what) + " " + path_ + ": " + std::strerror(err);
}

bool BundleFile::Write(std::string_view text) {
  if (!ok() || fd_ < 0) return false;
  bool complete = true;
  if (text.size() > cap_ - bytes_) {
    text = text.substr(0, cap_ - bytes_);
    capped_ = true;
    complete = false;
  }
  while (!text.empty()) {
    const size_t room = kBufferBytes - buffer_.size();
    const size_t n = std::min(room, text.size());
    buffer_.append(text.substr(0, n));
    text.remove_prefix(n);
    bytes_ += n;
    if (buffer_.size() == kBufferBytes && !Flush()) return false;
  }
  return complete;
}

bool BundleFile::Flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("cannot write", errno);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  unsynced_ += buffer_.size();
  buffer_.clear();
  if (unsynced_ >= kSyncEvery) DropCache();
  return ok();
}

void BundleFile::DropCache() {
  if (::fdatasync(fd_) != 0) Fail("cannot sync", errno);
  // The pages are clean after the sync, so DONTNEED actually drops them (and their charge to the cgroup).
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
  unsynced_ = 0;
}

bool BundleFile::Close() {
  if (fd_ < 0) return ok();
  if (ok()) Flush();
  DropCache();
  if (::close(fd_) != 0 && ok()) Fail("cannot close", errno);
  fd_ = -1;
  return ok();
}

}  // namespace leakwatch::internal
