#include "agent/allocator/tcmalloc_provider.h"

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

std::optional<uint64_t> Property(TcmallocProvider::GetNumericPropertyFn get, const char* name) {
  size_t value = 0;
  if (get(name, &value) == 0) return std::nullopt;
  return static_cast<uint64_t>(value);
}

std::optional<uint64_t> Sum(std::initializer_list<std::optional<uint64_t>> parts) {
  uint64_t total = 0;
  for (const auto& p : parts) {
    if (!p) return std::nullopt;
    total += *p;
  }
  return total;
}

}  // namespace

std::optional<uint64_t> ParseTcmallocSampleParameter(const char* value) {
  if (value == nullptr) return std::nullopt;
  return ParseU64(TrimSpace(value));
}

std::unique_ptr<TcmallocProvider> TcmallocProvider::Find(const SymbolLookup& lookup) {
  Api api;
  api.get_numeric_property = lookup.Function<GetNumericPropertyFn>("MallocExtension_GetNumericProperty");
  if (api.get_numeric_property == nullptr) return nullptr;
  api.version = lookup.Function<VersionFn>("tc_version");
  api.is_heap_profiler_running = lookup.Function<IsHeapProfilerRunningFn>("IsHeapProfilerRunning");
  return std::make_unique<TcmallocProvider>(
      api, ParseTcmallocSampleParameter(std::getenv("TCMALLOC_SAMPLE_PARAMETER")));
}

TcmallocProvider::TcmallocProvider(Api api, std::optional<uint64_t> sample_parameter)
    : api_(api), sample_parameter_(sample_parameter) {}

Result<AllocatorStats> TcmallocProvider::Read() {
  const auto get = api_.get_numeric_property;
  AllocatorStats stats;
  stats.allocated_bytes = Property(get, "generic.current_allocated_bytes");
  if (!stats.allocated_bytes) {
    return Error{
        "tcmalloc MallocExtension_GetNumericProperty(\"generic.current_allocated_bytes\") returned 0 "
        "(unknown property: tcmalloc's extension is not registered)"};
  }
  // heap_size, unmapped and total_physical back to back: metadata is derived from the three.
  const auto heap_size = Property(get, "generic.heap_size");
  if (!heap_size) {
    return Error{
        "tcmalloc MallocExtension_GetNumericProperty(\"generic.heap_size\") returned 0 "
        "(unknown property)"};
  }
  stats.retained_bytes = Property(get, "tcmalloc.pageheap_unmapped_bytes");
  stats.resident_bytes = Property(get, "generic.total_physical_bytes");
  stats.mapped_bytes = heap_size;
  if (stats.resident_bytes && stats.retained_bytes && *heap_size >= *stats.retained_bytes) {
    const uint64_t mapped_pages = *heap_size - *stats.retained_bytes;
    if (*stats.resident_bytes >= mapped_pages) {
      stats.metadata_bytes = *stats.resident_bytes - mapped_pages;
      // tcmalloc's own "Virtual address space used": the page heap plus the metadata it mapped besides.
      stats.mapped_bytes = *heap_size + *stats.metadata_bytes;
    }
  }
  stats.free_bytes =
      Sum({Property(get, "tcmalloc.pageheap_free_bytes"), Property(get, "tcmalloc.central_cache_free_bytes"),
           Property(get, "tcmalloc.transfer_cache_free_bytes"),
           Property(get, "tcmalloc.thread_cache_free_bytes")});
  return stats;
}

AllocatorInfo TcmallocProvider::Info() {
  AllocatorInfo info;
  info.name = "tcmalloc";
  if (api_.version != nullptr) {
    int major = 0;
    int minor = 0;
    const char* patch = nullptr;
    const char* text = api_.version(&major, &minor, &patch);
    if (text != nullptr && *text != '\0') {
      std::string_view v(text);
      constexpr std::string_view kPrefix = "gperftools ";
      if (v.substr(0, kPrefix.size()) == kPrefix) v.remove_prefix(kPrefix.size());
      info.version = std::string(v);
    } else if (major > 0 || minor > 0) {
      info.version = std::to_string(major) + "." + std::to_string(minor) + (patch != nullptr ? patch : "");
    }
  }
  info.profiling_supported = api_.is_heap_profiler_running != nullptr;
  if (info.profiling_supported) {
    const bool sampling = sample_parameter_.value_or(0) > 0;
    info.profiling_active = sampling || api_.is_heap_profiler_running() != 0;
    if (sampling) info.profiling_sample_bytes = sample_parameter_;
  }
  return info;
}

}  // namespace leakwatch::internal
