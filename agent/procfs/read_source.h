#pragma once
// The error policy shared by the /proc readers: a source that fails (an Error, or an exception a std call
// threw) leaves all of its signals absent and is reported exactly once per Read().

#include <exception>
#include <initializer_list>
#include <string>

#include "agent/sampler/source_reader.h"

namespace leakwatch::internal {

// Runs read() (returning Status). On failure clears every signal in `signals` (including any read() had set)
// and reports the error to `errors` under `source`. Never throws.
template <typename ReadFn>
void ReadSource(Source source, std::initializer_list<Signal> signals, Snapshot* snapshot, ErrorSink& errors,
                ReadFn&& read) noexcept {
  Status status = OkStatus();
  try {
    status = read();
  } catch (const std::exception& e) {
    status = Error{"unexpected exception: " + std::string(e.what())};
  } catch (...) {
    status = Error{"unexpected exception of unknown type"};
  }
  if (status.ok()) return;
  for (Signal signal : signals) snapshot->clear(signal);
  try {
    errors.Report(source, status.error());
  } catch (...) {
    // A sink that throws must not take the sampler down; the signals are already absent.
  }
}

}  // namespace leakwatch::internal
