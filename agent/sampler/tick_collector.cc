#include "agent/sampler/tick_collector.h"

#include <exception>

#include "agent/logging/log.h"
#include "agent/sampler/derived_signals.h"

namespace leakwatch::internal {
namespace {

constexpr auto kLogInterval = std::chrono::minutes(1);

}  // namespace

void TickCollector::CountingErrorSink::Report(Source source, const Error& error) {
  const auto i = static_cast<size_t>(source);
  if (i >= kSourceCount || failed_this_tick_[i]) return;  // one count per source per tick
  failed_this_tick_[i] = true;
  ++counts[i];
  const auto now = clock_.SteadyNow();
  if (!failing_[i] || now - last_logged_[i] >= kLogInterval) {
    if (suppressed_[i] > 0) {
      Log()->warn("source {} failed: {} ({} more failures since the last message)", SourceName(source),
                  error.message, suppressed_[i]);
    } else {
      Log()->warn("source {} failed: {}; its metrics are absent until it recovers", SourceName(source),
                  error.message);
    }
    last_logged_[i] = now;
    suppressed_[i] = 0;
  } else {
    ++suppressed_[i];
  }
  failing_[i] = true;
}

void TickCollector::CountingErrorSink::EndTick(TickKind tick) {
  for (size_t i = 0; i < kSourceCount; ++i) {
    const bool read_this_tick =
        tick == TickKind::kSlow || SourceCadence(static_cast<Source>(i)) == Cadence::kEveryTick;
    if (failing_[i] && !failed_this_tick_[i] && read_this_tick) {
      Log()->info("source {} recovered", SourceName(static_cast<Source>(i)));
      failing_[i] = false;
      suppressed_[i] = 0;
    }
    failed_this_tick_[i] = false;
  }
}

TickCollector::TickCollector(Options options, std::vector<std::unique_ptr<SourceReader>> readers,
                             const Clock& clock)
    : options_(options), readers_(std::move(readers)), clock_(clock), errors_(clock) {}

void TickCollector::RunReaders(TickKind tick, Snapshot* snapshot) {
  for (auto& reader : readers_) {
    try {
      reader->Read(tick, snapshot, errors_);
    } catch (const std::exception& e) {
      errors_.Report(Source::kInternal, Error{std::string("reader threw: ") + e.what()});
    } catch (...) {
      errors_.Report(Source::kInternal, Error{"reader threw a non-standard exception"});
    }
  }
}

std::shared_ptr<Snapshot> TickCollector::Tick(uint64_t missed_ticks_total) {
  std::shared_ptr<Snapshot> snap;
  try {
    snap = std::make_shared<Snapshot>();
  } catch (...) {
    return nullptr;  // out of memory: skip this tick, the previous snapshot stays published
  }
  const auto start = clock_.SteadyNow();
  snap->sequence = ++sequence_;
  snap->steady_time = start;
  snap->wall_time = clock_.WallNow();
  snap->period = options_.period;

  const bool slow =
      sequence_ == 1 || (options_.slow_every != 0 && (sequence_ - 1) % options_.slow_every == 0);
  const TickKind tick = slow ? TickKind::kSlow : TickKind::kRegular;
  RunReaders(tick, snap.get());
  if (slow) {
    slow_values_ = Snapshot{};
    slow_values_.slow_sequence = sequence_;
    for (size_t i = 0; i < kSignalCount; ++i) {
      const auto s = static_cast<Signal>(i);
      if (GetSignalInfo(s).cadence == Cadence::kSlow) slow_values_.set(s, snap->get(s));
    }
  } else {
    for (size_t i = 0; i < kSignalCount; ++i) {
      const auto s = static_cast<Signal>(i);
      if (GetSignalInfo(s).cadence == Cadence::kSlow) snap->set(s, slow_values_.get(s));
    }
  }
  snap->slow_sequence = slow_values_.slow_sequence;
  DeriveSignals(snap.get());
  errors_.EndTick(tick);

  snap->samples_total = sequence_;
  snap->missed_ticks_total = missed_ticks_total;
  snap->source_errors_total = errors_.counts;
  snap->sample_duration = clock_.SteadyNow() - start;
  return snap;
}

}  // namespace leakwatch::internal
