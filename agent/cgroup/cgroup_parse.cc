#include "agent/cgroup/cgroup_parse.h"

#include <charconv>

#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

// A value quoted for an error message: at most 64 characters, control characters shown as '?'.
std::string Quote(std::string_view v) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  for (size_t i = 0; i < v.size() && i < kMax; ++i) {
    const char c = v[i];
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  if (v.size() > kMax) out += "...";
  out += "'";
  return out;
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

// Splits `s` at `sep` (no trimming, empty pieces dropped).
std::vector<std::string> SplitNonEmpty(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t pos = s.find(sep);
    std::string_view piece = s.substr(0, pos);
    if (!piece.empty()) out.emplace_back(piece);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

std::string_view StripTrailingSlashes(std::string_view s) {
  while (s.size() > 1 && s.back() == '/') s.remove_suffix(1);
  return s;
}

bool HasDotDotComponent(std::string_view path) {
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (part == "..") return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

// Parses "avg10=0.12 avg60=0.00 avg300=0.00 total=12345" (after the "some"/"full" word).
// Joins pieces into one string. Also sidesteps GCC 12's false -Wrestrict on chains of std::string operator+
// at -O3.
std::string Concat(std::initializer_list<std::string_view> pieces) {
  size_t size = 0;
  for (const auto p : pieces) size += p.size();
  std::string out;
  out.reserve(size);
  for (const auto p : pieces) out.append(p.data(), p.size());
  return out;
}

Result<PressureLine> ParsePressureFields(std::string_view kind, std::string_view fields) {
  PressureLine out;
  bool have_avg10 = false, have_avg60 = false, have_avg300 = false, have_total = false;
  std::string_view field;
  while (NextField(&fields, &field)) {
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    if (key == "total") {
      auto v = ParseU64(value);
      if (!v) return Error{Concat({"'", kind, "' line: total=", Quote(value), " is not an unsigned integer"})};
      out.total_us = *v;
      have_total = true;
      continue;
    }
    double* slot = nullptr;
    bool* seen = nullptr;
    if (key == "avg10") slot = &out.avg10, seen = &have_avg10;
    else if (key == "avg60") slot = &out.avg60, seen = &have_avg60;
    else if (key == "avg300") slot = &out.avg300, seen = &have_avg300;
    else continue;  // a key a future kernel may add
    auto v = ParseDecimal(value);
    if (!v || *v < 0) {
      return Error{Concat({"'", kind, "' line: ", key, "=", Quote(value), " is not a non-negative decimal"})};
    }
    *slot = *v / 100.0;
    *seen = true;
  }
  const char* missing = !have_avg10 ? "avg10" : !have_avg60 ? "avg60" : !have_avg300 ? "avg300"
                                                             : !have_total  ? "total"
                                                                            : nullptr;
  if (missing != nullptr) return Error{Concat({"'", kind, "' line: no ", missing, "= field"})};
  return out;
}

}  // namespace

bool ProcCgroupEntry::HasController(std::string_view name) const {
  for (const auto& c : controllers) {
    if (c == name) return true;
  }
  return false;
}

Result<std::vector<ProcCgroupEntry>> ParseProcCgroup(std::string_view text) {
  std::vector<ProcCgroupEntry> out;
  std::string_view line;
  size_t line_no = 0;
  while (NextLine(&text, &line)) {
    ++line_no;
    if (TrimSpace(line).empty()) continue;
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) {
      return Error{"line " + std::to_string(line_no) + ": expected 'id:controllers:path', got " + Quote(line)};
    }
    auto id = ParseU64(line.substr(0, c1));
    if (!id || *id > UINT32_MAX) {
      return Error{"line " + std::to_string(line_no) + ": hierarchy id " + Quote(line.substr(0, c1)) +
                   " is not a number"};
    }
    std::string_view path = line.substr(c2 + 1);
    if (path.empty() || path.front() != '/') {
      return Error{"line " + std::to_string(line_no) + ": cgroup path " + Quote(path) + " does not start with '/'"};
    }
    ProcCgroupEntry e;
    e.hierarchy_id = static_cast<uint32_t>(*id);
    e.controllers = SplitNonEmpty(line.substr(c1 + 1, c2 - c1 - 1), ',');
    e.path = std::string(path);
    out.push_back(std::move(e));
  }
  return out;
}

bool CgroupMount::HasOption(std::string_view name) const {
  for (const auto& o : super_options) {
    if (o == name) return true;
  }
  return false;
}

std::string UnescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) &&
        IsOctal(field[i + 3])) {
      const int v = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      out += static_cast<char>(v & 0xff);
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::vector<CgroupMount> ParseMountInfo(std::string_view text) {
  std::vector<CgroupMount> out;
  std::string_view line;
  while (NextLine(&text, &line)) {
    // Cheap filter first: most lines are not cgroup mounts.
    const size_t sep = line.find(" - ");
    if (sep == std::string_view::npos) continue;
    std::string_view tail = line.substr(sep + 3);
    std::string_view fstype, source, super;
    if (!NextField(&tail, &fstype) || (fstype != "cgroup" && fstype != "cgroup2")) continue;
    if (!NextField(&tail, &source) || !NextField(&tail, &super)) continue;

    std::string_view head = line.substr(0, sep);
    std::string_view id, parent, devno, root, mount_point;
    if (!NextField(&head, &id) || !NextField(&head, &parent) || !NextField(&head, &devno) ||
        !NextField(&head, &root) || !NextField(&head, &mount_point)) {
      continue;
    }
    CgroupMount m;
    m.root = UnescapeMountField(root);
    m.mount_point = UnescapeMountField(mount_point);
    m.fstype = std::string(fstype);
    m.super_options = SplitNonEmpty(super, ',');
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<std::string> MapCgroupPath(std::string_view cgroup_path, std::string_view mount_root,
                                         std::string_view mount_dir) {
  if (cgroup_path.empty() || cgroup_path.front() != '/' || HasDotDotComponent(cgroup_path)) return std::nullopt;
  cgroup_path = StripTrailingSlashes(cgroup_path);
  mount_root = StripTrailingSlashes(mount_root);
  std::string_view rel;
  if (mount_root == "/" || mount_root.empty()) {
    rel = cgroup_path;
  } else if (cgroup_path == mount_root) {
    rel = "/";
  } else if (cgroup_path.size() > mount_root.size() && cgroup_path.substr(0, mount_root.size()) == mount_root &&
             cgroup_path[mount_root.size()] == '/') {
    rel = cgroup_path.substr(mount_root.size());
  } else {
    return std::nullopt;
  }
  std::string_view dir = StripTrailingSlashes(mount_dir);
  if (dir == "/") dir = {};
  if (rel == "/") rel = {};
  if (dir.empty() && rel.empty()) return std::string(1, '/');
  return Concat({dir, rel});
}

std::optional<uint64_t> FlatKeyedFile::Get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<uint64_t> FlatKeyedFile::GetFirst(std::initializer_list<std::string_view> keys) const {
  for (std::string_view key : keys) {
    if (auto v = Get(key)) return v;
  }
  return std::nullopt;
}

void ParseFlatKeyedFile(std::string_view text, FlatKeyedFile* out) {
  out->entries_.clear();
  out->malformed_lines_ = 0;
  std::string_view line;
  // Runs on every tick over ~40-60 lines of memory.stat: one pass per line, no per-character searches.
  while (NextLine(&text, &line)) {
    size_t key_end = 0;
    while (key_end < line.size() && line[key_end] != ' ' && line[key_end] != '\t') ++key_end;
    if (key_end == 0) {
      if (!TrimSpace(line).empty()) ++out->malformed_lines_;
      continue;
    }
    const auto v = ParseU64(TrimSpace(line.substr(key_end)));  // "1 2" or "x" fail: malformed
    if (!v) {
      ++out->malformed_lines_;
      continue;
    }
    out->entries_.emplace_back(line.substr(0, key_end), *v);  // Get() returns the first of repeated keys
  }
}

FlatKeyedFile ParseFlatKeyedFile(std::string_view text) {
  FlatKeyedFile out;
  ParseFlatKeyedFile(text, &out);
  return out;
}

Result<std::optional<uint64_t>> ParseLimitValue(std::string_view text) {
  const std::string_view v = TrimSpace(text);
  if (v == "max") return std::optional<uint64_t>();
  auto n = ParseU64(v);
  if (!n) return Error{"expected a number or 'max', got " + Quote(v)};
  if (IsUnlimitedValue(*n)) return std::optional<uint64_t>();
  return std::optional<uint64_t>(*n);
}

Result<uint64_t> ParseSingleValue(std::string_view text) {
  const std::string_view v = TrimSpace(text);
  auto n = ParseU64(v);
  if (!n) return Error{"expected an unsigned integer, got " + Quote(v)};
  return *n;
}

Result<Pressure> ParsePressure(std::string_view text) {
  std::optional<PressureLine> some, full;
  std::string_view line;
  while (NextLine(&text, &line)) {
    std::string_view rest = line;
    std::string_view kind;
    if (!NextField(&rest, &kind)) continue;
    if (kind != "some" && kind != "full") continue;
    auto parsed = ParsePressureFields(kind, rest);
    if (!parsed.ok()) return parsed.error();
    (kind == "some" ? some : full) = *parsed;
  }
  if (!some) return Error{"no 'some' line"};
  return Pressure{*some, full};
}

}  // namespace leakwatch::internal
