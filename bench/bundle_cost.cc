// leakwatch_bundle_cost: what an incident bundle costs the host process (docs/PERFORMANCE.md, "Incident
// bundles: time, size and host latency"). Driven by bench/bundle_cost.sh.
//
//   leakwatch_bundle_cost --dir DIR [--label NAME] [--heap objects|mmap] [--sizes-mib 100,1024,4096]
//                         [--captures N] [--request-threads K] [--map-threads M] [--threads T] [--fds F]
//                         [--settle-ms MS] [--warmup-ticks TICKS] [--long-idle-s S]
//
// The process first shapes itself (T threads, F open fds: bench_support's ProcessShape), then for each RSS
// target, smallest first (each size grows the same heap further):
//   1. grows its heap until VmRSS reaches the target, unless MemAvailable is below twice the target (the size
//      and every larger one are then skipped, with a "skip" line). `--heap objects`: std::string and
//      std::vector objects of 64 B .. 64 KiB (log-uniform), held in an unordered_map and a deque, one in
//      eight insertions erasing an earlier object (a fragmented malloc heap). `--heap mmap`: pieces of
//      16 KiB .. 1 MiB, each its own anonymous mmap followed by a PROT_NONE guard page (two VMAs each);
//   2. starts K request threads: each loops over a fixed request (build a ~2.5 KiB key=value text, parse it
//      into a std::map, serialize it as JSON, allocate and free 32 objects of 64 B .. 8 KiB, read 16 random
//      held objects) and records each request's latency (steady_clock) in a histogram of the phase it ran
//      in. K = 0: no requests (bundle figures on an otherwise idle process). M mapper threads (default 0)
//      each map 64 KiB, write one byte and unmap it every 200 µs (a large malloc/free above glibc's mmap
//      threshold: both calls take the mmap lock for writing, which /proc/<pid>/smaps_rollup holds for
//      reading while the kernel walks the page tables), recording those latencies the same way;
//   3. starts an Agent (HTTP off, period 1 s, bundles in DIR, max_per_window raised), waits a few ticks;
//   4. "capture": N times (after one warm-up) an idle window of the previous bundle's length, then
//      Agent::capture() (the bundle worker writes it; this thread waits);
//   5. "full": the same with WriteBundle (the function the worker runs) on a thread of its own, over a
//      History pre-filled to capacity (6 h 24 min of 1 s ticks built from the agent's latest snapshot): what
//      a bundle from an agent that ran for hours costs (Agent::capture's history holds a few ticks only);
//   6. with --long-idle-s S: one window of S seconds with the agent running and no bundle ("idle_long": what
//      its ticks cost, a slow tick every 10 s included);
//   7. stops the agent and replays every bundle window's length with no agent at all ("none"), then S seconds
//      more ("none_long").
// An operation (request or mapping) that overlaps a bundle window is counted in that window's class; others
// that straddle two phases are dropped. Windows are separated by --settle-ms of uncounted time.
//
// Per bundle it reports: the writer's duration (BundleResult::duration, BundleStats::last_duration), the
// caller's wall time, the bundle's files (bytes, allocated bytes, bytes left in the page cache per mincore),
// the rise of VmHWM over VmRSS during the window (/proc/self/clear_refs "5" resets the peak before it; the
// same in each idle window as a control), the writing thread's CPU and run-queue wait (schedstat), and what
// the manifest says about a heap profile and skipped parts. Output: one JSON object per line on stdout;
// progress on stderr.

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/bundle/bundle_writer.h"
#include "agent/cgroup/cgroup_location.h"
#include "bench/bench_support.h"
#include "leakwatch/agent.h"
#include "leakwatch/history.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kKiB = 1ull << 10;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Emit(const json& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------------------
// /proc/self

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A "Key:   123 kB" line of /proc/self/status or /proc/meminfo, in bytes (0 when absent).
uint64_t KbField(const std::string& path, const std::string& key) {
  std::istringstream lines(ReadText(path));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10) * kKiB;
    }
  }
  return 0;
}

