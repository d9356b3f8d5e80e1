#include "agent/profile/heap_to_pprof.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace leakwatch::internal {

const char kAllocatorFramesRegex[] =
    // C and POSIX entry points, and glibc's internal names for them.
    "(__libc_|__)?(malloc|calloc|realloc|reallocarray|free|cfree|memalign|posix_memalign|aligned_alloc|"
    "valloc|pvalloc)"
    // C++.
    "|operator new(\\[\\])?|operator delete(\\[\\])?"
    "|(std|__gnu_cxx)::(__)?new_allocator<.*>::allocate|std::allocator_traits<.*>::allocate|.*::_M_allocate"
    // jemalloc (its non-standard API, its prefixed internals, its operator new).
    "|(je_)?(mallocx|rallocx|xallocx|sallocx|dallocx|sdallocx|nallocx)|je_.*|(void\\* "
    ")?(fallback)?newImpl<.*>"
    // gperftools tcmalloc.
    "|tc_(malloc|calloc|realloc|free|cfree|memalign|posix_memalign|pvalloc|valloc|new|newarray|delete|"
    "deletearray)(_.*)?|tcmalloc::.*|(::)?do_malloc.*|DoSampledAllocation";

namespace {

// gperftools-style shared-library names: "libc.so.6", "libfoo.so", "libbar.so.1.2".
bool LooksLikeSharedLibrary(const std::string& path) {
  const size_t so = path.rfind(".so");
  if (so == std::string::npos) return false;
  const size_t after = so + 3;
  return after == path.size() || path[after] == '.' || path[after] == '_';
}

std::vector<MappedRegion> ExecutableRegions(const HeapProfile& heap, const std::string& main_executable) {
  std::vector<MappedRegion> regions;
  for (const auto& m : heap.mappings) {
    if (m.executable() && m.limit > m.start) regions.push_back(m);
  }
  auto main = regions.end();
  if (!main_executable.empty()) {
    main = std::find_if(regions.begin(), regions.end(),
                        [&](const MappedRegion& m) { return m.path == main_executable; });
  }
  if (main == regions.end()) {
    main = std::find_if(regions.begin(), regions.end(), [](const MappedRegion& m) {
      return !m.path.empty() && m.path.front() != '[' && !LooksLikeSharedLibrary(m.path);
    });
  }
  if (main != regions.end()) std::rotate(regions.begin(), main, main + 1);
  return regions;
}

std::string BuildIdOf(const MappedRegion& m, const std::vector<LoadedObject>& objects) {
  const AddressRange range{m.start, m.limit};
  for (const auto& o : objects) {
    for (const auto& code : o.code) {
      if (code.Overlaps(range)) return o.build_id;
    }
  }
  return "";
}

bool InAny(const std::vector<AddressRange>& ranges, uint64_t address) {
  for (const auto& r : ranges) {
    if (r.Contains(address)) return true;
  }
  return false;
}

struct StackKey {
  std::vector<uint64_t> stack;  // return addresses after the cut
  int64_t mean_size = 0;
  bool operator<(const StackKey& o) const {
    return std::tie(stack, mean_size) < std::tie(o.stack, o.mean_size);
  }
};

struct Totals {
  double alloc_objects = 0, alloc_bytes = 0, inuse_objects = 0, inuse_bytes = 0;
};

int64_t Round(double v) { return static_cast<int64_t>(std::llround(v)); }

}  // namespace

PprofProfile HeapProfileToPprof(const HeapProfile& heap, const HeapToPprofOptions& options) {
  PprofProfile p;
  if (heap.has_alloc) {
    p.sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"}};
  }
  p.sample_types.push_back({"inuse_objects", "count"});
  p.sample_types.push_back({"inuse_space", "bytes"});
  p.default_sample_type = "inuse_space";
  p.period_type = {"space", "bytes"};
  p.period = static_cast<int64_t>(heap.sampling_rate);
  p.time_nanos = options.time_nanos;
  p.drop_frames = kAllocatorFramesRegex;
  p.comments = options.comments;

  const std::vector<MappedRegion> regions = ExecutableRegions(heap, options.main_executable);
  for (size_t i = 0; i < regions.size(); ++i) {
    const auto& m = regions[i];
    p.mappings.push_back(
        PprofMapping{i + 1, m.start, m.limit, m.offset, m.path, BuildIdOf(m, options.objects), false});
  }
  // Regions sorted by start, with their ids, to find an address's mapping by binary search.
  std::vector<std::pair<uint64_t, size_t>> by_start;
  for (size_t i = 0; i < regions.size(); ++i) by_start.emplace_back(regions[i].start, i);
  std::sort(by_start.begin(), by_start.end());
  const auto mapping_of = [&](uint64_t address) -> uint64_t {
    auto it = std::upper_bound(by_start.begin(), by_start.end(), std::make_pair(address, SIZE_MAX));
    if (it == by_start.begin()) return 0;
    --it;
    return address < regions[it->second].limit ? it->second + 1 : 0;
  };

  // Same stack and mean size: one sample.
  std::map<StackKey, Totals> merged;
  for (const auto& r : heap.records) {
    if (r.inuse.objects == 0 && r.alloc.objects == 0) continue;  // a stack with nothing left to show
    size_t cut = 0;
    while (cut < r.stack.size() && InAny(options.allocator_code, r.stack[cut])) ++cut;
    if (cut == r.stack.size()) cut = 0;  // only allocator frames: keep them all
    StackKey key;
    key.stack.assign(r.stack.begin() + static_cast<std::ptrdiff_t>(cut), r.stack.end());
    key.mean_size = r.inuse.objects != 0   ? static_cast<int64_t>(r.inuse.bytes / r.inuse.objects)
                    : r.alloc.objects != 0 ? static_cast<int64_t>(r.alloc.bytes / r.alloc.objects)
                                           : 0;
    const HeapEstimate inuse = UnbiasHeapCounts(r.inuse, heap.sampling, heap.sampling_rate);
    const HeapEstimate alloc = UnbiasHeapCounts(r.alloc, heap.sampling, heap.sampling_rate);
    Totals& t = merged[std::move(key)];
    t.inuse_objects += inuse.objects;
    t.inuse_bytes += inuse.bytes;
    t.alloc_objects += alloc.objects;
    t.alloc_bytes += alloc.bytes;
  }

  std::unordered_map<uint64_t, uint64_t> location_ids;  // address (return address - 1) -> id
  for (const auto& [key, t] : merged) {
    PprofSample s;
    for (const uint64_t return_address : key.stack) {
      const uint64_t address = return_address == 0 ? 0 : return_address - 1;
      auto [it, added] = location_ids.try_emplace(address, p.locations.size() + 1);
      if (added) p.locations.push_back(PprofLocation{it->second, mapping_of(address), address, {}});
      s.location_ids.push_back(it->second);
    }
    if (heap.has_alloc) s.values = {Round(t.alloc_objects), Round(t.alloc_bytes)};
    s.values.push_back(Round(t.inuse_objects));
    s.values.push_back(Round(t.inuse_bytes));
    if (key.mean_size != 0) s.labels.push_back(PprofNumLabel{"bytes", key.mean_size, ""});
    p.samples.push_back(std::move(s));
  }
  return p;
}

}  // namespace leakwatch::internal
