// leakwatch_malloc_bench: what a heap profiler costs a program that allocates, measured under any allocator
// or profiler put in front of it with LD_PRELOAD (glibc, jemalloc, tcmalloc, leakwatch's heap sampler,
// heaptrack): a plain program with its own timing, no dependency beyond libstdc++ and pthreads, so that every
// variant runs exactly the same code. Driven by bench/heap_sampler_bench.sh.
//
//   leakwatch_malloc_bench <small|mixed|request> [--threads N] [--ops N] [--warmup N] [--live-mib N]
//                          [--resident-mib N] [--compute N]
//
// Workloads (each thread runs --ops operations, default 20M / 1.5M / 15k; the sequence of sizes and choices
// is the same in every run):
//   small    one op: malloc 16..256 B (uniform), write its first bytes, free a random slot of a ring of live
//            blocks and put it there. Malloc-heavy: the allocator's fast path is most of the time.
//   mixed    one op, by draw: (11/16) the same with 16 B .. 64 KiB (piecewise log-uniform, skewed to small:
//            median ~128 B, mean ~4 KiB); (2/16) new of an object holding a string of 8..64 chars that
//            replaces (deletes) one of 1024; (1/16) a realloc chain from 16 B to 64 B .. 16 KiB that
//            replaces a slot; (1/16) std::string growth to 32..1024 chars; (1/16) std::vector<uint32_t>
//            push_back growth to 16..1024 elements.
//   request  one op is one request: build a request line and headers, parse them (std::vector of segments,
//            std::unordered_map of parameters), build 100..199 items (std::vector growth, heap-allocated
//            names, an std::unordered_map index), score them (FNV-1a of the name and --compute rounds of
//            integer mixing, default 24), pick the top 20 and render a JSON-ish response; one entry of a
//            per-thread string cache (1 MiB, or --live-mib) is replaced per request. malloc/free and
//            new/delete are about a quarter to a third of the time under glibc (perf).
// Before the clock starts each thread sets up its working set and runs --warmup operations (default a
// tenth of --ops), so that the timed phase sees warm caches and a profiler that has seen every call site.
// --live-mib N sizes the live working set (small, mixed: the slot rings, filled until they hold N MiB in
// all; request: the cache), split evenly between threads; without it each thread has 4096 slots.
// --resident-mib N allocates N MiB of blocks (16 B .. 64 KiB, as mixed) before the threads start, written
// once and left alone until the end: a large long-lived heap beside a hot working set, as in a service with
// a big cache. A sampling profiler then holds many live samples while the workload runs. (The fill starts
// after 300 ms, so that a profiler started by a preloaded agent on its own thread samples it.)
//
// Output: one line on stdout, key=value pairs after the word "malloc_bench":
//   ops           operations of all threads (--ops per thread)
//   wall_ns       wall time of the timed phase (all threads start it together), from the first thread's
//                 start to the last one's end
//   ns_per_op     wall_ns / ops per thread (the time one operation takes in each thread)
//   cpu_ns        process CPU time (user+system, every thread: the agent's or profiler's too) in that phase
//   live_bytes    bytes requested by the blocks live at the end of the timed phase (slot rings, cache)
//   resident_bytes  bytes requested by the --resident-mib blocks (and the arrays that hold them)
//   rss_kib       VmRSS at the end of the timed phase, before anything is freed
//   peak_rss_kib  VmHWM at that point
//   checksum      derived from the work, so that none of it can be optimised away

#include <sys/resource.h>

#include <algorithm>
#include <barrier>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

constexpr size_t kMiB = 1024 * 1024;
constexpr size_t kDefaultSlots = 4096;

enum class Workload { kSmall, kMixed, kRequest };

struct Options {
  Workload workload = Workload::kSmall;
  const char* workload_name = "small";
  unsigned threads = 1;
  uint64_t ops = 0;              // 0: the workload's default
  uint64_t warmup = UINT64_MAX;  // UINT64_MAX: ops / 10
  uint64_t live_mib = 0;
  uint64_t resident_mib = 0;
  unsigned compute = 24;
};

// splitmix64: fast, good enough, and the same sequence under every allocator.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<__uint128_t>(Next()) * n) >> 64); }

 private:
  uint64_t state_;
};

size_t SmallSize(Rng& rng) { return 16 + rng.Below(241); }