uint64_t RssBytes() {
  std::istringstream statm(ReadText("/proc/self/statm"));
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t PeakRssBytes() { return KbField("/proc/self/status", "VmHWM"); }
uint64_t MemAvailableBytes() { return KbField("/proc/meminfo", "MemAvailable"); }

// Resets VmHWM to the current RSS (Linux >= 4.0).
bool ResetPeakRss() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

size_t CountMappings() {
  std::istringstream lines(ReadText("/proc/self/maps"));
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) ++n;
  return n;
}

// Median wall time of reading /proc/self/smaps_rollup (the kernel walks every mapping's page tables; the
// bundle copies it, and the agent's slow tick reads it).
double SmapsRollupMs() {
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    const std::string text = ReadText("/proc/self/smaps_rollup");
    ms.push_back(Ms(Clock::now() - t0));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// First two fields of a schedstat file: time on a CPU and time waiting on a run queue, ns.
struct SchedStat {
  int64_t cpu_ns = 0;
  int64_t wait_ns = 0;
};
SchedStat ReadSchedStat(const std::string& path) {
  std::istringstream in(ReadText(path));
  SchedStat s;
  in >> s.cpu_ns >> s.wait_ns;
  return s;
}

// The tid of this process's thread named `comm`, if any.
std::optional<std::string> FindThread(const std::string& comm) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/task", ec)) {
    std::string name = ReadText(entry.path().string() + "/comm");
    while (!name.empty() && name.back() == '\n') name.pop_back();
    if (name == comm) return entry.path().filename().string();
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------------
// Latency histogram: exact below 64 ns, then 64 buckets per power of two (1.6 % resolution).

class Histogram {
 public:
  void Add(int64_t ns) {
    const uint64_t v = ns < 1 ? 1 : static_cast<uint64_t>(ns);
    ++counts_[Index(v)];
    ++count_;
    sum_ += static_cast<double>(v);
    max_ = std::max(max_, v);
  }
  void Merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const { return count_; }
  double max_us() const { return static_cast<double>(max_) / 1e3; }
  double mean_us() const { return count_ ? sum_ / static_cast<double>(count_) / 1e3 : 0; }
  // Values above `ns` (to the histogram's resolution: whole buckets above the one holding `ns`).
  uint64_t CountAbove(int64_t ns) const {
    uint64_t n = 0;
    for (size_t i = Index(static_cast<uint64_t>(ns)) + 1; i < kBuckets; ++i) n += counts_[i];
    return n;
  }
  // The q-quantile (0 < q <= 1) as the middle of its bucket, in µs.
  double QuantileUs(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank && counts_[i] > 0) {
        const auto [lo, hi] = Bounds(i);
        return std::min((lo + hi) / 2.0, static_cast<double>(max_)) / 1e3;
      }
    }
    return max_us();
  }

 private:
  static constexpr int kSubBits = 6;
  static constexpr uint64_t kSub = 1ull << kSubBits;
  static constexpr size_t kBuckets = kSub + (44 - kSubBits) * kSub;  // up to 2^44 ns (~4.9 h)

  static size_t Index(uint64_t v) {
    if (v < kSub) return v;
    const int e = 63 - std::countl_zero(v);  // >= kSubBits
    const size_t i = kSub + static_cast<size_t>(e - kSubBits) * kSub + ((v >> (e - kSubBits)) - kSub);
    return std::min(i, kBuckets - 1);
  }
  static std::pair<double, double> Bounds(size_t i) {
    if (i < kSub) return {static_cast<double>(i), static_cast<double>(i)};
    const size_t e = (i - kSub) / kSub + kSubBits;
    const uint64_t sub = (i - kSub) % kSub + kSub;
    const double width = std::ldexp(1.0, static_cast<int>(e - kSubBits));
    return {static_cast<double>(sub) * width, static_cast<double>(sub + 1) * width - 1};
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets, 0);
  uint64_t count_ = 0;
  double sum_ = 0;
  uint64_t max_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// The host's heap

struct Piece {
  const char* data;
  size_t size;
};

