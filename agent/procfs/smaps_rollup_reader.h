#pragma once
// SmapsRollupReader: the kSmaps* signals from /proc/<pid>/smaps_rollup (source kSmapsRollup), in bytes.
//
// Reads on slow ticks only: the kernel builds the file by walking every mapping of the process while
// holding its mmap lock (~80 µs measured for a small process; the cost grows with the number of mappings),
// and the host's page faults and mmap calls may wait meanwhile. The file is opened on every Read(): keeping
// it open saves nothing next to that. A key the kernel does not provide (Pss_Anon & co. before Linux 5.9)
// leaves its signal absent without an error.
//
// Thread-safety: one thread at a time.

#include <string>

#include "agent/sampler/source_reader.h"

namespace leakwatch::internal {

class SmapsRollupReader final : public SourceReader {
 public:
  // Reads <proc_root>/<pid>/smaps_rollup.
  explicit SmapsRollupReader(std::string proc_root = "/proc", std::string pid = "self");

  void Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) override;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace leakwatch::internal
