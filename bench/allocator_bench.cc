// leakwatch_allocator_bench: what one AllocatorStatsProvider::Read() costs, per allocator.
//
// The allocator is the one the process runs with: bench/allocator_bench.sh runs this binary once per Debian
// allocator under LD_PRELOAD (and once on plain glibc) and prints the medians. The detected allocator is in
// the JSON context ("allocator").
//
//   BM_Info             Info() (the slow-period call)
//   BM_Read             DetectAllocator()'s provider, Read() (glibc: with the mallinfo2 guard on, so Read()
//                       only copies the worker's latest result)
//   BM_JemallocEpoch    jemalloc only: the "epoch" refresh alone (the part of Read() that merges counters)
//   BM_JemallocNoEpoch  jemalloc only: the 7 stats reads without the refresh
//   BM_Mallinfo2        glibc only: one mallinfo2() call on this (tidy) heap, on the benchmark's thread
//
// Arg "threads": that many threads (benchmark thread included) have each allocated 4,000 blocks of 16..4,096
// bytes and stay alive, holding them, blocked on a condition variable (jemalloc: one tcache per thread,
// spread over the arenas; tcmalloc: one thread cache each). CPU time is the benchmark thread's. The
// allocated_MiB counter is what Read() reported (glibc: as of the guard's last call).

#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/allocator/detect.h"
#include "agent/allocator/glibc_malloc_provider.h"
#include "agent/logging/log.h"

namespace {

namespace li = leakwatch::internal;

constexpr int kBlocksPerThread = 4000;

// Threads that allocated and now hold their blocks, idle, until the process ends.
class AllocatingThreads {
 public:
  ~AllocatingThreads() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Grows to `total` threads in all (the calling thread counts as one; it allocates once too).
  void GrowTo(int total) {
    if (!main_allocated_) {
      Allocate(&main_blocks_);
      main_allocated_ = true;
    }
    while (static_cast<int>(threads_.size()) + 1 < total) {
      std::unique_lock lock(mu_);
      const int before = ready_;
      threads_.emplace_back([this] {
        std::vector<void*> blocks;
        Allocate(&blocks);
        std::unique_lock l(mu_);
        ++ready_;
        cv_.notify_all();
        cv_.wait(l, [this] { return stop_; });
        l.unlock();
        for (void* b : blocks) std::free(b);
      });
      cv_.wait(lock, [&] { return ready_ > before; });
    }
  }

 private:
  static void Allocate(std::vector<void*>* blocks) {
    blocks->reserve(kBlocksPerThread);
    uint32_t x = 12345;
    for (int i = 0; i < kBlocksPerThread; ++i) {
      x = x * 1103515245 + 12345;
      const size_t size = 16 + (x >> 8) % 4081;
      void* p = std::malloc(size);
      std::memset(p, 1, size);
      blocks->push_back(p);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int ready_ = 0;
  std::vector<std::thread> threads_;
  std::vector<void*> main_blocks_;
  bool main_allocated_ = false;
};

AllocatingThreads& Threads() {
  static AllocatingThreads threads;
  return threads;
}

li::AllocatorDetectOptions DetectOptions() {
  li::AllocatorDetectOptions options;
  options.glibc.enabled = true;  // Read() then measures the copy of the worker's result
  return options;
}

leakwatch::AllocatorStatsProvider& Provider() {
  static auto provider = li::DetectAllocator(DetectOptions());
  return *provider;
}

void BM_Read(benchmark::State& state) {
  Threads().GrowTo(static_cast<int>(state.range(0)));
  auto& provider = Provider();
  uint64_t errors = 0;
  for (auto _ : state) {
    auto stats = provider.Read();
    errors += stats.ok() ? 0 : 1;
    benchmark::DoNotOptimize(stats);
  }
  state.counters["errors"] = static_cast<double>(errors);
  auto last = provider.Read();
  if (last.ok() && last->allocated_bytes)
    state.counters["allocated_MiB"] = *last->allocated_bytes / 1048576.0;
}

void BM_Info(benchmark::State& state) {
  auto& provider = Provider();
  for (auto _ : state) {
    auto info = provider.Info();
    benchmark::DoNotOptimize(info);
  }
}

using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

MallctlFn Mallctl(benchmark::State& state) {
  if (Provider().Info().name != "jemalloc") {
    state.SkipWithError("not running on jemalloc");
    return nullptr;
  }
  return reinterpret_cast<MallctlFn>(::dlsym(RTLD_DEFAULT, "mallctl"));
}

void BM_JemallocEpoch(benchmark::State& state) {
  Threads().GrowTo(static_cast<int>(state.range(0)));
  auto mallctl = Mallctl(state);
  if (mallctl == nullptr) return;
  for (auto _ : state) {
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    benchmark::DoNotOptimize(mallctl("epoch", &epoch, &len, &epoch, sizeof epoch));
  }
}

void BM_JemallocNoEpoch(benchmark::State& state) {
  Threads().GrowTo(static_cast<int>(state.range(0)));
  auto mallctl = Mallctl(state);
  if (mallctl == nullptr) return;
  static constexpr const char* kKeys[] = {"stats.allocated", "stats.active",   "stats.resident",
                                          "stats.mapped",    "stats.retained", "stats.metadata"};
  for (auto _ : state) {
    for (const char* key : kKeys) {
      size_t v = 0;
      size_t len = sizeof v;
      benchmark::DoNotOptimize(mallctl(key, &v, &len, nullptr, 0));
    }
    unsigned n = 0;
    size_t len = sizeof n;
    benchmark::DoNotOptimize(mallctl("arenas.narenas", &n, &len, nullptr, 0));
  }
}

void BM_Mallinfo2(benchmark::State& state) {
  Threads().GrowTo(static_cast<int>(state.range(0)));
  if (Provider().Info().name != "glibc") {
    state.SkipWithError("not running on glibc malloc");
    return;
  }
  auto mallinfo2 = reinterpret_cast<li::GlibcMallocProvider::Mallinfo2Fn>(::dlsym(RTLD_DEFAULT, "mallinfo2"));
  for (auto _ : state) benchmark::DoNotOptimize(mallinfo2());
}

// The thread count only grows (threads keep their blocks until the end), so every 1-thread run is registered
// before every 64-thread run. Do not use --benchmark_enable_random_interleaving with this binary.
BENCHMARK(BM_Info);
BENCHMARK(BM_Read)->ArgName("threads")->Arg(1);
BENCHMARK(BM_JemallocEpoch)->ArgName("threads")->Arg(1);
BENCHMARK(BM_JemallocNoEpoch)->ArgName("threads")->Arg(1);
BENCHMARK(BM_Mallinfo2)->ArgName("threads")->Arg(1);
BENCHMARK(BM_Read)->ArgName("threads")->Arg(64);
BENCHMARK(BM_JemallocEpoch)->ArgName("threads")->Arg(64);
BENCHMARK(BM_JemallocNoEpoch)->ArgName("threads")->Arg(64);
BENCHMARK(BM_Mallinfo2)->ArgName("threads")->Arg(64);

}  // namespace

int main(int argc, char** argv) {
  // The detection line and the guard's lines would interleave with the benchmark's table.
  (void)li::ConfigureLogging(li::LogSettings{.level = "warn"});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("allocator", li::DescribeAllocator(Provider().Info()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