class Heap {
 public:
  enum class Kind { kObjects, kMmap };
  explicit Heap(Kind kind) : kind_(kind), page_(static_cast<size_t>(::sysconf(_SC_PAGESIZE))) {}
  ~Heap() {
    for (const auto& [p, size] : maps_) ::munmap(p, size);
  }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // Allocates and touches until VmRSS >= target; then rebuilds index(). Not thread-safe: the request threads
  // must not run meanwhile.
  void GrowTo(uint64_t target_rss) {
    uint64_t since_check = 0;
    while (RssBytes() < target_rss) {
      while (since_check < 8 * kMiB) since_check += kind_ == Kind::kObjects ? AddObject() : AddMapping();
      since_check = 0;
    }
    index_.clear();
    index_.reserve(cache_.size() + lists_.size() + maps_.size());
    for (const auto& [key, s] : cache_) index_.push_back({s.data(), s.size()});
    for (const auto& v : lists_) index_.push_back({reinterpret_cast<const char*>(v.data()), v.size() * 4});
    for (const auto& [p, size] : maps_) index_.push_back({static_cast<const char*>(p), size - page_});
  }
  const std::vector<Piece>& index() const { return index_; }
  size_t objects() const { return index_.size(); }

 private:
  // 64 B .. 64 KiB, log-uniform: most objects are small, most bytes are in the large ones.
  size_t ObjectSize() { return static_cast<size_t>(64.0 * std::exp2(10.0 * unit_(rng_))); }

  size_t AddObject() {
    const size_t size = ObjectSize();
    const uint64_t id = next_id_++;
    if (id % 3 == 2) {
      lists_.emplace_back(size / 4, static_cast<uint32_t>(id));
    } else {
      cache_.emplace(id, std::string(size, static_cast<char>('a' + id % 26)));
    }
    if (id % 8 == 7) {  // churn: drop an earlier object, leaving a hole for later ones
      std::uniform_int_distribution<uint64_t> pick(0, id);
      const size_t erased = cache_.erase(pick(rng_));
      (void)erased;
    }
    return size;
  }

  size_t AddMapping() {
    const size_t want = static_cast<size_t>(16.0 * kKiB * std::exp2(6.0 * unit_(rng_)));  // 16 KiB .. 1 MiB
    const size_t size = (want + page_ - 1) / page_ * page_ + page_;                       // + guard page
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::perror("mmap");
      std::exit(1);
    }
    std::memset(p, static_cast<int>(maps_.size() & 0x7f), size - page_);
    ::mprotect(static_cast<char*>(p) + size - page_, page_, PROT_NONE);  // a VMA of its own
    maps_.emplace_back(p, size);
    return size - page_;
  }

  Kind kind_;
  size_t page_;
  std::mt19937_64 rng_{42};
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, std::string> cache_;
  std::deque<std::vector<uint32_t>> lists_;
  std::vector<std::pair<void*, size_t>> maps_;
  std::vector<Piece> index_;
};

// ---------------------------------------------------------------------------------------------------------
// Requests and phases

enum Phase : int {
  kSettle = 0,
  kNone,
  kIdleCapture,
  kCapture,
  kIdleFull,
  kFull,
  kIdleLong,
  kNoneLong,
  kPhaseCount
};
constexpr const char* kPhaseName[kPhaseCount] = {"settle",    "none", "idle_capture", "capture",
                                                 "idle_full", "full", "idle_long",    "none_long"};
bool IsBundlePhase(int p) { return p == kCapture || p == kFull; }

std::atomic<int> g_phase{kSettle};

