#pragma once
// AllocatorReader: the allocator signals of every tick (source kAllocator), read from one
// AllocatorStatsProvider — the one DetectAllocator() found, or the application's own.
//
// Every tick (or every `read_every` ticks, see AllocatorOptions::period): provider->Read() -> kHeapBytes and
// kAllocator{Allocated,Active,Resident,Mapped,Retained,Metadata, Free}Bytes, kAllocatorArenas (each absent
// when the provider has no such figure), and, for glibc with the mallinfo2 guard enabled, the guard's
// kAllocatorMallinfo* signals. Slow ticks also call provider->Info() and publish it as Snapshot::allocator
// (the same shared object while it does not change; a change is logged). An Error from Read() (or an
// exception from an application's provider) makes the figures of that tick absent and is reported under
// kAllocator; an exception from Info() keeps the previous info and is reported too.
//
// With read_every > 1 the ticks in between carry the figures of the last read (absent when it failed); the
// mallinfo guard's signals are read every tick (they are a copy).
//
// Thread-safety: one thread (the sampler's). Cost: the provider's Read() (docs/PERFORMANCE.md lists each
// allocator's) plus setting ~10 signals; Info() only on slow ticks.

#include <cstdint>
#include <memory>
#include <optional>

#include "agent/sampler/source_reader.h"
#include "leakwatch/allocator.h"

namespace leakwatch::internal {

class AllocatorReader final : public SourceReader {
 public:
  // REQUIRES: provider != nullptr, read_every >= 1.
  explicit AllocatorReader(std::shared_ptr<AllocatorStatsProvider> provider, uint32_t read_every = 1);

  void Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) override;

  const std::shared_ptr<const AllocatorInfo>& info() const { return info_; }

 private:
  void RefreshInfo(ErrorSink& errors);
  Status ReadFigures(Snapshot* snapshot);

  std::shared_ptr<AllocatorStatsProvider> provider_;
  uint32_t read_every_;
  uint64_t ticks_ = 0;
  std::optional<AllocatorStats> last_;  // of the last read; nullopt when it failed
  std::shared_ptr<const AllocatorInfo> info_;
};

}  // namespace leakwatch::internal
