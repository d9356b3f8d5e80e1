#include "agent/allocator/detect.h"

#include <string>

#include "agent/allocator/jemalloc_provider.h"
#include "agent/allocator/mimalloc_provider.h"
#include "agent/allocator/tcmalloc_provider.h"
#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

// True when the allocator behind `api_symbol` serves the process's malloc (or the check is off); logs a skip.
bool Owns(const AllocatorDetectOptions& options, const char* allocator, const char* api_symbol) {
  if (!options.require_malloc_owner || MallocComesFromObjectOf(options.lookup, api_symbol)) return true;
  Log()->info(
      "allocator: {}'s {} is in {}, but malloc comes from {}; not reporting {} figures (they would not "
      "describe the process's heap)",
      allocator, api_symbol, DescribeObjectOf(options.lookup, api_symbol),
      DescribeObjectOf(options.lookup, "malloc"), allocator);
  return false;
}

std::unique_ptr<AllocatorStatsProvider> Detect(const AllocatorDetectOptions& options) {
  const SymbolLookup& lookup = options.lookup;
  if (auto p = JemallocProvider::Find(lookup); p && Owns(options, "jemalloc", "mallctl")) return p;
  if (auto p = TcmallocProvider::Find(lookup);
      p && Owns(options, "tcmalloc", "MallocExtension_GetNumericProperty")) {
    return p;
  }
  if (auto p = MimallocProvider::Find(lookup); p && Owns(options, "mimalloc", "mi_version")) return p;
  // Checked before Find(): the glibc provider may start a thread.
  if (lookup.find && lookup.find("gnu_get_libc_version") != nullptr &&
      Owns(options, "glibc", "gnu_get_libc_version")) {
    if (auto p = GlibcMallocProvider::Find(lookup, options.glibc, options.now)) return p;
  }
  return std::make_unique<UnknownAllocatorProvider>();
}

}  // namespace

std::unique_ptr<AllocatorStatsProvider> DetectAllocator(const AllocatorDetectOptions& options) {
  auto provider = Detect(options);
  std::string extra;
  if (auto guard = GlibcGuardStateOf(*provider)) {
    extra = guard->enabled ? fmt::format("; mallinfo2 every {} ms on its own thread", guard->period.count())
                           : std::string("; mallinfo2 disabled, so no heap figures");
  }
  Log()->info("allocator: {}{}", DescribeAllocator(provider->Info()), extra);
  return provider;
}

std::optional<GlibcGuardState> GlibcGuardStateOf(const AllocatorStatsProvider& provider) {
  if (const auto* glibc = dynamic_cast<const GlibcMallocProvider*>(&provider)) return glibc->guard_state();
  return std::nullopt;
}

std::string DescribeAllocator(const AllocatorInfo& info) {
  std::string s = info.name;
  if (!info.version.empty()) s += " " + info.version;
  if (info.profiling_supported) {
    s += " (heap profiling supported";
    if (info.profiling_active) {
      s += ", active";
      if (info.profiling_sample_bytes)
        s += fmt::format(", sampling every {} bytes", *info.profiling_sample_bytes);
    } else {
      s += ", not active";
    }
    s += ")";
  }
  return s;
}

}  // namespace leakwatch::internal
