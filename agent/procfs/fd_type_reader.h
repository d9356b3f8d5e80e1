#pragma once
// FdTypeReader: open fds by type (kOpenFdsSocket/Pipe/File/AnonInode/Other) and kOpenFdsScanTruncated (1 when
// the scan stopped at `max_fds`, the counts then cover only the fds scanned; else 0), source
// kFdTypes. Reads on slow ticks only: it costs one readlink per fd (see FdTypeScanner).
//
// Thread-safety: one thread at a time.

#include <cstdint>
#include <string>

#include "agent/procfs/fd_type_scanner.h"
#include "agent/sampler/source_reader.h"

namespace leakwatch::internal {

class FdTypeReader final : public SourceReader {
 public:
  // See FdTypeScanner.
  explicit FdTypeReader(std::string proc_root = "/proc", std::string pid = "self", uint64_t max_fds = 10000);

  void Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) override;

 private:
  FdTypeScanner scanner_;
};

}  // namespace leakwatch::internal
