#pragma once
// A reader of the Prometheus text exposition format, enough for `leakwatch status` to pick values out of
// /metrics: comments skipped, label values unescaped, timestamps ignored, malformed lines skipped.
//
// Thread-safety: pure functions.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::cli {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<PromSample> ParsePromText(std::string_view text);

class PromSamples {
 public:
  explicit PromSamples(std::vector<PromSample> samples) : samples_(std::move(samples)) {}
  // The first sample with this name whose labels include every pair of `labels`.
  const PromSample* Find(std::string_view name, const std::map<std::string, std::string>& labels = {}) const;
  std::optional<double> Value(std::string_view name,
                              const std::map<std::string, std::string>& labels = {}) const;
  // The value of `label` on the first sample named `name`, or nullopt.
  std::optional<std::string> Label(std::string_view name, const std::string& label) const;

 private:
  std::vector<PromSample> samples_;
};

}  // namespace leakwatch::cli
