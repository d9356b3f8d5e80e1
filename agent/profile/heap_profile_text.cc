#include "agent/profile/heap_profile_text.h"

#include <initializer_list>
#include <optional>
#include <string>

#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

constexpr std::string_view kMapsSentinel = "MAPPED_LIBRARIES:";

// Lines with their 1-based numbers; "\r" line ends are dropped.
class Lines {
 public:
  explicit Lines(std::string_view text) : rest_(text) {}

  bool Next(std::string_view* line) {
    if (!NextLine(&rest_, line)) return false;
    ++number_;
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    return true;
  }
  // Like Next, skipping lines that are blank.
  bool NextNonBlank(std::string_view* line) {
    while (Next(line)) {
      if (!TrimSpace(*line).empty()) return true;
    }
    return false;
  }
  size_t number() const { return number_; }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
  size_t number_ = 0;
};

std::string Shown(std::string_view line) {
  line = TrimSpace(line);
  constexpr size_t kMax = 80;
  std::string out(line.substr(0, kMax));
  if (line.size() > kMax) out += "...";
  return "\"" + out + "\"";
}

Error LineError(size_t line, const std::string& what) {
  return Error{"line " + std::to_string(line) + ": " + what};
}

// A left-to-right reader of one line's tokens: whole numbers and separators, spaces between them skipped.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (!s_.empty() && (s_.front() == ' ' || s_.front() == '\t')) s_.remove_prefix(1);
  }
  bool Consume(std::string_view token) {
    SkipSpace();
    if (s_.substr(0, token.size()) != token) return false;
    s_.remove_prefix(token.size());
    return true;
  }
  std::optional<uint64_t> Decimal() {
    SkipSpace();
    size_t n = 0;
    while (n < s_.size() && s_[n] >= '0' && s_[n] <= '9') ++n;
    auto v = ParseU64(s_.substr(0, n));
    if (v) s_.remove_prefix(n);
    return v;
  }
  bool AtEnd() {
    SkipSpace();
    return s_.empty();
  }
  std::string_view rest() const { return s_; }

 private:
  std::string_view s_;
};

// "<objs>: <bytes> [<objs>: <bytes>]" at the scanner; the reason on failure.
struct CountPair {
  HeapCounts inuse;
  HeapCounts alloc;
};

Result<CountPair> ScanCounts(Scanner& s) {
  CountPair c;
  struct Step {
    uint64_t* number;      // a number to read, or
    std::string_view sep;  // a separator to consume
    const char* what;
  };
  for (const Step& step :
       {Step{&c.inuse.objects, {}, "the live object count"}, Step{nullptr, ":", nullptr},
        Step{&c.inuse.bytes, {}, "the live byte count"}, Step{nullptr, "[", nullptr},
        Step{&c.alloc.objects, {}, "the allocated object count"}, Step{nullptr, ":", nullptr},
        Step{&c.alloc.bytes, {}, "the allocated byte count"}, Step{nullptr, "]", nullptr}}) {
    if (step.number != nullptr) {
      auto v = s.Decimal();
      if (!v) return Error{std::string("expected ") + step.what + " (a whole decimal number)"};
      *step.number = *v;
    } else if (!s.Consume(step.sep)) {
      return Error{"expected \"" + std::string(step.sep) + "\""};
    }
  }
  if (c.inuse.objects == 0 && c.inuse.bytes != 0) {
    return Error{"0 live objects but " + std::to_string(c.inuse.bytes) + " live bytes"};
  }
  if (c.alloc.objects == 0 && c.alloc.bytes != 0) {
    return Error{"0 allocated objects but " + std::to_string(c.alloc.bytes) + " allocated bytes"};
  }
  return c;
}

// Hex digits without a prefix, at most 16.
std::optional<uint64_t> ParseHexDigits(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (const char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

// "0x" and hex digits.
std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  return ParseHexDigits(s.substr(2));
}

// The addresses of "0x.. 0x.." (possibly none).
Result<std::vector<uint64_t>> ParseStack(std::string_view text) {
  std::vector<uint64_t> stack;
  std::string_view field;
  while (NextField(&text, &field)) {
    auto a = ParseHex(field);
    if (!a) return Error{"expected a hex address (0x...), got \"" + std::string(field) + "\""};
    stack.push_back(*a);
  }
  return stack;
}

// The rest of the text after the MAPPED_LIBRARIES line.
void ParseMapsSection(const Lines& lines, HeapProfile* profile) {
  profile->mappings = ParseMappedRegions(lines.rest());
}

bool IsMapsSentinel(std::string_view line) { return line.find(kMapsSentinel) != std::string_view::npos; }

// Skips blank and '%' lines; false at the end of the text.
bool NextHeaderLine(Lines& lines, std::string_view* line) {
  while (lines.NextNonBlank(line)) {
    if (TrimSpace(*line).front() != '%') return true;
  }
  return false;
}

// --- jemalloc heap_v2 ---

// "t*: ..." or "t<digits>: ..." at the start of `line` (after spaces): the counts. nullopt when the line is
// not a thread-count line at all.
std::optional<Result<CountPair>> ThreadCounts(std::string_view line, bool* is_total) {
  Scanner s(line);
  if (!s.Consume("t")) return std::nullopt;
  if (s.Consume("*")) {
    *is_total = true;
  } else if (s.Decimal()) {
    *is_total = false;
  } else {
    return std::nullopt;
  }
  if (!s.Consume(":")) return std::nullopt;
  auto c = ScanCounts(s);
  if (!c.ok()) return Result<CountPair>(c.error());
  // A thread name may follow a per-thread line of the header; a total has nothing after it.
  if (*is_total && !s.AtEnd()) {
    return Result<CountPair>(Error{"unexpected text after the counts: \"" + std::string(s.rest()) + "\""});
  }
  return Result<CountPair>(*c);
}

}  // namespace