// 16 B .. 64 KiB: exponent 4..15 drawn as 4 + 12 u^2 (skewed to small), then uniform within [2^e, 2^(e+1)).
size_t MixedSize(Rng& rng) {
  const uint64_t r = rng.Next();
  const uint64_t u = r >> 48;  // 16 bits
  const unsigned e = 4 + static_cast<unsigned>((12 * u * u) >> 32);
  const size_t base = size_t{1} << e;
  return base + ((r & 0xffffffffULL) & (base - 1));
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

// A ring of live malloc'd blocks replaced at random (small, mixed).
class SlotRing {
 public:
  // Fills the ring: `target_bytes` in all (at least 64 slots), or kDefaultSlots slots when it is 0.
  template <typename SizeFn>
  void Fill(Rng& rng, size_t target_bytes, SizeFn size_fn) {
    while (target_bytes == 0 ? ptrs_.size() < kDefaultSlots : (live_ < target_bytes || ptrs_.size() < 64)) {
      const size_t n = size_fn(rng);
      void* p = std::malloc(n);
      if (p == nullptr) Die("malloc failed during fill");
      Touch(p, n);
      ptrs_.push_back(p);
      sizes_.push_back(static_cast<uint32_t>(n));
      live_ += n;
    }
  }

  // Frees the block in a random slot and puts `p` (of `n` bytes, already written) in its place.
  void Replace(Rng& rng, void* p, size_t n) {
    const size_t i = rng.Below(ptrs_.size());
    std::free(ptrs_[i]);
    live_ += n - sizes_[i];
    ptrs_[i] = p;
    sizes_[i] = static_cast<uint32_t>(n);
  }

  void Clear() {
    for (void* p : ptrs_) std::free(p);
    ptrs_.clear();
    sizes_.clear();
    live_ = 0;
  }

  size_t live_bytes() const { return live_ + ptrs_.capacity() * (sizeof(void*) + sizeof(uint32_t)); }

  static void Touch(void* p, size_t n) {
    std::memset(p, static_cast<int>(n), std::min<size_t>(n, 64));
    static_cast<unsigned char*>(p)[n - 1] = 1;
  }

  [[noreturn]] static void Die(const char* what) {
    std::fprintf(stderr, "malloc_bench: %s\n", what);
    std::exit(1);
  }

 private:
  std::vector<void*> ptrs_;
  std::vector<uint32_t> sizes_;
  size_t live_ = 0;
};

struct ThreadResult {
  uint64_t checksum = 0;
  size_t live_bytes = 0;
  std::chrono::steady_clock::time_point start, end;  // of the timed phase, taken by the thread itself
};

// --- small -------------------------------------------------------------------------------------------------

class SmallWorkload {
 public:
  void SetUp(Rng& rng, size_t live_bytes) { ring_.Fill(rng, live_bytes, SmallSize); }
  void Run(Rng& rng, uint64_t ops, ThreadResult& out) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) {
      const size_t n = SmallSize(rng);
      void* p = std::malloc(n);
      if (p == nullptr) SlotRing::Die("malloc failed");
      SlotRing::Touch(p, n);
      ring_.Replace(rng, p, n);
      sum += n;
    }
    out.checksum ^= sum;
    out.live_bytes = ring_.live_bytes();
  }
  void TearDown() { ring_.Clear(); }

 private:
  SlotRing ring_;
};

// --- mixed -------------------------------------------------------------------------------------------------

struct Node {
  uint64_t key;
  std::string name;
};

class MixedWorkload {
 public:
  void SetUp(Rng& rng, size_t live_bytes) {
    ring_.Fill(rng, live_bytes, MixedSize);
    nodes_.resize(1024);
  }

