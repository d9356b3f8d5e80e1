#pragma once
// BundleFile: one file of an incident bundle, written with a fixed buffer and a size cap, then synced and
// dropped from the page cache.
//
// Page cache is charged to the writer's memory cgroup: a bundle written next to the OOM limit could itself
// trigger the kill. Every 1 MiB written and at Close() the file is fdatasync()ed and
// posix_fadvise(DONTNEED)ed, so the bundle's pages leave the cgroup's charge as it goes. Memory: the 64 KiB
// buffer.
//
// Thread-safety: none; one writer. Errors (open, write, sync) are kept: ok() turns false, error() says which
// file and why, and Write() returns false from then on.

#include <cstddef>
#include <string>

#include "agent/bundle/text_sink.h"

namespace leakwatch::internal {

class BundleFile final : public TextSink {
 public:
  // Creates (O_EXCL) `path` with mode 0640. `cap`: at most this many bytes are accepted.
  BundleFile(std::string path, size_t cap);
  ~BundleFile() override;  // Close()
  BundleFile(const BundleFile&) = delete;
  BundleFile& operator=(const BundleFile&) = delete;

  bool Write(std::string_view text) override;
  size_t bytes() const override { return bytes_; }

  // Flushes, syncs, drops the file's page cache and closes. Idempotent. Returns ok().
  bool Close();

  bool ok() const { return error_.empty(); }
  bool capped() const { return capped_; }  // the cap cut the content
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  bool Flush();
  void DropCache();
  void Fail(const char* what, int err);

  std::string path_;
  size_t cap_;
  int fd_ = -1;
  std::string buffer_;
  size_t bytes_ = 0;
  size_t unsynced_ = 0;
  bool capped_ = false;
  std::string error_;
};

}  // namespace leakwatch::internal
