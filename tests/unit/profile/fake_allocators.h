#pragma once
// Fake jemalloc and gperftools tcmalloc for the heap-dump tests: C functions over a global state, and a
// SymbolLookup that finds them (and a "malloc" in the same object, unless told otherwise). Header-only; one
// test at a time (the state is global, as the allocators' is). Not thread-safe.

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "agent/allocator/symbol_lookup.h"

namespace leakwatch::testing_alloc {

struct FakeAllocatorState {
  // jemalloc
  bool config_prof = true;
  bool opt_prof = true;
  bool prof_active = true;
  int read_rc = 0;  // returned by every read when non-zero
  int dump_rc = 0;  // returned by "prof.dump" when non-zero (nothing written)
  std::string dump_text;
  std::string dumped_to;
  int dumps = 0;
  // tcmalloc
  int heap_profiler_running = 0;
  std::string heap_profile_text;
  std::string heap_sample_text;
  const void* sample_self = nullptr;  // what GetHeapSample was given as `this`
  int samples = 0;
};

inline FakeAllocatorState& Fake() {
  static FakeAllocatorState state;
  return state;
}

inline int FakeMallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) {
  FakeAllocatorState& f = Fake();
  const std::string n = name;
  const std::map<std::string, bool> bools = {
      {"config.prof", f.config_prof}, {"opt.prof", f.opt_prof}, {"prof.active", f.prof_active}};
  if (auto it = bools.find(n); it != bools.end()) {
    if (f.read_rc != 0) return f.read_rc;
    if (oldp == nullptr || oldlenp == nullptr || *oldlenp != 1) return EINVAL;
    *static_cast<unsigned char*>(oldp) = it->second ? 1 : 0;
    return 0;
  }
  if (n == "prof.dump") {
    ++f.dumps;
    if (newp == nullptr || newlen != sizeof(const char*)) return EINVAL;
    if (f.dump_rc != 0) return f.dump_rc;
    f.dumped_to = *static_cast<const char* const*>(newp);
    std::ofstream(f.dumped_to) << f.dump_text;
    return 0;
  }
  return ENOENT;
}

inline int FakeGetNumericProperty(const char*, size_t*) { return 0; }
inline int FakeIsHeapProfilerRunning() { return Fake().heap_profiler_running; }
inline char* FakeGetHeapProfile() { return strdup(Fake().heap_profile_text.c_str()); }
inline int fake_extension_object = 0;
inline void* FakeInstance() { return &fake_extension_object; }
inline void FakeGetHeapSample(void* self, std::string* out) {
  Fake().sample_self = self;
  ++Fake().samples;
  *out = Fake().heap_sample_text;
}
inline void FakeMalloc() {}

template <typename F>
void* Address(F* f) {
  return reinterpret_cast<void*>(f);
}

// A lookup over `symbols` (name -> address). Every address is in one object, except "malloc" when
// `malloc_elsewhere`.
inline internal::SymbolLookup FakeLookup(std::map<std::string, void*> symbols, bool malloc_elsewhere = false,
                                         int* lookups = nullptr) {
  symbols.emplace("malloc", Address(&FakeMalloc));
  internal::SymbolLookup lookup;
  lookup.find = [symbols, lookups](const char* name) -> void* {
    if (lookups != nullptr) ++*lookups;
    auto it = symbols.find(name);
    return it == symbols.end() ? nullptr : it->second;
  };
  static const int allocator_object = 0;
  static const int other_object = 0;
  lookup.object_of = [malloc_elsewhere](const void* a) -> const void* {
    return malloc_elsewhere && a == Address(&FakeMalloc) ? &other_object : &allocator_object;
  };
  lookup.object_name = [](const void*) { return std::string("fake"); };
  return lookup;
}

inline internal::SymbolLookup FakeJemallocLookup(bool malloc_elsewhere = false) {
  return FakeLookup({{"mallctl", Address(&FakeMallctl)}}, malloc_elsewhere);
}

constexpr const char* kInstanceSymbol = "_ZN15MallocExtension8instanceEv";
constexpr const char* kGetHeapSampleSymbol =
    "_ZN15MallocExtension13GetHeapSampleEPNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE";

// The full libtcmalloc (minimal = false) or libtcmalloc_minimal.
inline internal::SymbolLookup FakeTcmallocLookup(bool minimal = false) {
  std::map<std::string, void*> symbols = {
      {"MallocExtension_GetNumericProperty", Address(&FakeGetNumericProperty)},
      {kInstanceSymbol, Address(&FakeInstance)},
      {kGetHeapSampleSymbol, Address(&FakeGetHeapSample)}};
  if (!minimal) {
    symbols.emplace("IsHeapProfilerRunning", Address(&FakeIsHeapProfilerRunning));
    symbols.emplace("GetHeapProfile", Address(&FakeGetHeapProfile));
  }
  return FakeLookup(symbols);
}

}  // namespace leakwatch::testing_alloc
