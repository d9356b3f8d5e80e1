#pragma once
// How the agent finds and drives the allocation hooks. The hooks (malloc, free, ..., operator new/delete:
// agent/heap_sampler/hooks/) are in libleakwatch_preload.so and in libleakwatch_heap.so (for programs that
// link the agent); a process has them only when one of those is loaded ahead of the allocator. The agent
// looks them up by name at start, so libleakwatch itself never replaces anyone's malloc.
//
// Thread-safety: FindHeapSamplerHooks is thread-safe (dlsym). The hooks' functions: see each.

#include <cstdint>
#include <string>

#include "agent/heap_sampler/heap_sampler_core.h"
#include "agent/heap_sampler/stack_unwinder.h"

namespace leakwatch::internal {

inline constexpr uint32_t kHeapSamplerHooksAbi = 1;

struct HeapSamplerStartResult {
  bool ok = false;
  std::string error;     // when !ok
  std::string unwinder;  // "libunwind", "libgcc"
};

struct HeapSamplerHooks {
  uint32_t abi = kHeapSamplerHooksAbi;
  const char* version = "";  // LEAKWATCH_VERSION of the build that made the hooks: must equal the agent's
  HeapSamplerCore* core = nullptr;
  // Loads the unwinder (once), installs the fork handlers (once), starts or re-configures the core.
  // Call from a normal thread (dlopen, pthread_atfork).
  HeapSamplerStartResult (*start)(const HeapSamplerSettings& settings) = nullptr;
  // The hooks' own malloc: the process's malloc must be this for the hooks to see allocations.
  const void* own_malloc = nullptr;
  // Where the hooks forward to: the address of the real malloc (dladdr names its library).
  const void* (*real_malloc)() = nullptr;
};

// The hooks in this process, or nullptr when there are none (or they come from another leakwatch build;
// *problem says so).
const HeapSamplerHooks* FindHeapSamplerHooks(std::string* problem);

// The exported lookup symbol.
inline constexpr char kHeapSamplerHooksSymbol[] = "leakwatch_heap_sampler_hooks_v1";

}  // namespace leakwatch::internal
