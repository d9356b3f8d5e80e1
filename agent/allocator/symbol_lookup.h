#pragma once
// SymbolLookup: how the allocator providers find an allocator's functions at run time, so that leakwatch has
// no link-time dependency on any allocator and works whether the allocator is linked in or LD_PRELOADed.
//
// The default lookup is the process's own: dlsym(RTLD_DEFAULT, name), i.e. the definition an undefined
// reference would bind to (executable, then LD_PRELOAD libraries, then the libraries loaded at start-up in
// breadth-first order, then RTLD_GLOBAL dlopen()s); and dladdr() to tell which loaded object a function lives
// in. Tests replace both with fakes to drive the providers' error paths.
//
// Thread-safety: the default functions are thread-safe (dlsym and dladdr take the dynamic linker's lock).
// Cost: dlsym is a hash lookup per loaded object (~1 µs); the providers look symbols up once, at
// construction.

#include <functional>
#include <string>

namespace leakwatch::internal {

// The address dlsym(RTLD_DEFAULT, name) returns, or nullptr.
void* FindProcessSymbol(const char* name);
// The base address of the loaded object (the executable or a shared library) containing `address`
// (dladdr's dli_fbase), or nullptr when the address is in no loaded object.
const void* ProcessObjectOf(const void* address);
// The path of the loaded object containing `address` (dladdr's dli_fname), or "" when unknown. For messages.
std::string ProcessObjectName(const void* address);

struct SymbolLookup {
  std::function<void*(const char* name)> find = FindProcessSymbol;
  std::function<const void*(const void* address)> object_of = ProcessObjectOf;
  std::function<std::string(const void* address)> object_name = ProcessObjectName;

  // The function `name` cast to Fn, or nullptr. An empty `find` finds nothing.
  template <typename Fn>
  Fn Function(const char* name) const {
    if (!find) return nullptr;
    return reinterpret_cast<Fn>(find(name));
  }
};

// True when `malloc` resolves to the loaded object that defines `api_symbol`: the allocator behind that
// symbol is the one the process's malloc() calls use. When malloc is leakwatch's heap-profiler hooks
// (agent/heap_sampler/heap_sampler_hooks.h), the allocator they forward to is the one judged. False when
// either symbol is missing or the objects are unknown.
bool MallocComesFromObjectOf(const SymbolLookup& lookup, const char* api_symbol);

// "libjemalloc.so.2" style description of where `symbol` lives, for log lines ("" when unknown).
std::string DescribeObjectOf(const SymbolLookup& lookup, const char* symbol);

}  // namespace leakwatch::internal
