#include "tests/integration/prom_text.h"

#include <cstdlib>

namespace leakwatch::integration {
namespace {

// Parses `{a="x",b="y"}` starting at s[*pos] == '{'; advances *pos past '}'. nullopt when malformed.
std::optional<Labels> ParseLabels(std::string_view s, size_t* pos) {
  Labels out;
  size_t i = *pos + 1;
  while (true) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '}') break;
    const size_t eq = s.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= s.size() || s[eq + 1] != '"') return std::nullopt;
    std::string key(s.substr(i, eq - i));
    std::string value;
    i = eq + 2;
    while (true) {
      if (i >= s.size()) return std::nullopt;
      const char c = s[i++];
      if (c == '"') break;
      if (c == '\\') {
        if (i >= s.size()) return std::nullopt;
        const char e = s[i++];
        value += e == 'n' ? '\n' : e;
      } else {
        value += c;
      }
    }
    out.emplace(std::move(key), std::move(value));
  }
  *pos = i + 1;
  return out;
}

}  // namespace

std::optional<double> FindSample(std::string_view text, std::string_view name, const Labels& labels) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string_view::npos || line.substr(0, name_end) != name) continue;
    Labels found;
    size_t pos = name_end;
    if (line[pos] == '{') {
      auto parsed = ParseLabels(line, &pos);
      if (!parsed) continue;
      found = std::move(*parsed);
    }
    if (found != labels) continue;
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const size_t value_end = line.find(' ', pos);
    const std::string value(
        line.substr(pos, value_end == std::string_view::npos ? line.npos : value_end - pos));
    if (value.empty()) continue;
    char* parse_end = nullptr;
    const double v = std::strtod(value.c_str(), &parse_end);  // accepts nan, NaN, Nan, +Inf, -Inf
    if (parse_end != value.c_str() + value.size()) continue;
    return v;
  }
  return std::nullopt;
}

}  // namespace leakwatch::integration
