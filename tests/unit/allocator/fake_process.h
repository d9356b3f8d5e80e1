#pragma once
// FakeProcess: a SymbolLookup over a hand-made symbol table, for the allocator provider tests.
//
// Each symbol lives in a numbered fake "object" (a loaded library); object_of() answers with that number, so
// a test decides which library `malloc` comes from. Addresses are the fake functions' own, so the providers
// call them exactly as they would call the real ones. Header-only; not thread-safe (build it before the
// providers).

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "agent/allocator/symbol_lookup.h"

namespace leakwatch::internal::allocator_test {

// Objects by convention: 1 the allocator's library, 2 libc, 3 some other library.
inline constexpr int kAllocatorObject = 1;
inline constexpr int kLibcObject = 2;
inline constexpr int kOtherObject = 3;

// A distinct address for symbols that are never called (e.g. "malloc").
inline void* Marker(int i) {
  static char markers[32];
  return &markers[i];
}

class FakeProcess {
 public:
  template <typename Fn>
  FakeProcess& Add(const std::string& name, Fn fn, int object) {
    symbols_[name] = {reinterpret_cast<void*>(fn), object};
    return *this;
  }

  SymbolLookup Lookup() const {
    SymbolLookup lookup;
    const auto symbols = symbols_;
    lookup.find = [symbols](const char* name) -> void* {
      auto it = symbols.find(name);
      return it == symbols.end() ? nullptr : it->second.first;
    };
    lookup.object_of = [symbols](const void* address) -> const void* {
      for (const auto& [name, entry] : symbols) {
        if (entry.first == address)
          return reinterpret_cast<const void*>(static_cast<uintptr_t>(entry.second) << 12);
      }
      return nullptr;
    };
    lookup.object_name = [symbols](const void* address) -> std::string {
      for (const auto& [name, entry] : symbols) {
        if (entry.first == address) return "libfake" + std::to_string(entry.second) + ".so";
      }
      return "";
    };
    return lookup;
  }

 private:
  std::map<std::string, std::pair<void*, int>> symbols_;
};

}  // namespace leakwatch::internal::allocator_test
