#pragma once
// leakwatch::AllocatorStatsProvider: what the process's memory allocator says about its heap.
//
// leakwatch finds jemalloc, tcmalloc (gperftools), mimalloc and glibc malloc at run time by looking their
// symbols up with dlsym (no link-time dependency; works when the allocator is linked in or LD_PRELOADed). An
// application whose allocator cannot be found that way (a statically linked, prefixed jemalloc, a custom
// arena) registers its own provider in AgentOptions::allocator_provider.
//
// Units: bytes. A figure the allocator does not report is absent (std::nullopt), never 0.

#include <cstdint>
#include <optional>
#include <string>

#include "leakwatch/result.h"

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
namespace leakwatch {

// The allocator's figures at one moment. Where each comes from, per allocator, is said field by field below
// (glibc's figures come from mallinfo2(), which leakwatch calls only when enabled: see the glibc options).
struct AllocatorStats {
  // Bytes in live allocations handed to the application (jemalloc stats.allocated, tcmalloc
  // generic.current_allocated_bytes, glibc uordblks + hblkhd). mimalloc: absent (it counts them only in
  // builds with statistics, and then only as text).
  // Exported as process_heap_bytes.
  std::optional<uint64_t> allocated_bytes;
  // Bytes in pages the allocator uses for live allocations, including size-class rounding (jemalloc
  // stats.active only).
  std::optional<uint64_t> active_bytes;
  // Bytes the allocator holds in physically resident pages: live data, its caches, free pages not yet
  // returned, metadata (jemalloc stats.resident, tcmalloc generic.total_physical_bytes). mimalloc and glibc:
  // absent (mimalloc 2.0's "current_rss" is its committed figure again).
  std::optional<uint64_t> resident_bytes;
  // Bytes of address space the allocator has mapped and not unmapped (jemalloc stats.mapped, tcmalloc
  // generic.heap_size + metadata, mimalloc committed bytes of mi_process_info, glibc arena + hblkhd).
  std::optional<uint64_t> mapped_bytes;
  // Bytes of address space kept mapped but returned to the OS (jemalloc stats.retained, tcmalloc
  // pageheap_unmapped_bytes). Not resident.
  std::optional<uint64_t> retained_bytes;
  // Bytes of the allocator's own bookkeeping (jemalloc stats.metadata; tcmalloc total_physical_bytes -
  // (heap_size - pageheap_unmapped_bytes), gperftools having no property for it).
  std::optional<uint64_t> metadata_bytes;
  // Bytes free inside the allocator and still resident: page-heap free pages, thread/central caches
  // (tcmalloc pageheap_free + central, transfer and thread cache free bytes; glibc fordblks).
  std::optional<uint64_t> free_bytes;
  // Number of arenas (jemalloc arenas.narenas; glibc arenas are not counted).
  std::optional<uint64_t> arenas;
};

// Which allocator it is and whether it can produce a heap profile.
struct AllocatorInfo {
  std::string name =
      "unknown";  // "jemalloc", "tcmalloc", "mimalloc", "glibc", "unknown", or a provider's own
  // As the allocator reports it ("5.3.0-0-g54ea...", "2.10", "2.0.9", "2.36"); empty when it does not.
  std::string version;
  // The allocator can produce a heap profile (jemalloc config.prof; gperftools' full libtcmalloc, not
  // libtcmalloc_minimal).
  bool profiling_supported = false;
  // A heap profile would have data now (jemalloc opt.prof && prof.active; tcmalloc with its heap profiler
  // running or TCMALLOC_SAMPLE_PARAMETER > 0 at start-up).
  bool profiling_active = false;
  // Mean bytes between sampled allocations when profiling is active (jemalloc 2^opt.lg_prof_sample, tcmalloc
  // TCMALLOC_SAMPLE_PARAMETER).
  std::optional<uint64_t> profiling_sample_bytes{};

  bool operator==(const AllocatorInfo&) const = default;
};

// A source of allocator statistics.
//
// Thread-safety: the agent calls both methods from its own thread only, never concurrently.
// Cost: Read() is called once per sampling tick (or per allocator period, see AgentOptions) and must not
// block the application's allocations for long; Info() is called at start and on the slow period. Read() must
// not throw; an Error makes the allocator figures of that tick absent and is counted in
// leakwatch_source_errors_total{source="allocator"}.
class AllocatorStatsProvider {
 public:
  virtual ~AllocatorStatsProvider() = default;
  virtual AllocatorInfo Info() = 0;
  virtual Result<AllocatorStats> Read() = 0;
};

}  // namespace leakwatch

#pragma GCC visibility pop
