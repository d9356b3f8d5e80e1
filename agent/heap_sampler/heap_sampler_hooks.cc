#include "agent/heap_sampler/heap_sampler_hooks.h"

#include <dlfcn.h>

#include <cstring>

#include "leakwatch/version.h"

namespace leakwatch::internal {

const HeapSamplerHooks* FindHeapSamplerHooks(std::string* problem) {
  using Lookup = const HeapSamplerHooks* (*)();
  auto lookup = reinterpret_cast<Lookup>(::dlsym(RTLD_DEFAULT, kHeapSamplerHooksSymbol));
  if (lookup == nullptr) {
    if (problem != nullptr) *problem = "no allocation hooks in this process";
    return nullptr;
  }
  const HeapSamplerHooks* hooks = lookup();
  if (hooks == nullptr || hooks->abi != kHeapSamplerHooksAbi || hooks->version == nullptr ||
      std::strcmp(hooks->version, LEAKWATCH_VERSION) != 0 || hooks->core == nullptr ||
      hooks->start == nullptr) {
    if (problem != nullptr) {
      *problem = std::string("the allocation hooks loaded come from another leakwatch build (") +
                 (hooks != nullptr && hooks->version != nullptr ? hooks->version : "?") + ", this agent is " +
                 LEAKWATCH_VERSION + ")";
    }
    return nullptr;
  }
  return hooks;
}

}  // namespace leakwatch::internal
