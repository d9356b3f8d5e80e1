#include "agent/profile/heap_dump.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "agent/allocator/call_error.h"

namespace leakwatch::internal {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kJemallocHow =
    "start the process with MALLOC_CONF=prof:true,lg_prof_sample:19 (sampling every 512 KiB)";
constexpr const char* kTcmallocHow =
    "TCMALLOC_SAMPLE_PARAMETER=524288 enables sampling; HEAPPROFILE=<prefix> writes profiles";

HeapDumpOutcome Refused(std::string why, std::string how = "") {
  HeapDumpOutcome o;
  o.why = std::move(why);
  o.how_to_enable = std::move(how);
  return o;
}

HeapDumpOutcome Failed(std::string why) {
  HeapDumpOutcome o;
  o.failed = true;
  o.why = std::move(why);
  return o;
}

// --- jemalloc ---

using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

// A jemalloc bool (one byte); nullopt with *error set when the read fails.
std::optional<bool> ReadJemallocBool(MallctlFn mallctl, const char* key, std::string* error) {
  unsigned char v = 0;
  size_t len = sizeof v;
  if (const int rc = mallctl(key, &v, &len, nullptr, 0); rc != 0) {
    *error = ErrnoCallError(std::string("jemalloc mallctl(\"") + key + "\")", rc).message;
    return std::nullopt;
  }
  return v != 0;
}

HeapDumpOutcome DumpJemalloc(const HeapDumpOptions& o) {
  const auto mallctl = o.lookup.Function<MallctlFn>("mallctl");
  if (mallctl == nullptr) return Refused("jemalloc's mallctl is not visible to dlsym");
  if (!MallocComesFromObjectOf(o.lookup, "mallctl")) {
    return Refused("malloc does not come from the jemalloc that defines mallctl: the heap is not jemalloc's");
  }
  std::string error;
  const auto config_prof = ReadJemallocBool(mallctl, "config.prof", &error);
  if (!config_prof) return Failed(error);
  if (!*config_prof) {
    return Refused("this jemalloc was built without profiling (config.prof is false)",
                   "use a jemalloc built with --enable-prof (Debian's libjemalloc2 is)");
  }
  const auto opt_prof = ReadJemallocBool(mallctl, "opt.prof", &error);
  if (!opt_prof) return Failed(error);
  if (!*opt_prof) return Refused("jemalloc runs without heap profiling", kJemallocHow);
  const auto active = ReadJemallocBool(mallctl, "prof.active", &error);
  if (!active) return Failed(error);
  if (!*active) {
    return Refused("jemalloc heap profiling is enabled but not active (prof.active is false)",
                   "set prof.active to true with mallctl() in the process, or start it without "
                   "prof_active:false");
  }
  if (o.jemalloc_path.empty()) return Failed("no file to write jemalloc's dump to");
  const char* path = o.jemalloc_path.c_str();
  const auto started = Clock::now();
  const int rc = mallctl("prof.dump", nullptr, nullptr, static_cast<void*>(&path), sizeof(const char*));
  const auto duration = Clock::now() - started;
  // jemalloc answers EFAULT for any failure to open or write the file.
  if (rc != 0)
    return Failed(ErrnoCallError("jemalloc mallctl(\"prof.dump\") to " + o.jemalloc_path, rc).message);
  HeapDumpOutcome out;
  out.dump = HeapDump{"jemalloc",
                      "mallctl(\"prof.dump\")",
                      o.jemalloc_path,
                      "",
                      reinterpret_cast<uintptr_t>(mallctl),
                      std::chrono::duration_cast<std::chrono::nanoseconds>(duration)};
  return out;
}

// --- gperftools tcmalloc ---

using IsHeapProfilerRunningFn = int (*)();
using GetHeapProfileFn = char* (*)();
using InstanceFn = void* (*)();
using GetHeapSampleFn = void (*)(void* self, std::string* out);

constexpr const char* kInstanceSymbol = "_ZN15MallocExtension8instanceEv";
#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
constexpr const char* kGetHeapSampleSymbol =
    "_ZN15MallocExtension13GetHeapSampleEPNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE";
#else
constexpr const char* kGetHeapSampleSymbol = "_ZN15MallocExtension13GetHeapSampleEPSs";
#endif

HeapDumpOutcome DumpTcmalloc(const HeapDumpOptions& o) {
  constexpr const char* kApi = "MallocExtension_GetNumericProperty";
  const void* api = o.lookup.find ? o.lookup.find(kApi) : nullptr;
  if (api == nullptr) return Refused("tcmalloc's MallocExtension_GetNumericProperty is not visible to dlsym");
  if (!MallocComesFromObjectOf(o.lookup, kApi)) {
    return Refused("malloc does not come from the tcmalloc that defines " + std::string(kApi) +
                   ": the heap is not tcmalloc's");
  }
  const auto running = o.lookup.Function<IsHeapProfilerRunningFn>("IsHeapProfilerRunning");
  if (running == nullptr) {
    return Refused("libtcmalloc_minimal records no allocation stacks (it has no heap profiler)",
                   "use the full libtcmalloc.so.4 (Debian libgoogle-perftools4) with "
                   "TCMALLOC_SAMPLE_PARAMETER=524288");
  }
  HeapDumpOutcome out;
  if (running() != 0) {
    const auto get_profile = o.lookup.Function<GetHeapProfileFn>("GetHeapProfile");
    if (get_profile == nullptr)
      return Failed("the heap profiler runs but GetHeapProfile is not visible to dlsym");
    const auto started = Clock::now();
    char* text = get_profile();
    const auto duration = Clock::now() - started;
    if (text == nullptr) return Failed("gperftools GetHeapProfile() returned NULL");
    out.dump = HeapDump{"tcmalloc",
                        "GetHeapProfile()",
                        "",
                        text,
                        reinterpret_cast<uintptr_t>(api),
                        std::chrono::duration_cast<std::chrono::nanoseconds>(duration)};
    std::free(text);  // GetHeapProfile's contract: the caller frees it with free()
    return out;
  }
  if (o.tcmalloc_sample_parameter.value_or(0) == 0) {
    return Refused(
        "gperftools tcmalloc heap sampling is off (TCMALLOC_SAMPLE_PARAMETER unset or 0 at start-up)",
        kTcmallocHow);
  }
  const auto instance = o.lookup.Function<InstanceFn>(kInstanceSymbol);
  const auto get_sample = o.lookup.Function<GetHeapSampleFn>(kGetHeapSampleSymbol);
  if (instance == nullptr || get_sample == nullptr) {
    return Failed(
        "MallocExtension::instance() or MallocExtension::GetHeapSample(std::string*) is not visible to "
        "dlsym (a gperftools built for another C++ ABI?)");
  }
  void* extension = instance();
  if (extension == nullptr) return Failed("MallocExtension::instance() returned NULL");
  std::string text;
  const auto started = Clock::now();
  get_sample(extension, &text);
  const auto duration = Clock::now() - started;
  out.dump = HeapDump{"tcmalloc",
                      "MallocExtension::GetHeapSample()",
                      "",
                      std::move(text),
                      reinterpret_cast<uintptr_t>(api),
                      std::chrono::duration_cast<std::chrono::nanoseconds>(duration)};
  return out;
}

}  // namespace

HeapDumpOutcome NoHeapProfiler(std::string_view allocator) {
  return Refused(std::string(allocator) + " malloc keeps no record of allocation sites",
                 "run the process on jemalloc with profiling: LD_PRELOAD=libjemalloc.so.2 "
                 "MALLOC_CONF=prof:true,lg_prof_sample:19");
}

HeapDumpOutcome DumpHeap(std::string_view allocator, const HeapDumpOptions& options) {
  if (allocator == "jemalloc") return DumpJemalloc(options);
  if (allocator == "tcmalloc") return DumpTcmalloc(options);
  return NoHeapProfiler(allocator);
}

}  // namespace leakwatch::internal