uint64_t Fnv(std::string_view s, uint64_t h) {
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

struct RequestState {
  uint64_t rng = 0;
  uint64_t counter = 0;
  uint64_t sink = 0;
};

uint64_t NextRandom(uint64_t& x) {  // xorshift64
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

// One request of fixed work; returns a hash so nothing is optimised away.
uint64_t DoRequest(RequestState& s, const std::vector<Piece>& heap) {
  std::string text;
  for (int i = 0; i < 96; ++i) {
    text += "field_";
    text += std::to_string(i);
    text += '=';
    text += std::to_string(s.counter * 2654435761ull + static_cast<uint64_t>(i) * 40503ull);
    text += '\n';
  }
  std::map<std::string, std::string> fields;
  for (size_t pos = 0; pos < text.size();) {
    const size_t eol = text.find('\n', pos);
    const size_t eq = text.find('=', pos);
    fields.emplace(text.substr(pos, eq - pos), text.substr(eq + 1, eol - eq - 1));
    pos = eol + 1;
  }
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    out += '"';
    out += k;
    out += "\":\"";
    out += v;
    out += "\",";
  }
  out.back() = '}';
  uint64_t h = Fnv(out, 1469598103934665603ull);

  std::vector<std::unique_ptr<char[]>> objects;
  objects.reserve(32);
  for (size_t i = 0; i < 32; ++i) {
    const size_t size = 64u << (i % 8);
    objects.emplace_back(new char[size]);
    std::memset(objects.back().get(), static_cast<int>(i), size);
    h += static_cast<unsigned char>(objects.back()[size / 2]);
  }
  objects.clear();

  if (!heap.empty()) {
    for (int i = 0; i < 16; ++i) {
      const Piece& p = heap[NextRandom(s.rng) % heap.size()];
      h += static_cast<unsigned char>(p.data[NextRandom(s.rng) % p.size]);
    }
  }
  ++s.counter;
  return h;
}

// One mapping operation as a large malloc/free above glibc's mmap threshold does it: map 64 KiB, write its
// first page, unmap. Both calls take the process's mmap lock for writing.
void DoMapping() {
  constexpr size_t kBytes = 64 * kKiB;
  void* m = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return;
  static_cast<volatile char*>(m)[0] = 1;
  ::munmap(m, kBytes);
}

// The host's threads: `requests` threads looping over DoRequest() back to back, and `mappers` threads doing
// one DoMapping() every 200 µs. Each records its latencies per phase.
class HostLoad {
 public:
  enum Op { kRequest = 0, kMap, kOpCount };
  static constexpr const char* kOpName[kOpCount] = {"request", "map"};

  explicit HostLoad(const std::vector<Piece>& heap) : heap_(heap) {}
  ~HostLoad() { Stop(); }

  void Start(int requests, int mappers) {
    stop_ = false;
    const auto total = static_cast<size_t>(requests + mappers);
    hists_.assign(total, std::vector<Histogram>(kPhaseCount));
    ops_.clear();
    for (size_t t = 0; t < total; ++t) {
      const Op op = t < static_cast<size_t>(requests) ? kRequest : kMap;
      ops_.push_back(op);
      threads_.emplace_back([this, t, op] { Run(op, hists_[t], 0x9E3779B97F4A7C15ull + t); });
      pthread_setname_np(threads_.back().native_handle(), op == kRequest ? "request" : "mapper");
    }
  }

  // Joins the threads; returns, per op, one histogram per phase merged over the threads.
  std::vector<std::vector<Histogram>> Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::vector<std::vector<Histogram>> merged(kOpCount, std::vector<Histogram>(kPhaseCount));
    for (size_t t = 0; t < hists_.size(); ++t) {
      for (size_t p = 0; p < kPhaseCount; ++p) merged[ops_[t]][p].Merge(hists_[t][p]);
    }
    hists_.clear();
    return merged;
  }

 private:
  void Run(Op op, std::vector<Histogram>& hist, uint64_t seed) {
    RequestState state{.rng = seed};
    while (!stop_.load(std::memory_order_relaxed)) {
      if (op == kMap) std::this_thread::sleep_for(std::chrono::microseconds(200));
      const int p0 = g_phase.load(std::memory_order_relaxed);
      const auto t0 = Clock::now();
      if (op == kRequest) {
        state.sink += DoRequest(state, heap_);
      } else {
        DoMapping();
      }
      const auto t1 = Clock::now();
      const int p1 = g_phase.load(std::memory_order_relaxed);
      const int phase = p0 == p1 ? p0 : IsBundlePhase(p0) ? p0 : IsBundlePhase(p1) ? p1 : kSettle;
      if (phase != kSettle) hist[static_cast<size_t>(phase)].Add((t1 - t0).count());
    }
    sink_ += state.sink;
  }

  const std::vector<Piece>& heap_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sink_{0};
  std::vector<std::vector<Histogram>> hists_;
  std::vector<Op> ops_;
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------------------------------------
// Bundles

// Bytes of a file that are in the page cache (mincore over a read-only mapping; mapping faults nothing in).
uint64_t CachedBytes(const std::string& path, uint64_t size) {
  if (size == 0) return 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t cached = 0;
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (m != MAP_FAILED) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((size + page - 1) / page);
    if (::mincore(m, size, resident.data()) == 0) {
      for (const unsigned char r : resident) cached += (r & 1) ? page : 0;
    }
    ::munmap(m, size);
  }
  ::close(fd);
  return std::min(cached, size);
}

