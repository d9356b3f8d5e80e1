#pragma once
// A heap profile from leakwatch's own sampler, as a gzipped pprof profile.proto (go tool pprof, Pyroscope,
// Parca): CaptureSampledHeap takes the samples and what is needed to make sense of their addresses at that
// moment (the memory map, the loaded objects and their build ids); EncodeSampledHeap turns a capture into
// the file, now or later (the peak profile is captured when the peak happens and encoded when asked for).
//
// The profile has alloc_objects, alloc_space, inuse_objects and inuse_space (default inuse_space), values
// already unbiased sample by sample (heap_sampler_core.h), period = the sampling interval; the hooks' own
// frames are never in the stacks, and drop_frames removes malloc/operator new and the std::allocator layers
// by name. Mappings carry build ids (offline symbolization from the binaries); function names are added
// from the mapped objects' symbol tables when `symbolize` (agent/profile/pprof_symbolizer.h).
//
// Thread-safety: pure functions of their arguments plus, for CaptureSampledHeap, the process's state
// (/proc/self/maps, dl_iterate_phdr). Cost: Collect() copies the tables under the sampler's lock (about
// 1 µs per 20 stacks); encoding is linear in stacks and frames, symbolizing a few ms per object.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/heap_sampler/heap_sampler_core.h"
#include "agent/profile/heap_profile.h"
#include "agent/profile/loaded_objects.h"
#include "agent/profile/pprof_symbolizer.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

struct SampledHeapCapture {
  SampledHeap heap;
  std::vector<MappedRegion> mappings;  // /proc/self/maps as it was
  std::vector<LoadedObject> objects;
  std::string main_executable;  // /proc/self/exe's target
  std::chrono::system_clock::time_point time{};
};

struct SampledHeapCaptureOptions {
  std::string maps_path = "/proc/self/maps";
  std::string exe_link = "/proc/self/exe";
};

// Collects the samples and the process's memory map. A map that cannot be read leaves `mappings` empty
// (the profile is still valid; pprof then cannot place the addresses in files).
SampledHeapCapture CaptureSampledHeap(const HeapSamplerCore& core,
                                      const SampledHeapCaptureOptions& options = {});

// The capture as a neutral HeapProfile (sampling kEstimates, counts rounded to whole bytes and objects).
HeapProfile SampledHeapToProfile(const SampledHeapCapture& capture);

struct EncodeSampledHeapOptions {
  bool symbolize = true;
  std::string map_files_dir = "/proc/self/map_files";
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::string what = "current";  // "current" or "peak": said in the profile's comments
};

struct EncodedHeapProfile {
  std::string pprof_gz;
  size_t samples = 0;
  size_t locations = 0;
  double inuse_bytes = 0;  // the estimate the profile shows
  double inuse_objects = 0;
  std::optional<PprofSymbolizeReport> symbols;
};

Result<EncodedHeapProfile> EncodeSampledHeap(const SampledHeapCapture& capture,
                                             const EncodeSampledHeapOptions& options);

}  // namespace leakwatch::internal
