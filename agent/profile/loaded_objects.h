#pragma once
// The objects loaded in this process (the main program, then its shared libraries), as the dynamic linker
// knows them (dl_iterate_phdr): where each one's segments are and its GNU build id. The build ids go into
// heap profiles' mappings so that a profile can be symbolized offline from the right binaries; the segments
// tell which frames of a stack belong to the allocator itself.
//
// Build ids are read from the PT_NOTE segments already in memory: no file is opened, and the id is the one
// of the object actually loaded, even if its file was replaced on disk since.
//
// Thread-safety: thread-safe (dl_iterate_phdr takes the dynamic linker's lock for the walk; do not call it
// from a signal handler). Cost: a walk of every object's program headers, a few µs for 20 objects.

#include <cstdint>
#include <string>
#include <vector>

namespace leakwatch::internal {

struct AddressRange {
  uint64_t start = 0;  // first address
  uint64_t limit = 0;  // one past the last

  bool Contains(uint64_t address) const { return address >= start && address < limit; }
  bool Overlaps(const AddressRange& o) const { return start < o.limit && o.start < limit; }
  bool operator==(const AddressRange&) const = default;
};

struct LoadedObject {
  std::string name;                // as the dynamic linker knows it; "" for the main program
  uint64_t base = 0;               // load bias (dlpi_addr)
  std::vector<AddressRange> code;  // its executable PT_LOAD segments, at their run-time addresses
  std::string build_id;            // lower-case hex NT_GNU_BUILD_ID; "" when it has none
};

// The main program first (dl_iterate_phdr reports it first), then the others in load order.
std::vector<LoadedObject> ListLoadedObjects();

// The object one of whose code segments contains `address`, or nullptr.
const LoadedObject* FindCodeOwner(const std::vector<LoadedObject>& objects, uint64_t address);

}  // namespace leakwatch::internal