// What is on disk for one bundle, and what its manifest says.
json DescribeBundle(const std::string& dir) {
  json j;
  uint64_t bytes = 0, allocated = 0, cached = 0;
  json files = json::object();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const auto size = static_cast<uint64_t>(st.st_size);
    files[entry.path().filename().string()] = size;
    bytes += size;
    allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    cached += CachedBytes(entry.path().string(), size);
  }
  j["bytes"] = bytes;
  j["allocated_bytes"] = allocated;
  j["cached_bytes"] = cached;
  j["files"] = std::move(files);
  try {
    const json m = json::parse(ReadText(dir + "/manifest.json"));
    j["heap_profile_written"] = m.at("heap_profile").value("written", false);
    j["heap_profile_why"] = m.at("heap_profile").value("why", "");
    j["skipped"] = m.value("skipped", json::array());
  } catch (const std::exception& e) {
    j["manifest_error"] = e.what();
  }
  return j;
}

// A History as the agent's would be after 6 h 24 min at the default period: both tiers full. Rows are the
// agent's latest snapshot with the time advanced 1 s per row and the values varied a little (integral values
// stay integral), so the CSV formatting does realistic work.
std::unique_ptr<leakwatch::History> FullHistory(const leakwatch::Snapshot& model) {
  leakwatch::HistoryOptions
      options;  // the agent's defaults: 1 s, 15 min, 1 min buckets over 6 h 24 min, 2 MiB
  auto created = leakwatch::History::Create(options);
  if (!created) {
    std::fprintf(stderr, "history: %s\n", created.error().message.c_str());
    std::exit(1);
  }
  auto history = std::move(*created);
  const auto rows = options.downsampled_window / options.period + 60;
  leakwatch::Snapshot s = model;
  const auto wall0 = std::chrono::system_clock::now() - options.downsampled_window - std::chrono::minutes(1);
  const auto steady0 = Clock::now() - options.downsampled_window - std::chrono::minutes(1);
  for (int64_t i = 0; i < rows; ++i) {
    s.sequence = static_cast<uint64_t>(i + 1);
    s.wall_time = wall0 + std::chrono::seconds(i);
    s.steady_time = steady0 + std::chrono::seconds(i);
    for (size_t k = 0; k < leakwatch::kSignalCount; ++k) {
      const auto signal = static_cast<leakwatch::Signal>(k);
      const auto v = model.get(signal);
      if (!v) continue;
      const bool integral = std::floor(*v) == *v;
      s.set(signal,
            integral ? *v + static_cast<double>(i % 97) : *v * (1 + 1e-3 * static_cast<double>(i % 13 - 6)));
    }
    history->Append(s);
  }
  return history;
}

// ---------------------------------------------------------------------------------------------------------

struct Args {
  std::string label = "glibc";
  Heap::Kind heap = Heap::Kind::kObjects;
  std::vector<uint64_t> sizes_mib = {100, 1024, 4096};
  int captures = 30;
  int request_threads = 2;
  int map_threads = 0;
  uint64_t threads = 200;
  uint64_t fds = 2000;
  int settle_ms = 50;
  int warmup_ticks = 3;
  int long_idle_s = 0;
  std::string dir;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: leakwatch_bundle_cost --dir DIR [--label NAME] [--heap objects|mmap]"
               " [--sizes-mib 100,1024,4096] [--captures N] [--request-threads K] [--map-threads M]"
               " [--threads T] [--fds F] [--settle-ms MS] [--warmup-ticks N] [--long-idle-s S]\n",
               why);
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    const std::string v = argv[++i];
    try {
      if (flag == "--label") {
        a.label = v;
      } else if (flag == "--heap") {
        if (v != "objects" && v != "mmap") Usage("--heap is objects or mmap");
        a.heap = v == "mmap" ? Heap::Kind::kMmap : Heap::Kind::kObjects;
      } else if (flag == "--sizes-mib") {
        a.sizes_mib.clear();
        std::istringstream in(v);
        for (std::string item; std::getline(in, item, ',');) a.sizes_mib.push_back(std::stoull(item));
        std::sort(a.sizes_mib.begin(), a.sizes_mib.end());
      } else if (flag == "--captures") {
        a.captures = std::stoi(v);
      } else if (flag == "--request-threads") {
        a.request_threads = std::stoi(v);
      } else if (flag == "--map-threads") {
        a.map_threads = std::stoi(v);
      } else if (flag == "--threads") {
        a.threads = std::stoull(v);
      } else if (flag == "--fds") {
        a.fds = std::stoull(v);
      } else if (flag == "--settle-ms") {
        a.settle_ms = std::stoi(v);
      } else if (flag == "--long-idle-s") {
        a.long_idle_s = std::stoi(v);
      } else if (flag == "--warmup-ticks") {
        a.warmup_ticks = std::stoi(v);
      } else if (flag == "--dir") {
        a.dir = v;
      } else {
        Usage(("unknown flag " + flag).c_str());
      }
    } catch (const std::logic_error&) {
      Usage(("bad value for " + flag).c_str());
    }
  }
  if (a.captures < 1 || a.request_threads < 0 || a.map_threads < 0) {
    Usage("--captures must be >= 1, --request-threads and --map-threads >= 0");
  }
  if (a.dir.empty()) Usage("--dir is required (an empty scratch directory)");
  return a;
}