std::vector<MappedRegion> ParseMappedRegions(std::string_view text) {
  std::vector<MappedRegion> out;
  std::string_view line;
  while (NextLine(&text, &line)) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view rest = line;
    std::string_view range, perms, offset, dev, inode;
    if (!NextField(&rest, &range) || !NextField(&rest, &perms) || !NextField(&rest, &offset) ||
        !NextField(&rest, &dev) || !NextField(&rest, &inode)) {
      continue;
    }
    const size_t dash = range.find('-');
    if (dash == std::string_view::npos) continue;
    const auto start = ParseHexDigits(range.substr(0, dash));
    const auto limit = ParseHexDigits(range.substr(dash + 1));
    const auto off = ParseHexDigits(offset);
    if (!start || !limit || !off || *limit < *start || perms.size() != 4 || !ParseU64(inode)) continue;
    MappedRegion m;
    m.start = *start;
    m.limit = *limit;
    m.offset = *off;
    m.permissions = std::string(perms);
    m.path = std::string(TrimSpace(rest));
    out.push_back(std::move(m));
  }
  return out;
}

Result<HeapProfile> ParseJemallocHeapProfile(std::string_view text) {
  Lines lines(text);
  std::string_view line;
  if (!NextHeaderLine(lines, &line)) return Error{"empty profile: no \"heap_v2/<rate>\" header"};
  HeapProfile p;
  p.format = "jemalloc heap_v2";
  p.sampling = HeapSampling::kPoisson;
  {
    Scanner s(line);
    std::optional<uint64_t> rate;
    if (!s.Consume("heap_v2/") || !(rate = s.Decimal()) || !s.AtEnd()) {
      return LineError(lines.number(),
                       "expected the jemalloc header \"heap_v2/<sampling rate>\", got " + Shown(line));
    }
    p.sampling_rate = *rate;
  }
  // The profile's totals, then one line per thread.
  bool is_total = false;
  if (!lines.NextNonBlank(&line)) return LineError(lines.number(), "the profile ends before its totals");
  {
    auto totals = ThreadCounts(line, &is_total);
    if (!totals || !is_total) {
      return LineError(
          lines.number(),
          "expected the totals \"t*: <objects>: <bytes> [<objects>: <bytes>]\", got " + Shown(line));
    }
    if (!totals->ok()) return LineError(lines.number(), totals->error().message);
    p.total_inuse = (*totals)->inuse;
    p.total_alloc = (*totals)->alloc;
    p.has_alloc = p.total_alloc.objects != 0;
  }
  HeapStackRecord* current = nullptr;  // the stack whose "t*" line is due
  bool counted = true;
  while (lines.NextNonBlank(&line)) {
    const std::string_view trimmed = TrimSpace(line);
    if (IsMapsSentinel(trimmed)) {
      if (!counted) return LineError(lines.number(), "the stack above has no \"t*:\" counts");
      ParseMapsSection(lines, &p);
      return p;
    }
    if (trimmed.front() == '@') {
      if (!counted) return LineError(lines.number(), "the stack above has no \"t*:\" counts");
      auto stack = ParseStack(trimmed.substr(1));
      if (!stack.ok()) return LineError(lines.number(), stack.error().message);
      p.records.push_back(HeapStackRecord{std::move(*stack), {}, {}});
      current = &p.records.back();
      counted = false;
      continue;
    }
    auto counts = ThreadCounts(trimmed, &is_total);
    if (!counts) {
      return LineError(lines.number(),
                       std::string("expected \"@ 0x...\" (a stack), \"t*:\"/\"t<thread>:\" counts or \"") +
                           std::string(kMapsSentinel) + "\", got " + Shown(line));
    }
    if (!counts->ok()) return LineError(lines.number(), counts->error().message);
    if (is_total) {
      if (current == nullptr || counted) {
        return LineError(lines.number(), "\"t*:\" counts without a stack (\"@ 0x...\") before them");
      }
      current->inuse = (*counts)->inuse;
      current->alloc = p.has_alloc ? (*counts)->alloc : HeapCounts{};
      counted = true;
    } else if (current != nullptr && !counted) {
      return LineError(lines.number(), "per-thread counts before the stack's \"t*:\" line");
    }
    // Per-thread lines (of the header or of a stack) add nothing the totals do not say.
  }
  if (!counted) return LineError(lines.number(), "the last stack has no \"t*:\" counts");
  return p;
}

