#pragma once
// JemallocProvider: jemalloc's own statistics through mallctl(), found at run time (symbol "mallctl").
//
// Read() refreshes the statistics first (writes "epoch", which merges the counters of every arena in use and
// of every thread cache), then reads, all size_t:
//   allocated_bytes  stats.allocated    active_bytes   stats.active     resident_bytes  stats.resident
//   mapped_bytes     stats.mapped       retained_bytes stats.retained   metadata_bytes  stats.metadata
//   arenas           arenas.narenas (unsigned)
// free_bytes is absent. A key jemalloc does not know (ENOENT: a build without --enable-stats, or a version
// before the key existed) leaves its figure absent without an error; any other failure -- including a value
// of an unexpected size -- fails the whole Read() with an Error naming the key and the return code.
//
// Info(): name "jemalloc", version from "version" (const char*), profiling_supported = "config.prof" (bool),
// profiling_active = "opt.prof" && "prof.active" (bool), profiling_sample_bytes = 2^"opt.lg_prof_sample"
// (size_t) while profiling is active. A failing key leaves its field at the default and is logged once.
//
// Only the unprefixed symbol is looked up: Debian's libjemalloc2 exports "mallctl" and no "je_mallctl"; a
// jemalloc built with a prefix is usually linked statically and its symbols are not visible to dlsym anyway
// (such applications register their own provider).
//
// Thread-safety: one thread at a time (the agent's). mallctl itself is thread-safe.
// Cost per Read(): the epoch refresh plus 7 mallctl reads (~0.7 µs together). The refresh grows with the
// arenas in use, ~9-10 µs each (jemalloc makes 4 per CPU and spreads threads over them): measured 9 µs with 1
// thread, 77 µs with 64 threads on 8 arenas, 0.71 ms with 64 threads on 64 arenas (bench/allocator_bench.sh).

#include <cstddef>
#include <memory>

#include "agent/allocator/symbol_lookup.h"
#include "leakwatch/allocator.h"

namespace leakwatch::internal {

class JemallocProvider final : public AllocatorStatsProvider {
 public:
  // int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
  using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

  // nullptr when `lookup` finds no mallctl.
  static std::unique_ptr<JemallocProvider> Find(const SymbolLookup& lookup);

  explicit JemallocProvider(MallctlFn mallctl) : mallctl_(mallctl) {}

  AllocatorInfo Info() override;
  Result<AllocatorStats> Read() override;

 private:
  MallctlFn mallctl_;
  bool info_error_logged_ = false;
};

}  // namespace leakwatch::internal