// Runs one measured window: the phase is set for the length of `body` and reset to kSettle after it.
template <typename F>
Clock::duration Window(Phase phase, F&& body) {
  g_phase.store(phase, std::memory_order_relaxed);
  const auto t0 = Clock::now();
  body();
  const auto t1 = Clock::now();
  g_phase.store(kSettle, std::memory_order_relaxed);
  return t1 - t0;
}

class SizeRun {
 public:
  SizeRun(const Args& args, uint64_t size_mib, const Heap& heap)
      : args_(args), size_mib_(size_mib), load_(heap.index()) {}

  void Run() {
    const auto settle = std::chrono::milliseconds(args_.settle_ms);
    load_.Start(args_.request_threads, args_.map_threads);
    std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up: caches, arenas

    leakwatch::AgentOptions o;
    o.use_environment = false;
    o.http.listen = "off";
    o.log.level = "error";  // bundle_written is a warn event: keep stderr for progress lines
    o.bundle.dir = args_.dir + "/capture";
    o.bundle.max_per_window = 1000;  // the most allowed; the bench writes < 100 per size
    auto created = leakwatch::Agent::Create(o);
    if (!created) Fail("agent: " + created.error().message);
    auto agent = std::move(*created);
    if (auto started = agent->start(); !started) Fail("agent start: " + started.error().message);
    std::this_thread::sleep_for(o.period * args_.warmup_ticks + std::chrono::milliseconds(500));
    const auto worker = FindThread("leakwatch-bndl");
    const auto snapshot = agent->latest_snapshot();
    if (snapshot && snapshot->allocator) {
      allocator_ = snapshot->allocator->name;
      profiling_ = snapshot->allocator->profiling_active;
    }

    // Capture: Agent::capture, written by the agent's bundle worker.
    auto capture = [&](bool measured) {
      const uint64_t rss0 = RssBytes();
      ResetPeakRss();
      const SchedStat s0 = worker ? ReadSchedStat("/proc/self/task/" + *worker + "/schedstat") : SchedStat{};
      leakwatch::Result<std::string> written = leakwatch::Error{"not written"};
      const auto wall = Window(measured ? kCapture : kSettle,
                               [&] { written = agent->capture("bundle_cost", std::chrono::seconds(120)); });
      const SchedStat s1 = worker ? ReadSchedStat("/proc/self/task/" + *worker + "/schedstat") : SchedStat{};
      const uint64_t hwm = PeakRssBytes();
      if (!written) Fail("capture: " + written.error().message);
      const auto stats = agent->bundle_stats();
      json j = DescribeBundle(*written);
      j["duration_ms"] = Ms(stats.last_duration);
      j["wall_ms"] = Ms(wall);
      j["cpu_ms"] = (s1.cpu_ns - s0.cpu_ns) / 1e6;
      j["runq_wait_ms"] = (s1.wait_ns - s0.wait_ns) / 1e6;
      j["peak_rss_rise_kib"] = hwm > rss0 ? (hwm - rss0) / kKiB : 0;
      return std::pair(wall, j);
    };
    // Full: WriteBundle over a History filled to capacity, on a thread of its own (as the worker does).
    const auto full_history = FullHistory(*agent->latest_snapshot());
    auto cgroup = leakwatch::internal::LocateCgroup({});
    leakwatch::internal::BundleWriterOptions writer;
    writer.dir = args_.dir + "/full";
    auto full = [&](bool measured) {
      leakwatch::internal::BundleInputs inputs;
      inputs.snapshot = agent->latest_snapshot();
      inputs.history = full_history.get();
      if (cgroup) inputs.cgroup = *cgroup;
      const uint64_t rss0 = RssBytes();
      ResetPeakRss();
      SchedStat s0, s1;
      std::optional<leakwatch::Result<leakwatch::internal::BundleResult>> written;
      const auto wall = Window(measured ? kFull : kSettle, [&] {
        std::thread t([&] {
          pthread_setname_np(pthread_self(), "bench-bndl");
          s0 = ReadSchedStat("/proc/thread-self/schedstat");
          written = leakwatch::internal::WriteBundle(writer,
                                                     {.source = "api", .reason = "bundle_cost full history"},
                                                     inputs, Clock::now() + std::chrono::seconds(30));
          s1 = ReadSchedStat("/proc/thread-self/schedstat");
        });
        t.join();
      });
      const uint64_t hwm = PeakRssBytes();
      if (!*written) Fail("WriteBundle: " + written->error().message);
      json j = DescribeBundle((*written)->path);
      j["duration_ms"] = Ms((*written)->duration);
      j["wall_ms"] = Ms(wall);
      j["cpu_ms"] = (s1.cpu_ns - s0.cpu_ns) / 1e6;
      j["runq_wait_ms"] = (s1.wait_ns - s0.wait_ns) / 1e6;
      j["peak_rss_rise_kib"] = hwm > rss0 ? (hwm - rss0) / kKiB : 0;
      std::error_code ec;
      fs::remove_all((*written)->path, ec);
      return std::pair(wall, j);
    };

    Series("capture", kIdleCapture, capture);
    Series("full", kIdleFull, full);
    if (args_.long_idle_s > 0) {  // the agent running, no bundle: its slow ticks (smaps_rollup) included
      std::this_thread::sleep_for(settle);
      window_total_[kIdleLong] +=
          Window(kIdleLong, [&] { std::this_thread::sleep_for(std::chrono::seconds(args_.long_idle_s)); });
    }

    agent->stop();
    agent.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    // No agent at all: every bundle window's length again.
    for (const auto length : lengths_) {
      std::this_thread::sleep_for(settle);
      window_total_[kNone] += Window(kNone, [&] { std::this_thread::sleep_for(length); });
    }
    if (args_.long_idle_s > 0) {
      std::this_thread::sleep_for(settle);
      window_total_[kNoneLong] +=
          Window(kNoneLong, [&] { std::this_thread::sleep_for(std::chrono::seconds(args_.long_idle_s)); });
    }
    std::this_thread::sleep_for(settle);
    const auto hists = load_.Stop();
    for (int op = 0; op < HostLoad::kOpCount; ++op) {
      for (int p = kNone; p < kPhaseCount; ++p) {
        const Histogram& h = hists[static_cast<size_t>(op)][static_cast<size_t>(p)];
        if (h.count() == 0) continue;
        Emit({{"type", "latency"},
              {"label", args_.label},
              {"size_mib", size_mib_},
              {"op", HostLoad::kOpName[op]},
              {"class", kPhaseName[p]},
              {"window_s", std::chrono::duration<double>(window_total_[p]).count()},
              {"requests", h.count()},
              {"p50_us", h.QuantileUs(0.5)},
              {"p90_us", h.QuantileUs(0.9)},
              {"p99_us", h.QuantileUs(0.99)},
              {"p999_us", h.QuantileUs(0.999)},
              {"max_us", h.max_us()},
              {"mean_us", h.mean_us()},
              {"over_1ms", h.CountAbove(1'000'000)},
              {"over_10ms", h.CountAbove(10'000'000)},
              {"over_100ms", h.CountAbove(100'000'000)}});
      }
    }
  }

