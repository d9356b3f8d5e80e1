// The glibc mallinfo2 guard on a really fragmented heap of the test process: 2 million 48-byte blocks with
// every other one freed leave ~1 million free chunks that mallinfo2 walks one by one (~30 ms on our machines,
// against a 1 ms budget here). The guard must back off, and Read() on the test thread keeps answering while
// the worker is inside mallinfo2. That Read() never waits for a call in progress is asserted without a clock
// in tests/unit/allocator (a fake mallinfo2 held at a gate); here the slowest Read() is only recorded: on a
// loaded machine a preempted thread takes as long as the scheduler decides.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "agent/allocator/glibc_malloc_provider.h"

namespace leakwatch::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif

// Keeps `count` blocks of `size` bytes with every other one freed; frees the rest on destruction.
class FragmentedHeap {
 public:
  FragmentedHeap(size_t count, size_t size) : blocks_(count) {
    for (auto& b : blocks_) b = std::malloc(size);
    for (size_t i = 0; i < blocks_.size(); i += 2) {
      std::free(blocks_[i]);
      blocks_[i] = nullptr;
    }
  }
  ~FragmentedHeap() {
    for (void* b : blocks_) std::free(b);
  }

 private:
  std::vector<void*> blocks_;
};

TEST(GlibcGuardOnAFragmentedHeap, BacksOffWhileReadStaysPrompt) {
  if (kSanitizer) {
    GTEST_SKIP()
        << "sanitizer build: malloc is the sanitizer's, so glibc's heap is not the one fragmented here";
  }
  FragmentedHeap heap(2'000'000, 48);

  GlibcMallinfoOptions options;
  options.enabled = true;
  options.period = milliseconds(1);
  options.budget = milliseconds(1);
  options.max_period = milliseconds(16);
  auto provider = GlibcMallocProvider::Find(SymbolLookup{}, options);
  ASSERT_NE(provider, nullptr);
  ASSERT_TRUE(provider->guard_state().enabled);

  // Read() as the sampler would, as fast as possible, until the worker has done 4 calls (bounded: 30 s).
  auto slowest_read = steady_clock::duration::zero();
  uint64_t reads = 0;
  const auto deadline = steady_clock::now() + std::chrono::seconds(30);
  while (provider->guard_state().calls_total < 4 && steady_clock::now() < deadline) {
    const auto t0 = steady_clock::now();
    const auto stats = provider->Read();
    slowest_read = std::max(slowest_read, steady_clock::now() - t0);
    ++reads;
    ASSERT_TRUE(stats.ok());
  }
  const GlibcGuardState s = provider->guard_state();
  ASSERT_GE(s.calls_total, 4u) << "the worker did not complete 4 mallinfo2 calls in 30 s";
  ASSERT_TRUE(s.last_duration.has_value());
  const double call_ms = std::chrono::duration<double, std::milli>(*s.last_duration).count();
  const double read_ms = std::chrono::duration<double, std::milli>(slowest_read).count();
  RecordProperty("mallinfo2_ms", std::to_string(call_ms));
  RecordProperty("slowest_read_ms", std::to_string(read_ms));
  EXPECT_GE(s.backoffs_total, 1u) << "mallinfo2 took " << call_ms << " ms, budget 1 ms";
  EXPECT_GT(s.period, milliseconds(1));
  EXPECT_LE(s.period, milliseconds(16));
  std::cout << "[ guard ] mallinfo2 " << call_ms << " ms; slowest of " << reads << " Read() calls " << read_ms
            << " ms\n";

  const auto stats = provider->Read();
  ASSERT_TRUE(stats.ok());
  ASSERT_TRUE(stats->free_bytes.has_value());
  // ~1 million freed 48-byte blocks (64-byte chunks) are free in the arena.
  EXPECT_GE(*stats->free_bytes, 1'000'000u * 48);
}

}  // namespace
}  // namespace leakwatch::internal
