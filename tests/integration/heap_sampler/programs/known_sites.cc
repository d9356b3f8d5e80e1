// A program with known allocation sites, for the heap profiler's accuracy test. It knows nothing of
// leakwatch (the test preloads the agent). Three kinds of sites, on several threads:
//   LeakingFunction   keeps every block it allocates (malloc): the leak, LEAK_MIB MiB in total
//   LeakingNew        keeps a third as much, through operator new[]
//   SteadyFunctionA/B allocate and free at once (many more bytes allocated than leaked, nothing kept)
// It prints "leaked <malloc bytes> <new bytes>" when done, then waits until stdin closes, so that the test
// can read the profile of a heap that no longer changes.
//
//   known_sites [LEAK_MIB] [THREADS]
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
std::vector<void*>* g_kept = nullptr;
std::atomic<size_t> g_malloc_leaked{0};
std::atomic<size_t> g_new_leaked{0};

void Keep(void* p) {
  pthread_mutex_lock(&g_mutex);
  g_kept->push_back(p);
  pthread_mutex_unlock(&g_mutex);
}

// noinline and a use after the call: each site keeps its own frame (no inlining, no tail call).
__attribute__((noinline)) void LeakingFunction(size_t bytes) {
  void* p = std::malloc(bytes);
  std::memset(p, 0xab, 64);
  Keep(p);
}

__attribute__((noinline)) void LeakingNew(size_t bytes) {
  char* p = new char[bytes];
  std::memset(p, 0xcd, 64);
  Keep(p);
}

__attribute__((noinline)) void SteadyFunctionA(size_t bytes) {
  void* p = std::malloc(bytes);
  std::memset(p, 1, 64);
  asm volatile("" : : "r"(p) : "memory");
  std::free(p);
}

__attribute__((noinline)) void SteadyFunctionB(size_t bytes) {
  std::vector<char> v(bytes);
  asm volatile("" : : "r"(v.data()) : "memory");
}

}  // namespace

int main(int argc, char** argv) {
  const size_t leak_mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 4;
  g_kept = new std::vector<void*>();
  g_kept->reserve(1 << 20);
  const size_t malloc_total = leak_mib << 20;
  const size_t new_total = malloc_total / 3;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([=] {
      // Mixed sizes per site: 256 B .. 8 KiB.
      size_t leaked = 0, newed = 0;
      const size_t my_malloc = malloc_total / static_cast<size_t>(threads);
      const size_t my_new = new_total / static_cast<size_t>(threads);
      for (unsigned i = 0; leaked < my_malloc || newed < my_new; ++i) {
        const size_t size = size_t{256} << (i % 6);
        if (leaked < my_malloc) {
          const size_t n = std::min(size, my_malloc - leaked);
          LeakingFunction(n);
          leaked += n;
        }
        if (newed < my_new && i % 2 == 0) {
          const size_t n = std::min(size, my_new - newed);
          LeakingNew(n);
          newed += n;
        }
        SteadyFunctionA(size * 2);
        SteadyFunctionB(size * 3);
      }
      g_malloc_leaked += leaked;
      g_new_leaked += newed;
    });
  }
  for (auto& w : workers) w.join();
  std::printf("leaked %zu %zu\n", g_malloc_leaked.load(), g_new_leaked.load());
  std::fflush(stdout);
  char buffer[64];
  while (read(0, buffer, sizeof(buffer)) > 0) {
  }
  return 0;
}