 private:
  template <typename Writer>
  void Series(const char* kind, Phase idle_phase, Writer& write) {
    const auto settle = std::chrono::milliseconds(args_.settle_ms);
    std::this_thread::sleep_for(settle);
    auto [length, warmup] = write(false);  // the first bundle of a kind is not counted
    for (int i = 0; i < args_.captures; ++i) {
      std::this_thread::sleep_for(settle);
      const uint64_t rss0 = RssBytes();
      ResetPeakRss();
      window_total_[idle_phase] += Window(idle_phase, [&] { std::this_thread::sleep_for(length); });
      const uint64_t hwm = PeakRssBytes();
      std::this_thread::sleep_for(settle);
      auto [wall, j] = write(true);
      window_total_[idle_phase == kIdleCapture ? kCapture : kFull] += wall;
      lengths_.push_back(wall);
      j["type"] = "bundle";
      j["label"] = args_.label;
      j["kind"] = kind;
      j["size_mib"] = size_mib_;
      j["run"] = i;
      j["idle_peak_rss_rise_kib"] = hwm > rss0 ? (hwm - rss0) / kKiB : 0;
      j["allocator"] = allocator_;
      j["profiling_active"] = profiling_;
      Emit(j);
      length = wall;
    }
    std::fprintf(stderr, "  %s: %d bundles\n", kind, args_.captures);
  }

