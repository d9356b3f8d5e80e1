#include "tests/integration/profile/heap_leaker_workload.h"

#include <cstdlib>
#include <cstring>

namespace leakwatch::integration {

// noinline: each must be a frame of its own in the allocation stacks the test looks for.
__attribute__((noinline)) void SteadyWorkload(char** ring, size_t slots, size_t block, size_t rounds) {
  for (size_t i = 0; i < slots; ++i) ring[i] = nullptr;
  for (size_t i = 0; i < rounds; ++i) {
    char*& slot = ring[i % slots];
    std::free(slot);
    slot = static_cast<char*>(std::malloc(block));
    if (slot == nullptr) std::abort();
    slot[0] = static_cast<char>(i);
  }
}

__attribute__((noinline)) void LeakingFunction(char** kept, size_t count, size_t block) {
  for (size_t i = 0; i < count; ++i) {
    char* p = static_cast<char*>(std::malloc(block));
    if (p == nullptr) std::abort();
    std::memset(p, static_cast<int>(i) | 1, block);
    kept[i] = p;
  }
}

}  // namespace leakwatch::integration
