#include "agent/allocator/allocator_reader.h"

#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "agent/allocator/detect.h"
#include "agent/logging/log.h"
#include "agent/procfs/read_source.h"

namespace leakwatch::internal {
namespace {

constexpr std::initializer_list<Signal> kFigureSignals{Signal::kHeapBytes,
                                                       Signal::kAllocatorAllocatedBytes,
                                                       Signal::kAllocatorActiveBytes,
                                                       Signal::kAllocatorResidentBytes,
                                                       Signal::kAllocatorMappedBytes,
                                                       Signal::kAllocatorRetainedBytes,
                                                       Signal::kAllocatorMetadataBytes,
                                                       Signal::kAllocatorFreeBytes,
                                                       Signal::kAllocatorArenas};

void SetFigure(Snapshot* snapshot, Signal signal, const std::optional<uint64_t>& value) {
  if (value) {
    snapshot->set(signal, static_cast<double>(*value));
  } else {
    snapshot->clear(signal);
  }
}

void SetFigures(Snapshot* snapshot, const AllocatorStats& stats) {
  SetFigure(snapshot, Signal::kHeapBytes, stats.allocated_bytes);
  SetFigure(snapshot, Signal::kAllocatorAllocatedBytes, stats.allocated_bytes);
  SetFigure(snapshot, Signal::kAllocatorActiveBytes, stats.active_bytes);
  SetFigure(snapshot, Signal::kAllocatorResidentBytes, stats.resident_bytes);
  SetFigure(snapshot, Signal::kAllocatorMappedBytes, stats.mapped_bytes);
  SetFigure(snapshot, Signal::kAllocatorRetainedBytes, stats.retained_bytes);
  SetFigure(snapshot, Signal::kAllocatorMetadataBytes, stats.metadata_bytes);
  SetFigure(snapshot, Signal::kAllocatorFreeBytes, stats.free_bytes);
  SetFigure(snapshot, Signal::kAllocatorArenas, stats.arenas);
}

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

AllocatorReader::AllocatorReader(std::shared_ptr<AllocatorStatsProvider> provider, uint32_t read_every)
    : provider_(std::move(provider)),
      read_every_(read_every == 0 ? 1 : read_every),
      info_(std::make_shared<const AllocatorInfo>()) {}

void AllocatorReader::RefreshInfo(ErrorSink& errors) {
  AllocatorInfo info;
  try {
    info = provider_->Info();
  } catch (const std::exception& e) {
    errors.Report(Source::kAllocator, Error{std::string("allocator Info() threw: ") + e.what()});
    return;
  } catch (...) {
    errors.Report(Source::kAllocator, Error{"allocator Info() threw a non-standard exception"});
    return;
  }
  if (info == *info_) return;
  Log()->info("allocator: {}", DescribeAllocator(info));
  info_ = std::make_shared<const AllocatorInfo>(std::move(info));
}

Status AllocatorReader::ReadFigures(Snapshot* snapshot) {
  Result<AllocatorStats> stats = provider_->Read();
  if (!stats.ok()) return Error{info_->name + ": " + stats.error().message};
  SetFigures(snapshot, *stats);
  last_ = *stats;
  return OkStatus();
}

void AllocatorReader::Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) {
  if (tick == TickKind::kSlow) RefreshInfo(errors);
  snapshot->allocator = info_;
  const bool read_now = ticks_++ % read_every_ == 0;
  if (read_now) {
    last_.reset();
    ReadSource(Source::kAllocator, kFigureSignals, snapshot, errors, [&] { return ReadFigures(snapshot); });
  } else if (last_) {
    SetFigures(snapshot, *last_);
  } else {
    for (Signal signal : kFigureSignals) snapshot->clear(signal);
  }

  const std::optional<GlibcGuardState> guard = GlibcGuardStateOf(*provider_);
  snapshot->clear(Signal::kAllocatorMallinfoDurationSeconds);
  snapshot->clear(Signal::kAllocatorMallinfoPeriodSeconds);
  snapshot->clear(Signal::kAllocatorMallinfoBackoffsTotal);
  if (guard && guard->enabled) {
    snapshot->set(Signal::kAllocatorMallinfoPeriodSeconds, Seconds(guard->period));
    snapshot->set(Signal::kAllocatorMallinfoBackoffsTotal, static_cast<double>(guard->backoffs_total));
    if (guard->last_duration) {
      snapshot->set(Signal::kAllocatorMallinfoDurationSeconds, Seconds(*guard->last_duration));
    }
  }
}

}  // namespace leakwatch::internal