  [[noreturn]] static void Fail(const std::string& why) {
    std::fprintf(stderr, "leakwatch_bundle_cost: %s\n", why.c_str());
    std::exit(1);
  }

  const Args& args_;
  const uint64_t size_mib_;
  HostLoad load_;
  std::string allocator_ = "unknown";
  bool profiling_ = false;
  std::vector<Clock::duration> lengths_;
  std::array<Clock::duration, kPhaseCount> window_total_{};
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  leakwatch::bench::RaiseFdLimitToHard();
  leakwatch::bench::ProcessShape shape;
  if (!shape.SetOpenFds(args.fds) || !shape.SetThreads(args.threads)) {
    std::fprintf(stderr, "cannot shape the process to %llu fds and %llu threads\n",
                 static_cast<unsigned long long>(args.fds), static_cast<unsigned long long>(args.threads));
    return 1;
  }
  Emit({{"type", "env"},
        {"label", args.label},
        {"heap", args.heap == Heap::Kind::kMmap ? "mmap" : "objects"},
        {"request_threads", args.request_threads},
        {"map_threads", args.map_threads},
        {"captures", args.captures},
        {"threads", leakwatch::bench::CountThreads()},
        {"fds", leakwatch::bench::CountOpenFds()},
        {"mem_available_bytes", MemAvailableBytes()}});

  Heap heap(args.heap);
  for (const uint64_t size_mib : args.sizes_mib) {
    const uint64_t target = size_mib * kMiB;
    const uint64_t available = MemAvailableBytes();
    if (available < 2 * target) {
      std::fprintf(stderr, "skipping %llu MiB and larger: MemAvailable %llu MiB is below twice the target\n",
                   static_cast<unsigned long long>(size_mib),
                   static_cast<unsigned long long>(available >> 20));
      Emit({{"type", "skip"},
            {"label", args.label},
            {"size_mib", size_mib},
            {"why", "MemAvailable " + std::to_string(available >> 20) + " MiB < 2 x target"}});
      break;
    }
    const auto t0 = Clock::now();
    heap.GrowTo(target);
    const auto grown = Clock::now() - t0;
    Emit({{"type", "size"},
          {"label", args.label},
          {"size_mib", size_mib},
          {"rss_bytes", RssBytes()},
          {"heap_pieces", heap.objects()},
          {"mappings", CountMappings()},
          {"smaps_rollup_ms", SmapsRollupMs()},
          {"threads", leakwatch::bench::CountThreads()},
          {"fds", leakwatch::bench::CountOpenFds()},
          {"grow_s", std::chrono::duration<double>(grown).count()}});
    std::fprintf(stderr, "%s: %llu MiB (RSS %llu MiB, %zu pieces, %zu mappings, grown in %.1f s)\n",
                 args.label.c_str(), static_cast<unsigned long long>(size_mib),
                 static_cast<unsigned long long>(RssBytes() >> 20), heap.objects(), CountMappings(),
                 std::chrono::duration<double>(grown).count());
    SizeRun(args, size_mib, heap).Run();
  }
  return 0;
}
