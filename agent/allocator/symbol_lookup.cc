#include "agent/allocator/symbol_lookup.h"

#include <dlfcn.h>

#include "agent/heap_sampler/heap_sampler_hooks.h"

namespace leakwatch::internal {

void* FindProcessSymbol(const char* name) { return ::dlsym(RTLD_DEFAULT, name); }

const void* ProcessObjectOf(const void* address) {
  Dl_info info{};
  if (address == nullptr || ::dladdr(address, &info) == 0) return nullptr;
  return info.dli_fbase;
}

std::string ProcessObjectName(const void* address) {
  Dl_info info{};
  if (address == nullptr || ::dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

bool MallocComesFromObjectOf(const SymbolLookup& lookup, const char* api_symbol) {
  if (!lookup.find || !lookup.object_of) return false;
  const void* api = lookup.find(api_symbol);
  const void* malloc_fn = lookup.find("malloc");
  if (api == nullptr || malloc_fn == nullptr) return false;
  // leakwatch's own heap-profiler hooks forward to the real allocator: judge that one.
  using HooksLookup = const HeapSamplerHooks* (*)();
  if (auto hooks_lookup = reinterpret_cast<HooksLookup>(lookup.find(kHeapSamplerHooksSymbol))) {
    const HeapSamplerHooks* hooks = hooks_lookup();
    if (hooks != nullptr && hooks->abi == kHeapSamplerHooksAbi && hooks->own_malloc == malloc_fn &&
        hooks->real_malloc != nullptr) {
      malloc_fn = hooks->real_malloc();
      if (malloc_fn == nullptr) return false;
    }
  }
  const void* api_object = lookup.object_of(api);
  return api_object != nullptr && api_object == lookup.object_of(malloc_fn);
}

std::string DescribeObjectOf(const SymbolLookup& lookup, const char* symbol) {
  if (!lookup.find || !lookup.object_name) return "";
  const void* address = lookup.find(symbol);
  if (address == nullptr) return "";
  std::string name = lookup.object_name(address);
  return name.empty() ? std::string("an unnamed object") : name;
}

}  // namespace leakwatch::internal