  void Run(Rng& rng, uint64_t ops, ThreadResult& out) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) {
      const unsigned kind = static_cast<unsigned>(rng.Below(16));
      if (kind < 11) {
        const size_t n = MixedSize(rng);
        void* p = std::malloc(n);
        if (p == nullptr) SlotRing::Die("malloc failed");
        SlotRing::Touch(p, n);
        ring_.Replace(rng, p, n);
      } else if (kind < 13) {
        auto node = std::make_unique<Node>();
        node->key = rng.Next();
        node->name.assign(8 + rng.Below(57), static_cast<char>('a' + node->key % 26));
        nodes_[rng.Below(nodes_.size())] = std::move(node);  // deletes the previous one
      } else if (kind == 13) {
        const size_t target = 64 + rng.Below(16384 - 64 + 1);
        size_t n = 16;
        auto* p = static_cast<unsigned char*>(std::malloc(n));
        if (p == nullptr) SlotRing::Die("malloc failed");
        p[0] = 1;
        while (n < target) {
          const size_t grown = std::min(target, n + n / 2 + 16);
          auto* q = static_cast<unsigned char*>(std::realloc(p, grown));
          if (q == nullptr) SlotRing::Die("realloc failed");
          std::memset(q + n, static_cast<int>(grown), grown - n);
          p = q;
          n = grown;
        }
        ring_.Replace(rng, p, n);
      } else if (kind == 14) {
        const size_t len = 32 + rng.Below(1024 - 32 + 1);
        std::string s;
        while (s.size() < len) s.append("0123456789abcdef0123456789abcdef", 1 + rng.Below(32));
        sum += s.size() + static_cast<unsigned char>(s[len / 2]);
      } else {
        const size_t len = 16 + rng.Below(1024 - 16 + 1);
        std::vector<uint32_t> v;
        for (size_t j = 0; j < len; ++j) v.push_back(static_cast<uint32_t>(j * 2654435761U));
        sum += v.size() + v[len / 3];
      }
    }
    out.checksum ^= sum;
    out.live_bytes = ring_.live_bytes();
  }

  void TearDown() {
    ring_.Clear();
    nodes_.clear();
  }

 private:
  SlotRing ring_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// --- request -----------------------------------------------------------------------------------------------

struct Item {
  uint64_t id;
  std::string name;  // 20..40 chars: on the heap
  std::string tag;   // short: in the string itself
  uint64_t price_cents;
  uint64_t score = 0;
};

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(sep, start), s.size());
    if (end > start) parts.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

class RequestWorkload {
 public:
  explicit RequestWorkload(unsigned compute) : compute_(compute) {}

  void SetUp(Rng& rng, size_t live_bytes) {
    const size_t target = live_bytes == 0 ? kMiB : live_bytes;
    size_t total = 0;
    while (total < target) {
      cache_.emplace_back(256 + rng.Below(1793), 'c');
      total += cache_.back().capacity() + 1;
    }
  }

  void Run(Rng& rng, uint64_t ops, ThreadResult& out) {
    static constexpr const char* kSort[] = {"price", "name", "score", "recent"};
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) {
      // The request: a line and a few headers, built as a client library would.
      const uint64_t user = rng.Below(100000);
      std::string line = "GET /api/v1/catalog/" + std::to_string(rng.Below(64)) + "/items?user=u" +
                         std::to_string(user) + "&page=" + std::to_string(rng.Below(10)) +
                         "&sort=" + kSort[rng.Below(4)] + " HTTP/1.1";
      std::vector<std::pair<std::string, std::string>> headers;
      headers.emplace_back("Host", "catalog.internal.example");
      headers.emplace_back("User-Agent", "bench-client/1.0 (linux; x86_64)");
      headers.emplace_back("Accept", "application/json");
      headers.emplace_back("X-Request-Id", "req-" + std::to_string(rng.Next()));
      headers.emplace_back("X-Session", "s" + std::to_string(user * 7919));
      headers.emplace_back("Cookie", "theme=dark; lang=en; session=" + std::to_string(user));

      // Parse it: path segments and query parameters.
      const size_t sp1 = line.find(' ');
      const size_t sp2 = line.rfind(' ');
      const std::string_view target = std::string_view(line).substr(sp1 + 1, sp2 - sp1 - 1);
      const size_t q = target.find('?');
      const std::vector<std::string> segments = Split(target.substr(0, q), '/');
      std::unordered_map<std::string, std::string> query;
      for (const std::string& kv : Split(target.substr(q + 1), '&')) {
        const size_t eq = kv.find('=');
        query.emplace(kv.substr(0, eq), kv.substr(eq + 1));
      }
      uint64_t h = Fnv1a(segments.back()) ^ Fnv1a(query["sort"]);
      for (const auto& [k, v] : headers) h ^= Fnv1a(k) + Fnv1a(v);

      // The data: items with names, an index by id.
      const size_t n_items = 100 + rng.Below(100);
      std::vector<Item> items;
      std::unordered_map<uint64_t, size_t> index;
      for (size_t j = 0; j < n_items; ++j) {
        Item item;
        item.id = rng.Next() >> 24;
        item.name = "catalog-item-" + std::to_string(item.id) + "-v" + std::to_string(j & 7);
        item.tag = (j % 3 == 0) ? "sale" : "std";
        item.price_cents = 100 + rng.Below(100000);
        index.emplace(item.id, items.size());
        items.push_back(std::move(item));
      }

      // The compute: score every item.
      for (Item& item : items) {
        uint64_t s = Fnv1a(item.name) ^ h;
        for (unsigned r = 0; r < compute_; ++r) s = Mix(s + r);
        item.score = s % 1000000 + item.price_cents;
      }
      std::vector<size_t> order(items.size());
      for (size_t j = 0; j < order.size(); ++j) order[j] = j;
      const size_t top = std::min<size_t>(20, order.size());
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                        [&](size_t a, size_t b) { return items[a].score > items[b].score; });

