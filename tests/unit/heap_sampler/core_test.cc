// HeapSamplerCore: what samples count for, what frees take back, the bounds and their drop counters, the
// copy for profiles, concurrent use (ThreadSanitizer's tree runs this too), and fork.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "agent/heap_sampler/heap_sampler_core.h"
#include "agent/heap_sampler/sample_interval.h"

namespace leakwatch::internal {
namespace {

HeapSamplerSettings Settings(uint64_t interval, size_t max_live = 1 << 20, size_t max_stacks = 1 << 16) {
  HeapSamplerSettings s;
  s.mean_interval_bytes = interval;
  s.max_live_samples = max_live;
  s.max_stacks = max_stacks;
  s.max_stack_bytes = 8 << 20;
  return s;
}

const void* Address(uint64_t i) { return reinterpret_cast<const void*>(0x10000000 + i * 64); }

// Constant-initialised: a static core is usable before any constructor runs (the hooks rely on it).
constinit HeapSamplerCore g_static_core;

TEST(HeapSamplerCore, SamplesCountTheirWeightAndFreesTakeItBack) {
  HeapSamplerCore core;
  EXPECT_FALSE(core.running());
  ASSERT_TRUE(core.Start(Settings(1024)));
  EXPECT_TRUE(core.running());
  const uint64_t stack_a[] = {0x401000, 0x402000};
  const uint64_t stack_b[] = {0x401000, 0x403000};
  core.RecordAllocation(Address(1), 100, stack_a, 2);
  core.RecordAllocation(Address(2), 4096, stack_a, 2);
  core.RecordAllocation(Address(3), 512, stack_b, 2);
  core.RecordAllocation(nullptr, 512, stack_b, 2);  // a failed allocation: nothing

  const double w100 = SampleWeight(100, 1024), w4096 = SampleWeight(4096, 1024),
               w512 = SampleWeight(512, 1024);
  HeapSamplerStats s = core.Stats();
  EXPECT_EQ(s.samples_total, 3u);
  EXPECT_EQ(s.live_samples, 3u);
  EXPECT_EQ(s.live_sampled_bytes, 100u + 4096 + 512);
  EXPECT_NEAR(s.inuse_bytes_estimate, w100 * 100 + w4096 * 4096 + w512 * 512, 1e-3);
  EXPECT_NEAR(s.inuse_objects_estimate, w100 + w4096 + w512, 1e-5);
  EXPECT_EQ(s.stacks, 3u);  // two stacks and the overflow bucket
  EXPECT_GT(s.memory_bytes, sizeof(SampledAddressFilter));

  EXPECT_TRUE(core.MightBeSampled(Address(2)));
  core.RecordFree(Address(2));
  s = core.Stats();
  EXPECT_EQ(s.live_samples, 2u);
  EXPECT_NEAR(s.inuse_bytes_estimate, w100 * 100 + w512 * 512, 1e-3);
  EXPECT_NEAR(s.alloc_bytes_estimate, w100 * 100 + w4096 * 4096 + w512 * 512, 1e-3) << "alloc stays";

  core.RecordFree(Address(77));  // never sampled: the filter's second look turns it away before the lock
  EXPECT_EQ(core.Stats().untracked_frees, 0u);
  core.PinInFilter(Address(78));  // both looks say yes, the live table no
  core.RecordFree(Address(78));
  EXPECT_EQ(core.Stats().untracked_frees, 1u);

  core.RecordFree(Address(1));
  core.RecordFree(Address(3));
  s = core.Stats();
  EXPECT_EQ(s.live_samples, 0u);
  EXPECT_EQ(s.inuse_bytes_estimate, 0.0) << "exactly zero: no rounding residue";
  EXPECT_EQ(s.live_sampled_bytes, 0u);

  const SampledHeap heap = core.Collect();
  ASSERT_EQ(heap.stacks.size(), 2u);
  for (const auto& st : heap.stacks) {
    EXPECT_EQ(st.frames.size(), 2u);
    EXPECT_EQ(st.live_samples, 0u);
    EXPECT_EQ(st.inuse_bytes, 0.0);
    EXPECT_GT(st.alloc_bytes, 0.0);
  }
}

TEST(HeapSamplerCore, AnAddressSampledTwiceReplacesItsFirstRecord) {
  HeapSamplerCore core;
  ASSERT_TRUE(core.Start(Settings(1)));
  const uint64_t a[] = {1}, b[] = {2};
  core.RecordAllocation(Address(1), 10, a, 1);
  core.RecordAllocation(Address(1), 20, b, 1);  // its free went past the hooks
  const HeapSamplerStats s = core.Stats();
  EXPECT_EQ(s.replaced_samples, 1u);
  EXPECT_EQ(s.live_samples, 1u);
  EXPECT_EQ(s.live_sampled_bytes, 20u);
  EXPECT_DOUBLE_EQ(s.inuse_bytes_estimate, 20.0);
  core.RecordFree(Address(1));
  EXPECT_EQ(core.Stats().live_samples, 0u);
  EXPECT_FALSE(core.MightBeSampled(Address(1)));
}

TEST(HeapSamplerCore, FullTablesDropAndCountButKeepTheTotals) {
  HeapSamplerCore core;
  ASSERT_TRUE(core.Start(Settings(1, /*max_live=*/4, /*max_stacks=*/3)));
  for (uint64_t i = 0; i < 10; ++i) {
    const uint64_t frames[] = {i};
    core.RecordAllocation(Address(i), 8, frames, 1);
  }
  const HeapSamplerStats s = core.Stats();
  EXPECT_EQ(s.samples_total, 10u);
  EXPECT_EQ(s.live_samples, 4u);
  EXPECT_EQ(s.dropped_live_table_full, 6u);
  EXPECT_EQ(s.stacks, 3u);
  EXPECT_EQ(s.dropped_stack_table_full, 8u) << "2 stacks fit beside the overflow bucket";
  EXPECT_DOUBLE_EQ(s.alloc_bytes_estimate, 80.0);
  const SampledHeap heap = core.Collect();
  double alloc = 0;
  for (const auto& st : heap.stacks) alloc += st.alloc_bytes;
  EXPECT_DOUBLE_EQ(alloc, 80.0) << "the overflow bucket carries the dropped stacks' counts";
  // A dropped live record is simply not freed later: no underflow.
  for (uint64_t i = 0; i < 10; ++i) core.RecordFree(Address(i));
  EXPECT_EQ(core.Stats().live_samples, 0u);
  EXPECT_EQ(core.Stats().inuse_bytes_estimate, 0.0);
}

TEST(HeapSamplerCore, StopKeepsRecordsSoFreesStillCount) {
  HeapSamplerCore& core = g_static_core;
  ASSERT_TRUE(core.Start(Settings(4096)));
  const uint64_t f[] = {5};
  core.RecordAllocation(Address(9), 100, f, 1);
  core.Stop();
  EXPECT_FALSE(core.running());
  core.RecordFree(Address(9));
  EXPECT_EQ(core.Stats().live_samples, 0u);
  ASSERT_TRUE(core.Start(Settings(8192)));
  EXPECT_EQ(core.mean_interval_bytes(), 8192u);
  core.Stop();
}

TEST(HeapSamplerCore, ConcurrentSamplesFreesAndCollectsStayConsistent) {
  HeapSamplerCore core;
  ASSERT_TRUE(core.Start(Settings(1)));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::atomic<bool> stop{false};
  std::thread collector([&] {
    while (!stop.load()) {
      const SampledHeap h = core.Collect();
      uint64_t live = 0;
      for (const auto& s : h.stacks) live += s.live_samples;
      ASSERT_EQ(live, h.stats.live_samples) << "a copy is one coherent moment";
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&core, t] {
      std::vector<const void*> mine;
      for (int i = 0; i < kPerThread; ++i) {
        const void* p = Address(static_cast<uint64_t>(t) * 1'000'000 + static_cast<uint64_t>(i));
        const uint64_t frames[] = {static_cast<uint64_t>(t), static_cast<uint64_t>(i % 50)};
        core.RecordAllocation(p, 64, frames, 2);
        mine.push_back(p);
        if (i % 3 == 0) {
          const void* victim = mine[mine.size() / 2];
          if (core.MightBeSampled(victim)) core.RecordFree(victim);
          mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(mine.size() / 2));
        }
      }
      for (const void* p : mine) {
        if (core.MightBeSampled(p)) core.RecordFree(p);
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  collector.join();
  const HeapSamplerStats s = core.Stats();
  EXPECT_EQ(s.samples_total, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(s.live_samples, 0u);
  EXPECT_EQ(s.inuse_bytes_estimate, 0.0);
  EXPECT_EQ(s.untracked_frees, 0u);
  EXPECT_EQ(s.stacks, 1u + kThreads * 50);
}

TEST(HeapSamplerCore, AForkWhileAnotherThreadRecordsLeavesTheChildUsable) {
  HeapSamplerCore core;
  ASSERT_TRUE(core.Start(Settings(1)));
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    for (uint64_t i = 0; !stop.load(); ++i) {
      const uint64_t f[] = {i % 7};
      core.RecordAllocation(Address(i % 1000), 32, f, 1);
      core.RecordFree(Address(i % 1000));
    }
  });
  for (int round = 0; round < 5; ++round) {
    core.LockForFork();  // what the hooks' pthread_atfork handlers do
    const pid_t pid = fork();
    if (pid == 0) {
      core.ResetInChildAfterFork();
      const uint64_t f[] = {99};
      core.RecordAllocation(Address(5000), 8, f, 1);
      const bool ok = core.Stats().live_samples >= 1 && !core.Collect().stacks.empty();
      core.RecordFree(Address(5000));
      _exit(ok ? 0 : 1);
    }
    core.UnlockInParentAfterFork();
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
  }
  stop = true;
  busy.join();
}

}  // namespace
}  // namespace leakwatch::internal
