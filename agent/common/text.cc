#include "agent/common/text.h"

#include <time.h>

#include <charconv>
#include <cstdio>

namespace leakwatch::internal {

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseI64(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> ParseDecimal(std::string_view s) {
  double v = 0;
  // from_chars also takes "nan", "inf" and a sign; kernel files and configs never need them.
  if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view TrimSpace(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool NextLine(std::string_view* text, std::string_view* line) {
  if (text->empty()) return false;
  size_t nl = text->find('\n');
  if (nl == std::string_view::npos) {
    *line = *text;
    *text = {};
  } else {
    *line = text->substr(0, nl);
    text->remove_prefix(nl + 1);
  }
  return true;
}

bool NextField(std::string_view* text, std::string_view* field) {
  // Plain loops: find_first_of/find_first_not_of call memchr once per character, too slow for the tick.
  const auto is_separator = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
  size_t start = 0;
  while (start < text->size() && is_separator((*text)[start])) ++start;
  if (start == text->size()) {
    *text = {};
    return false;
  }
  size_t end = start;
  while (end < text->size() && !is_separator((*text)[end])) ++end;
  *field = text->substr(start, end - start);
  text->remove_prefix(end);
  return true;
}

std::string FormatUtcMillis(std::chrono::system_clock::time_point t, TimeFormat format) {
  const int64_t ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const std::time_t time = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&time, &tm);
  const char* pattern = format == TimeFormat::kRfc3339 ? "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"
                                                       : "%04d%02d%02dT%02d%02d%02d.%03dZ";
  char buf[48];
  std::snprintf(buf, sizeof buf, pattern, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, static_cast<int>(ms - secs * 1000));
  return buf;
}

}  // namespace leakwatch::internal
