#include "agent/procfs/fd_type_reader.h"

#include <utility>

#include "agent/procfs/read_source.h"

namespace leakwatch::internal {

FdTypeReader::FdTypeReader(std::string proc_root, std::string pid, uint64_t max_fds)
    : scanner_(std::move(proc_root), std::move(pid), max_fds) {}

void FdTypeReader::Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) {
  if (tick != TickKind::kSlow) return;
  ReadSource(Source::kFdTypes,
             {Signal::kOpenFdsSocket, Signal::kOpenFdsPipe, Signal::kOpenFdsFile, Signal::kOpenFdsAnonInode,
              Signal::kOpenFdsOther, Signal::kOpenFdsScanTruncated},
             snapshot, errors, [&]() -> Status {
               Result<FdTypeCounts> counts = scanner_.Scan();
               if (!counts.ok()) return counts.error();
               snapshot->set(Signal::kOpenFdsSocket, static_cast<double>(counts->count(FdType::kSocket)));
               snapshot->set(Signal::kOpenFdsPipe, static_cast<double>(counts->count(FdType::kPipe)));
               snapshot->set(Signal::kOpenFdsFile, static_cast<double>(counts->count(FdType::kFile)));
               snapshot->set(Signal::kOpenFdsAnonInode,
                             static_cast<double>(counts->count(FdType::kAnonInode)));
               snapshot->set(Signal::kOpenFdsOther, static_cast<double>(counts->count(FdType::kOther)));
               snapshot->set(Signal::kOpenFdsScanTruncated, counts->truncated ? 1.0 : 0.0);
               return OkStatus();
             });
}

}  // namespace leakwatch::internal