      // The response.
      std::string body = "{\"user\":\"" + query["user"] + "\",\"items\":[";
      for (size_t j = 0; j < top; ++j) {
        const Item& item = items[order[j]];
        if (j > 0) body += ',';
        body += "{\"id\":";
        AppendNumber(body, item.id);
        body += ",\"name\":\"" + item.name + "\",\"tag\":\"" + item.tag + "\",\"price\":";
        AppendNumber(body, item.price_cents);
        body += ",\"found\":";
        body += index.count(item.id) != 0 ? "true" : "false";
        body += '}';
      }
      body += "]}";
      sum += Fnv1a(body);

      // The session cache: one entry replaced per request.
      std::string& entry = cache_[rng.Below(cache_.size())];
      sum += static_cast<unsigned char>(entry[entry.size() / 2]);
      entry = std::string(256 + rng.Below(1793), static_cast<char>('a' + (sum & 15)));
    }
    out.checksum ^= sum;
    size_t live = cache_.capacity() * sizeof(std::string);
    for (const std::string& s : cache_) live += s.capacity() + 1;
    out.live_bytes = live;
  }

  void TearDown() { std::vector<std::string>().swap(cache_); }

 private:
  unsigned compute_;
  std::vector<std::string> cache_;
};

// --- driver ------------------------------------------------------------------------------------------------

uint64_t StatusKib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t key_len = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, key_len, key) == 0 && line.size() > key_len && line[key_len] == ':') {
      return std::strtoull(line.c_str() + key_len + 1, nullptr, 10);
    }
  }
  return 0;
}

uint64_t ProcessCpuNs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1000000000ULL + static_cast<uint64_t>(tv.tv_usec) * 1000ULL;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

[[noreturn]] void Usage(const char* message) {
  std::fprintf(stderr,
               "malloc_bench: %s\n"
               "usage: leakwatch_malloc_bench <small|mixed|request> [--threads N] [--ops N] [--live-mib N] "
               "[--resident-mib N] [--warmup N] [--compute N]\n",
               message);
  std::exit(2);
}

uint64_t ParseNumber(const char* flag, const char* text) {
  uint64_t v = 0;
  const char* end = text + std::strlen(text);
  const auto r = std::from_chars(text, end, v);
  if (r.ec != std::errc() || r.ptr != end) {
    std::fprintf(stderr, "malloc_bench: %s wants a number, not '%s'\n", flag, text);
    std::exit(2);
  }
  return v;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  if (argc < 2) Usage("no workload given");
  const std::string_view w = argv[1];
  if (w == "small") {
    o.workload = Workload::kSmall;
  } else if (w == "mixed") {
    o.workload = Workload::kMixed;
  } else if (w == "request") {
    o.workload = Workload::kRequest;
  } else {
    Usage("unknown workload");
  }
  o.workload_name = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) Usage("an option lacks its value");
    const uint64_t v = ParseNumber(argv[i], argv[i + 1]);
    ++i;
    if (flag == "--threads") {
      if (v < 1 || v > 256) Usage("--threads must be 1..256");
      o.threads = static_cast<unsigned>(v);
    } else if (flag == "--ops") {
      o.ops = v;
    } else if (flag == "--live-mib") {
      o.live_mib = v;
    } else if (flag == "--resident-mib") {
      o.resident_mib = v;
    } else if (flag == "--warmup") {
      o.warmup = v;
    } else if (flag == "--compute") {
      o.compute = static_cast<unsigned>(v);
    } else {
      Usage("unknown option");
    }
  }
  if (o.ops == 0) {
    o.ops = o.workload == Workload::kSmall ? 20'000'000 : o.workload == Workload::kMixed ? 1'500'000 : 15'000;
  }
  if (o.warmup == UINT64_MAX) o.warmup = o.ops / 10;
  return o;
}

