#pragma once
// The interface between the sampler and the readers of /proc and cgroup files.

#include "leakwatch/result.h"
#include "leakwatch/signals.h"
#include "leakwatch/snapshot.h"

namespace leakwatch::internal {

// Receives read failures. The sampler's implementation increments the source's error counter and logs the
// first failure (and then at most one line per source per minute); tests use a recording fake.
class ErrorSink {
 public:
  virtual ~ErrorSink() = default;
  virtual void Report(Source source, const Error& error) = 0;
};

// Which signals a tick reads: a regular tick only the every-tick signals (Cadence::kEveryTick), a slow tick
// (the first one, then one per slow period) every signal.
enum class TickKind : uint8_t { kRegular, kSlow };

// Reads one group of sources and sets their signals in a snapshot.
//
// Contract: Read() reads the sources whose cadence (SourceCadence) the tick includes and no others; it sets
// every signal it could read and leaves every signal it could not read absent (it never writes 0 for
// "unknown"); it reports each failing source to `errors` once per call; it never throws (the sampler still
// wraps it in a catch-all). Slow signals it sets on a regular tick are ignored: the sampler carries the
// values of the last slow tick. Called from the agent thread only, once per tick.
class SourceReader {
 public:
  virtual ~SourceReader() = default;
  virtual void Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) = 0;
};

}  // namespace leakwatch::internal
