#pragma once
// The allocation patterns of heap_leaker, in a translation unit of their own (heap_leaker_workload.cc), so
// that the frames the test looks for are plain external functions.

#include <cstddef>

namespace leakwatch::integration {

// Allocates and frees `rounds` blocks of `block` bytes through `slots` entries of `ring` (which it fills), so
// that at most `slots` blocks are live at any time.
void SteadyWorkload(char** ring, size_t slots, size_t block, size_t rounds);

// Allocates `count` blocks of `block` bytes, writes every byte and stores them in `kept`.
void LeakingFunction(char** kept, size_t count, size_t block);

}  // namespace leakwatch::integration
