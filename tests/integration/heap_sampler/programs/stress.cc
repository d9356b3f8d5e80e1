// Stress for the allocation hooks under a small sampling interval: threads allocating and freeing
// concurrently in every way (malloc, calloc, realloc chains, aligned, new/delete), threads exiting and new
// ones starting, memory freed by another thread than the one that allocated it, and fork() in the middle,
// with the child allocating and exiting. At the end every block is freed and the live samples must be back
// to where they were before (within what the C library keeps for itself): no sample lost, none left behind.
// Prints "stress ok ..." and exits 0; "stress FAIL ..." and 1 otherwise; 2 without the hooks.
//
//   stress [THREADS] [ROUNDS]
#include <dlfcn.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/heap_sampler/heap_sampler_hooks.h"

namespace {

using leakwatch::internal::HeapSamplerHooks;

struct Block {
  void* p = nullptr;
  int kind = 0;  // 0 malloc-family, 1 new[], 2 aligned new
};

std::mutex g_handoff_mutex;
std::vector<Block> g_handoff;  // blocks allocated by one thread, freed by another

uint64_t Next(uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

Block Allocate(uint64_t& rng) {
  const size_t size = 16 + Next(rng) % 4000;
  switch (Next(rng) % 8) {
    case 0:
      return {std::calloc(1, size), 0};
    case 1: {
      void* p = std::malloc(8);
      for (int i = 0; i < 4 && p != nullptr; ++i) p = std::realloc(p, size << i);  // a realloc chain
      return {p, 0};
    }
    case 2: {
      void* p = nullptr;
      return {posix_memalign(&p, 64 << (Next(rng) % 4), size) == 0 ? p : nullptr, 0};
    }
    case 3:
      return {aligned_alloc(256, (size + 255) / 256 * 256), 0};
    case 4:
      return {new char[size], 1};
    case 5:
      return {operator new (size, std::align_val_t{128}), 2};
    default:
      return {std::malloc(size), 0};
  }
}

void Release(const Block& b) {
  if (b.kind == 1) {
    delete[] static_cast<char*>(b.p);
  } else if (b.kind == 2) {
    operator delete (b.p, std::align_val_t{128});
  } else {
    std::free(b.p);
  }
}

// `handoff`: also pass blocks to other threads (not in a forked child, which has no other threads, and whose
// copy of the hand-off mutex may have been taken by a thread that does not exist there).
void Work(uint64_t seed, int operations, bool handoff) {
  uint64_t rng = seed | 1;
  std::vector<Block> mine;
  for (int i = 0; i < operations; ++i) {
    const uint64_t r = Next(rng) % 10;
    if (r < 5 || mine.empty()) {
      Block b = Allocate(rng);
      if (b.p != nullptr) {
        std::memset(b.p, 0x11, 16);
        mine.push_back(b);
      }
    } else if (r < 8) {
      const size_t k = Next(rng) % mine.size();
      Release(mine[k]);
      mine[k] = mine.back();
      mine.pop_back();
    } else if (!handoff) {
      continue;
    } else if (r == 8) {
      std::lock_guard lock(g_handoff_mutex);
      g_handoff.push_back(mine.back());
      mine.pop_back();
    } else {
      std::lock_guard lock(g_handoff_mutex);
      if (!g_handoff.empty()) {
        Release(g_handoff.back());
        g_handoff.pop_back();
      }
    }
  }
  for (const Block& b : mine) Release(b);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 6;
  using Lookup = const HeapSamplerHooks* (*)();
  auto lookup = reinterpret_cast<Lookup>(dlsym(RTLD_DEFAULT, leakwatch::internal::kHeapSamplerHooksSymbol));
  const HeapSamplerHooks* hooks = lookup != nullptr ? lookup() : nullptr;
  if (hooks == nullptr || !hooks->core->running()) {
    const char* why = dlerror();
    std::printf("stress FAIL: no running allocation hooks (lookup %p, hooks %p, %s)\n",
                reinterpret_cast<void*>(lookup), static_cast<const void*>(hooks), why ? why : "");
    return 2;
  }
  std::printf("stress: %d threads, %d rounds, one sample every %lu bytes\n", threads, rounds,
              static_cast<unsigned long>(hooks->core->mean_interval_bytes()));
  std::fflush(stdout);
  const auto before = hooks->core->Stats();
  int children_failed = 0;
  for (int round = 0; round < rounds; ++round) {
    // Each round starts new threads; the previous round's have exited.
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back(Work, static_cast<uint64_t>(round * 1000 + t + 1) * 0x9E3779B97F4A7C15ULL, 20000,
                           true);
    }
    if (round == rounds / 2) {  // fork while every worker allocates
      const pid_t pid = fork();
      if (pid == 0) {
        Work(77, 20000, false);  // the child allocates on its own (the workers do not exist here)
        _exit(0);
      }
      int status = 0;
      if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ++children_failed;
      }
    }
    for (auto& w : workers) w.join();
  }
  for (const Block& b : g_handoff) Release(b);
  g_handoff.clear();
  g_handoff.shrink_to_fit();
  const auto after = hooks->core->Stats();
  const uint64_t taken = after.samples_total - before.samples_total;
  // What the C library and the C++ runtime keep for themselves (thread bookkeeping, stdio) may stay: a few.
  const bool balanced = after.live_samples <= before.live_samples + 4;
  const bool ok = balanced && taken > 1000 && children_failed == 0 && after.dropped_live_table_full == 0;
  std::printf(
      "stress %s: %lu samples taken, live samples %lu -> %lu, stacks %lu, sampler memory %lu bytes, "
      "hook time %.3f s, untracked frees %lu, children failed %d\n",
      ok ? "ok" : "FAIL", static_cast<unsigned long>(taken), static_cast<unsigned long>(before.live_samples),
      static_cast<unsigned long>(after.live_samples), static_cast<unsigned long>(after.stacks),
      static_cast<unsigned long>(after.memory_bytes), static_cast<double>(after.hook_nanoseconds) * 1e-9,
      static_cast<unsigned long>(after.untracked_frees), children_failed);
  return ok ? 0 : 1;
}
