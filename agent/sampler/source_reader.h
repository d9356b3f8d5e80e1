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

// Reads one group of sources and sets their signals in a snapshot.
//
// Contract: Read() sets every signal it could read and leaves every signal it could not read absent (it never
// writes 0 for "unknown"); it reports each failing source to `errors` once per call; it never throws (the
// sampler still wraps it in a catch-all). Called from the agent thread only, once per tick (or per slow tick).
class SourceReader {
 public:
  virtual ~SourceReader() = default;
  virtual void Read(Snapshot* snapshot, ErrorSink& errors) = 0;
};

}  // namespace leakwatch::internal
