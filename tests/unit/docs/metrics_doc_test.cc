// Keeps docs/METRICS.md in step with the signal catalogue: the table between the markers is generated from
// GetSignalInfo(). On a mismatch the test writes the expected file next to the test binary and says how to
// update the document.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "leakwatch/signals.h"

namespace leakwatch {
namespace {

constexpr std::string_view kBegin = "<!-- BEGIN GENERATED: signal catalogue -->";
constexpr std::string_view kEnd = "<!-- END GENERATED: signal catalogue -->";

std::string GenerateTable() {
  struct Family {
    const SignalInfo* first = nullptr;
    std::vector<std::string> label_values = {};
    std::vector<std::string> slow_label_values = {};  // of a family whose members differ in cadence
    bool any_slow = false;
    bool any_tick = false;
  };
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto& info = GetSignalInfo(static_cast<Signal>(i));
    const std::string name(info.metric);
    auto [it, inserted] = families.try_emplace(name, Family{.first = &info});
    if (inserted) order.push_back(name);
    if (!info.label_name.empty()) it->second.label_values.push_back(std::string(info.label_value));
    const bool slow = info.cadence == Cadence::kSlow;
    (slow ? it->second.any_slow : it->second.any_tick) = true;
    if (slow) it->second.slow_label_values.push_back(std::string(info.label_value));
  }
  std::ostringstream out;
  out << "| metric | type | labels | cadence | help |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& name : order) {
    const Family& f = families.at(name);
    std::string labels;
    if (!f.label_values.empty()) {
      labels = std::string(f.first->label_name) + "=";
      for (size_t i = 0; i < f.label_values.size(); ++i) labels += (i ? "\\|" : "") + f.label_values[i];
    }
    std::string cadence = f.any_slow ? "slow" : "tick";
    if (f.any_slow && f.any_tick) {
      cadence = "tick; slow:";
      for (const auto& value : f.slow_label_values) cadence += " " + value;
    }
    out << "| `" << name << "` | " << (f.first->kind == MetricKind::kCounter ? "counter" : "gauge") << " | "
        << labels << " | " << cadence << " | " << f.first->help << " |\n";
  }
  return out.str();
}

TEST(MetricsDoc, CatalogueTableIsUpToDate) {
  const std::string path = std::string(LEAKWATCH_SOURCE_DIR) + "/docs/METRICS.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto b = doc.find(kBegin);
  const auto e = doc.find(kEnd);
  ASSERT_NE(b, std::string::npos) << path << " lacks the marker " << kBegin;
  ASSERT_NE(e, std::string::npos) << path << " lacks the marker " << kEnd;
  const std::string current = doc.substr(b + kBegin.size() + 1, e - b - kBegin.size() - 1);
  const std::string expected = GenerateTable();
  if (current != expected) {
    const std::string out_path = std::string(LEAKWATCH_BINARY_DIR) + "/METRICS.md.expected";
    std::ofstream(out_path) << doc.substr(0, b + kBegin.size() + 1) << expected << doc.substr(e);
    FAIL() << "docs/METRICS.md is out of date with the signal catalogue; review and copy " << out_path
           << " to docs/METRICS.md";
  }
}

TEST(SignalCatalogue, KeysAreUniqueAndFindable) {
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto s = static_cast<Signal>(i);
    const auto& info = GetSignalInfo(s);
    EXPECT_EQ(info.signal, s);
    EXPECT_EQ(FindSignal(info.key), s) << info.key;
    EXPECT_EQ(info.help.find('\n'), std::string_view::npos) << info.key;
    EXPECT_FALSE(info.help.empty()) << info.key;
    EXPECT_EQ(info.kind == MetricKind::kCounter, info.metric.ends_with("_total")) << info.metric;
  }
  EXPECT_FALSE(FindSignal("no_such_signal"));
}

TEST(SignalCatalogue, RowsOfOneFamilyAgreeOnHelpKindAndLabelName) {
  std::map<std::string_view, const SignalInfo*> first;
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto& info = GetSignalInfo(static_cast<Signal>(i));
    auto [it, inserted] = first.try_emplace(info.metric, &info);
    if (inserted) continue;
    EXPECT_EQ(it->second->help, info.help) << info.metric;
    EXPECT_EQ(it->second->kind, info.kind) << info.metric;
    EXPECT_EQ(it->second->label_name, info.label_name) << info.metric;
    EXPECT_FALSE(info.label_name.empty()) << info.metric << " has two rows but no label to tell them apart";
  }
}

}  // namespace
}  // namespace leakwatch
