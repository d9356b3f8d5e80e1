#pragma once
// RecordingErrorSink: an ErrorSink for tests that keeps every report (source and message) in order.
// Header-only. Not thread-safe: for readers called from the test's own thread.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "agent/sampler/source_reader.h"

namespace leakwatch::test_support {

class RecordingErrorSink final : public internal::ErrorSink {
 public:
  void Report(Source source, const Error& error) override { reports.emplace_back(source, error.message); }

  // How many reports came from this source.
  size_t Count(Source source) const {
    size_t n = 0;
    for (const auto& report : reports) n += report.first == source ? 1 : 0;
    return n;
  }
  // Every report as "<source name>: <message>\n", for failure messages.
  std::string Messages() const {
    std::string out;
    for (const auto& report : reports)
      out += std::string(SourceName(report.first)) + ": " + report.second + "\n";
    return out;
  }

  std::vector<std::pair<Source, std::string>> reports;
};

}  // namespace leakwatch::test_support