Result<HeapProfile> ParseGperftoolsHeapProfile(std::string_view text) {
  Lines lines(text);
  std::string_view line;
  if (!NextHeaderLine(lines, &line)) return Error{"empty profile: no \"heap profile:\" header"};
  HeapProfile p;
  {
    Scanner s(TrimSpace(line));
    if (!s.Consume("heap profile:")) {
      return LineError(lines.number(),
                       "expected the header \"heap profile: ... @ heap_v2/<rate>\", got " + Shown(line));
    }
    auto totals = ScanCounts(s);
    if (!totals.ok()) return LineError(lines.number(), "in the header: " + totals.error().message);
    if (!s.Consume("@")) return LineError(lines.number(), "expected \"@ <kind>\" after the header's counts");
    s.SkipSpace();
    std::string_view kind = s.rest();
    std::optional<uint64_t> rate;
    if (const size_t slash = kind.find('/'); slash != std::string_view::npos) {
      rate = ParseU64(TrimSpace(kind.substr(slash + 1)));
      if (!rate) {
        return LineError(lines.number(), "expected a whole sampling rate after \"/\", got " + Shown(kind));
      }
      kind = kind.substr(0, slash);
    }
    kind = TrimSpace(kind);
    if (kind == "heap_v2" || kind == "heapz_v2") {
      p.format = "gperftools heap_v2";
      p.sampling = HeapSampling::kPoisson;
      p.sampling_rate = rate.value_or(0);
    } else if (kind == "heapprofile") {
      p.format = "gperftools heapprofile";
      p.sampling = HeapSampling::kEveryAllocation;
      p.sampling_rate = 1;
    } else if (kind == "heap") {
      // The first sampling scheme: pprof reads its rate as twice the Poisson mean.
      p.format = "gperftools heap";
      p.sampling = HeapSampling::kPoisson;
      p.sampling_rate = rate.value_or(0) / 2;
    } else {
      return LineError(lines.number(), "unsupported heap profile kind " + Shown(kind) +
                                           " (heap_v2, heapz_v2, heapprofile or heap)");
    }
    p.total_inuse = totals->inuse;
    p.total_alloc = totals->alloc;
    // pprof's rule: alloc counts that merely repeat the live ones (a heap sample) are not a second measure.
    p.has_alloc = (totals->alloc.objects != totals->inuse.objects && totals->alloc.objects != 0) ||
                  (totals->alloc.bytes != totals->inuse.bytes && totals->alloc.bytes != 0);
    if (!p.has_alloc) p.total_alloc = {};
  }
  while (lines.NextNonBlank(&line)) {
    const std::string_view trimmed = TrimSpace(line);
    if (IsMapsSentinel(trimmed)) {
      ParseMapsSection(lines, &p);
      return p;
    }
    Scanner s(trimmed);
    auto counts = ScanCounts(s);
    if (!counts.ok()) {
      return LineError(lines.number(), counts.error().message + " in " + Shown(line) +
                                           " (expected \"<objects>: <bytes> [<objects>: <bytes>] @ 0x...\")");
    }
    if (!s.Consume("@")) return LineError(lines.number(), "expected \"@\" and the stack after the counts");
    auto stack = ParseStack(s.rest());
    if (!stack.ok()) return LineError(lines.number(), stack.error().message);
    p.records.push_back(
        HeapStackRecord{std::move(*stack), counts->inuse, p.has_alloc ? counts->alloc : HeapCounts{}});
  }
  return p;
}

Result<HeapProfile> ParseHeapProfileText(std::string_view text) {
  Lines lines(text);
  std::string_view line;
  if (!NextHeaderLine(lines, &line)) return Error{"empty profile"};
  const std::string_view first = TrimSpace(line);
  if (first.substr(0, 8) == "heap_v2/") return ParseJemallocHeapProfile(text);
  if (first.substr(0, 13) == "heap profile:") return ParseGperftoolsHeapProfile(text);
  return LineError(lines.number(),
                   "not a heap profile: expected \"heap_v2/<rate>\" (jemalloc) or \"heap profile: ...\" "
                   "(gperftools), got " +
                       Shown(line));
}

}  // namespace leakwatch::internal
