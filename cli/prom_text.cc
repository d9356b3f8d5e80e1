#include "cli/prom_text.h"

#include <cmath>
#include <cstdlib>

#include "agent/common/text.h"

namespace leakwatch::cli {
namespace {

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

std::optional<double> ParseValue(std::string_view text) {
  if (text == "NaN") return std::nan("");
  if (text == "+Inf" || text == "Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

// Parses `{a="x",b="y"}` at the start of *line into *labels; false when malformed.
bool ParseLabels(std::string_view* line, std::map<std::string, std::string>* labels) {
  std::string_view s = *line;
  s.remove_prefix(1);  // '{'
  for (;;) {
    while (!s.empty() && (s.front() == ' ' || s.front() == ',')) s.remove_prefix(1);
    if (s.empty()) return false;
    if (s.front() == '}') {
      s.remove_prefix(1);
      *line = s;
      return true;
    }
    size_t n = 0;
    while (n < s.size() && IsNameChar(s[n], n == 0)) ++n;
    if (n == 0 || n + 1 >= s.size() || s[n] != '=' || s[n + 1] != '"') return false;
    const std::string key(s.substr(0, n));
    s.remove_prefix(n + 2);
    std::string value;
    for (;;) {
      if (s.empty()) return false;
      const char c = s.front();
      s.remove_prefix(1);
      if (c == '"') break;
      if (c == '\\' && !s.empty()) {
        const char e = s.front();
        s.remove_prefix(1);
        value += e == 'n' ? '\n' : e;
      } else {
        value += c;
      }
    }
    (*labels)[key] = std::move(value);
  }
}

}  // namespace

std::vector<PromSample> ParsePromText(std::string_view text) {
  std::vector<PromSample> out;
  std::string_view line;
  while (internal::NextLine(&text, &line)) {
    line = internal::TrimSpace(line);
    if (line.empty() || line.front() == '#') continue;
    PromSample sample;
    size_t n = 0;
    while (n < line.size() && IsNameChar(line[n], n == 0)) ++n;
    if (n == 0) continue;
    sample.name = std::string(line.substr(0, n));
    line.remove_prefix(n);
    if (!line.empty() && line.front() == '{' && !ParseLabels(&line, &sample.labels)) continue;
    std::string_view value;
    if (!internal::NextField(&line, &value)) continue;
    const auto parsed = ParseValue(value);
    if (!parsed) continue;
    sample.value = *parsed;
    out.push_back(std::move(sample));
  }
  return out;
}

const PromSample* PromSamples::Find(std::string_view name,
                                    const std::map<std::string, std::string>& labels) const {
  for (const PromSample& s : samples_) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      const auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) return &s;
  }
  return nullptr;
}

std::optional<double> PromSamples::Value(std::string_view name,
                                         const std::map<std::string, std::string>& labels) const {
  const PromSample* s = Find(name, labels);
  if (s == nullptr) return std::nullopt;
  return s->value;
}

std::optional<std::string> PromSamples::Label(std::string_view name, const std::string& label) const {
  const PromSample* s = Find(name);
  if (s == nullptr) return std::nullopt;
  const auto it = s->labels.find(label);
  if (it == s->labels.end()) return std::nullopt;
  return it->second;
}

}  // namespace leakwatch::cli