template <typename W>
void Worker(W workload, const Options& o, unsigned index, std::barrier<>& sync, ThreadResult& out) {
  Rng rng(0x5eed0000ULL + index);
  workload.SetUp(rng, static_cast<size_t>(o.live_mib * kMiB / o.threads));
  if (o.warmup > 0) workload.Run(rng, o.warmup, out);
  sync.arrive_and_wait();  // set up and warmed up: main reads the CPU time
  sync.arrive_and_wait();  // go
  out.start = std::chrono::steady_clock::now();
  workload.Run(rng, o.ops, out);
  out.end = std::chrono::steady_clock::now();
  sync.arrive_and_wait();  // done: main reads the CPU time and memory
  sync.arrive_and_wait();  // tear down
  workload.TearDown();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  SlotRing resident;
  Rng resident_rng(0x2e51de47ULL);
  if (o.resident_mib > 0) {
    // A profiler that a preloaded agent starts on its own thread is sampling by then, even when this
    // process is pinned to one CPU.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    resident.Fill(resident_rng, o.resident_mib * kMiB, MixedSize);
  }
  std::barrier<> sync(static_cast<std::ptrdiff_t>(o.threads) + 1);
  std::vector<ThreadResult> results(o.threads);
  std::vector<std::thread> threads;
  threads.reserve(o.threads);
  for (unsigned t = 0; t < o.threads; ++t) {
    switch (o.workload) {
      case Workload::kSmall:
        threads.emplace_back([&, t] { Worker(SmallWorkload{}, o, t, sync, results[t]); });
        break;
      case Workload::kMixed:
        threads.emplace_back([&, t] { Worker(MixedWorkload{}, o, t, sync, results[t]); });
        break;
      case Workload::kRequest:
        threads.emplace_back([&, t] { Worker(RequestWorkload{o.compute}, o, t, sync, results[t]); });
        break;
    }
  }

  // The workers time themselves (this thread may be descheduled at any point); the CPU time is read while
  // every worker waits at a barrier, so it covers the timed phase and nothing of the set-up.
  sync.arrive_and_wait();
  const uint64_t cpu0 = ProcessCpuNs();
  sync.arrive_and_wait();
  sync.arrive_and_wait();
  const uint64_t cpu1 = ProcessCpuNs();
  const uint64_t rss_kib = StatusKib("VmRSS");
  const uint64_t peak_kib = StatusKib("VmHWM");
  sync.arrive_and_wait();
  for (std::thread& t : threads) t.join();

  uint64_t checksum = 0;
  size_t live = 0;
  auto t0 = results[0].start;
  auto t1 = results[0].end;
  for (const ThreadResult& r : results) {
    checksum ^= r.checksum;
    live += r.live_bytes;
    t0 = std::min(t0, r.start);
    t1 = std::max(t1, r.end);
  }
  const auto wall_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  std::printf(
      "malloc_bench workload=%s threads=%u ops=%llu wall_ns=%llu ns_per_op=%.2f cpu_ns=%llu live_bytes=%zu "
      "resident_bytes=%zu rss_kib=%llu peak_rss_kib=%llu checksum=%016llx\n",
      o.workload_name, o.threads, static_cast<unsigned long long>(o.ops * o.threads),
      static_cast<unsigned long long>(wall_ns), static_cast<double>(wall_ns) / static_cast<double>(o.ops),
      static_cast<unsigned long long>(cpu1 - cpu0), live, resident.live_bytes(),
      static_cast<unsigned long long>(rss_kib), static_cast<unsigned long long>(peak_kib),
      static_cast<unsigned long long>(checksum));
  resident.Clear();
  return 0;
}
