#pragma once
// The heap profile of an incident bundle (docs/BUNDLES.md):
//   heap.prof   the allocator's own text profile (jemalloc heap_v2, read by jeprof; gperftools' heap sample
//   or
//               heap-profiler output, read by pprof), as the allocator wrote it;
//   heap.pb.gz  the same profile converted to pprof's gzipped profile.proto (go tool pprof, Pyroscope,
//   Parca):
//               unbiased values, the allocator's own frames cut, build ids on the mappings, function names
//               from the mapped objects' symbol tables (agent/profile/pprof_symbolizer.h);
// and the manifest's "heap_profile" entry, which describes them, or says why there is none and how to get
// one. Only jemalloc and gperftools' tcmalloc are asked (agent/profile/heap_dump.h), and only when the
// bundle is about this very process (a heap profile is taken in-process).
//
// Every failure degrades to the manifest entry (and a `skipped` entry when something broke): the bundle
// never fails because of its heap profile. A heap.prof larger than max_file_bytes is cut there and not
// converted. Nothing starts after the deadline; the dump itself cannot be interrupted.
//
// Thread-safety: one call at a time per bundle directory. Cost, measured with jemalloc at lg_prof_sample:12:
// 4 stacks 0.3 ms to dump + 4 ms to convert; 8,193 stacks (3 MB of text) 25 ms + 86 ms; 32,761 stacks (13 MB)
// 83 ms + 350 ms, giving a 156 KB heap.pb.gz; symbolizing adds a few ms (pprof_symbolizer.h). Conversion runs
// on the bundle worker; only the dump holds the allocator's locks. Memory while converting: about twice the
// text profile (the objects' files are mapped read-only for symbolizing, not copied).

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/allocator/symbol_lookup.h"
#include "agent/bundle/bundle_writer.h"
#include "leakwatch/allocator.h"

namespace leakwatch::internal {

struct HeapProfilePartOptions {
  std::string dir;  // the bundle's directory (being built)
  uint64_t max_file_bytes = 64ull << 20;
  // The converted profile's name: "heap_allocator.pb.gz" when leakwatch's own sampler writes heap.pb.gz.
  std::string pprof_name = "heap.pb.gz";
  // The bundle describes this process (pid "self" or our own pid); else no profile is taken.
  bool this_process = true;
  std::string main_executable;  // /proc/self/exe's target: its mapping goes first in heap.pb.gz
  // Function names into heap.pb.gz from the mapped objects' symbol tables (up to the deadline).
  bool symbolize = true;
  // Where a replaced or deleted object's mapped file is tried when its path fails (pprof_symbolizer.h).
  std::string map_files_dir = "/proc/self/map_files";
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  SymbolLookup lookup;  // tests inject fake allocators
  // TCMALLOC_SAMPLE_PARAMETER as the process started; by default read from the environment.
  std::optional<uint64_t> tcmalloc_sample_parameter = DefaultTcmallocSampleParameter();

  static std::optional<uint64_t> DefaultTcmallocSampleParameter();
};

struct HeapProfilePart {
  nlohmann::json manifest;  // the "heap_profile" entry
  std::vector<BundleFileEntry> files;
  std::optional<BundleSkip> skipped;
};

// `allocator`: the latest AllocatorInfo (nullptr: unknown).
HeapProfilePart WriteHeapProfilePart(const HeapProfilePartOptions& options, const AllocatorInfo* allocator);

// Completes a heap-profile manifest entry `j` into part->manifest: "written" (any complete file), "files",
// and the problem, as "problem" beside written files or "why" without any (also a `skipped` entry).
void FinishHeapProfileManifest(nlohmann::json j, nlohmann::json files, const std::string& problem,
                               HeapProfilePart* part);

}  // namespace leakwatch::internal
