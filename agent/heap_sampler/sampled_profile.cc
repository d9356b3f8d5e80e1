#include "agent/heap_sampler/sampled_profile.h"

#include <unistd.h>

#include <cmath>

#include "agent/common/file_reader.h"
#include "agent/common/gzip.h"
#include "agent/profile/heap_profile_text.h"
#include "agent/profile/heap_to_pprof.h"
#include "agent/profile/pprof_encoder.h"
#include "leakwatch/version.h"

namespace leakwatch::internal {
namespace {

constexpr uint64_t kMaxMapsBytes = 16ull << 20;

uint64_t Round(double v) { return v <= 0 ? 0 : static_cast<uint64_t>(std::llround(v)); }

std::string ReadLink(const std::string& path) {
  char buffer[4096];
  const ssize_t n = ::readlink(path.c_str(), buffer, sizeof(buffer));
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

// The leakwatch sampler's own code, which the hooks already cut: only what pprof's drop_frames names.
const char kSamplerFramesRegex[] = "|leakwatch::internal::.*HeapSampler.*";

}  // namespace

SampledHeapCapture CaptureSampledHeap(const HeapSamplerCore& core, const SampledHeapCaptureOptions& options) {
  SampledHeapCapture c;
  c.time = std::chrono::system_clock::now();
  c.heap = core.Collect();
  if (auto maps = ReadFile(options.maps_path, kMaxMapsBytes); maps.ok())
    c.mappings = ParseMappedRegions(*maps);
  c.objects = ListLoadedObjects();
  c.main_executable = ReadLink(options.exe_link);
  return c;
}

HeapProfile SampledHeapToProfile(const SampledHeapCapture& capture) {
  HeapProfile p;
  p.format = "leakwatch heap sampler";
  p.sampling = HeapSampling::kEstimates;
  p.sampling_rate = capture.heap.stats.mean_interval_bytes;
  p.has_alloc = true;
  p.records.reserve(capture.heap.stacks.size());
  for (const SampledStack& s : capture.heap.stacks) {
    HeapStackRecord r;
    r.stack = s.frames;
    r.inuse = {Round(s.inuse_objects), Round(s.inuse_bytes)};
    r.alloc = {Round(s.alloc_objects), Round(s.alloc_bytes)};
    if (r.inuse.objects == 0) r.inuse.bytes = 0;
    if (r.alloc.objects == 0) r.alloc.bytes = 0;
    p.total_inuse.objects += r.inuse.objects;
    p.total_inuse.bytes += r.inuse.bytes;
    p.total_alloc.objects += r.alloc.objects;
    p.total_alloc.bytes += r.alloc.bytes;
    p.records.push_back(std::move(r));
  }
  p.mappings = capture.mappings;
  return p;
}

Result<EncodedHeapProfile> EncodeSampledHeap(const SampledHeapCapture& capture,
                                             const EncodeSampledHeapOptions& options) {
  const HeapProfile heap = SampledHeapToProfile(capture);
  HeapToPprofOptions o;
  o.main_executable = capture.main_executable;
  o.objects = capture.objects;
  o.time_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(capture.time.time_since_epoch()).count();
  const HeapSamplerStats& st = capture.heap.stats;
  o.comments = {std::string("leakwatch ") + LEAKWATCH_VERSION + " heap sampler: " + options.what +
                    " profile; one sample every " + std::to_string(st.mean_interval_bytes) +
                    " bytes allocated on average (Poisson), values unbiased sample by sample",
                "samples " + std::to_string(st.samples_total) + ", live samples " +
                    std::to_string(st.live_samples) + ", stacks " + std::to_string(st.stacks) +
                    ", dropped (live table full) " + std::to_string(st.dropped_live_table_full) +
                    ", dropped (stack table full) " + std::to_string(st.dropped_stack_table_full)};
  PprofProfile p = HeapProfileToPprof(heap, o);
  p.drop_frames += kSamplerFramesRegex;
  EncodedHeapProfile e;
  if (options.symbolize) {
    PprofSymbolizeOptions so;
    so.deadline = options.deadline;
    so.map_files_dir = options.map_files_dir;
    e.symbols = SymbolizePprof(p, so);
  }
  auto gz = GzipCompress(EncodePprof(p));
  if (!gz.ok()) return gz.error();
  e.pprof_gz = std::move(*gz);
  e.samples = p.samples.size();
  e.locations = p.locations.size();
  for (const auto& r : heap.records) {
    e.inuse_bytes += static_cast<double>(r.inuse.bytes);
    e.inuse_objects += static_cast<double>(r.inuse.objects);
  }
  return e;
}

}  // namespace leakwatch::internal
