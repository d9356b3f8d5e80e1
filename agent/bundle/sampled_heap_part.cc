#include "agent/bundle/sampled_heap_part.h"

#include "agent/bundle/bundle_file.h"
#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kCurrentFile = "heap.pb.gz";
constexpr const char* kPeakFile = "heap_peak.pb.gz";

// Writes one capture as `name`; its manifest fields into *j. False (and *problem) on failure.
bool WriteCapture(const SampledHeapCapture& capture, const char* name, const char* what,
                  const SampledHeapPartOptions& o, HeapProfilePart* part, json* j, std::string* problem) {
  const auto started = Clock::now();
  EncodeSampledHeapOptions eo;
  eo.symbolize = o.symbolize;
  eo.map_files_dir = o.map_files_dir;
  eo.deadline = o.deadline;
  eo.what = what;
  auto encoded = EncodeSampledHeap(capture, eo);
  if (!encoded.ok()) {
    *problem = std::string(name) + ": " + encoded.error().message;
    return false;
  }
  BundleFile f(o.dir + "/" + name, o.max_file_bytes);
  f.Write(encoded->pprof_gz);
  f.Close();
  part->files.push_back({name, f.bytes(), f.capped() || !f.ok()});
  if (!f.ok() || f.capped()) {
    *problem = f.ok() ? std::string(name) + " was cut at max_file_bytes" : f.error();
    return false;
  }
  const HeapSamplerStats& s = capture.heap.stats;
  (*j)["file"] = name;
  (*j)["time"] = FormatUtcMillis(capture.time);
  (*j)["estimated_inuse_bytes"] = static_cast<uint64_t>(encoded->inuse_bytes + 0.5);
  (*j)["estimated_inuse_objects"] = static_cast<uint64_t>(encoded->inuse_objects + 0.5);
  (*j)["live_samples"] = s.live_samples;
  (*j)["samples_total"] = s.samples_total;
  (*j)["stacks"] = encoded->samples;
  (*j)["locations"] = encoded->locations;
  if (encoded->symbols) {
    (*j)["symbolized_locations"] = encoded->symbols->symbolized_locations;
    (*j)["unsymbolized_locations"] = encoded->symbols->unsymbolized_locations;
  }
  (*j)["encode_seconds"] = std::chrono::duration<double>(Clock::now() - started).count();
  return true;
}

HeapProfilePart Write(const SampledHeapPartOptions& o, const HeapProfiler& profiler) {
  HeapProfilePart part;
  const HeapProfilerStatus status = profiler.status();
  json j;
  j["allocator"] = status.real_allocator;
  j["method"] = "leakwatch heap sampler";
  j["sampling"] = "poisson";
  if (status.stats) {
    j["sampling_rate_bytes"] = status.stats->mean_interval_bytes;
    j["dropped_samples"] = status.stats->dropped_live_table_full + status.stats->dropped_stack_table_full;
  }
  j["sampler_state"] = std::string(HeapProfilerStateName(status.state));
  json files = json::array();
  std::string problem;
  if (Clock::now() >= o.deadline) {
    problem = "the bundle's deadline passed";
  } else if (auto now = profiler.CaptureNow()) {
    json current;
    if (WriteCapture(*now, kCurrentFile, "current", o, &part, &current, &problem)) {
      files.push_back(kCurrentFile);
      j["current"] = std::move(current);
    }
  } else {
    problem = "the heap sampler has no samples to give (" + std::string(HeapProfilerStateName(status.state)) +
              (status.reason.empty() ? "" : ": " + status.reason) + ")";
  }
  if (const auto peak = profiler.peak(); peak && Clock::now() < o.deadline) {
    json p;
    std::string peak_problem;
    if (WriteCapture(*peak, kPeakFile, "peak", o, &part, &p, &peak_problem)) {
      files.push_back(kPeakFile);
      j["peak"] = std::move(p);
    } else if (problem.empty()) {
      problem = peak_problem;
    }
  }
  FinishHeapProfileManifest(std::move(j), std::move(files), problem, &part);
  return part;
}

}  // namespace

bool SampledHeapAvailable(const HeapProfiler& profiler) {
  const HeapProfilerStatus s = profiler.status();
  return (s.state == HeapProfilerState::kRunning || s.state == HeapProfilerState::kStopped) && s.stats &&
         s.stats->samples_total > 0;
}

HeapProfilePart WriteSampledHeapPart(const SampledHeapPartOptions& options, const HeapProfiler& profiler) {
  try {
    return Write(options, profiler);
  } catch (const std::exception& e) {
    HeapProfilePart part;
    part.manifest = {{"written", false},
                     {"method", "leakwatch heap sampler"},
                     {"why", std::string("failed: ") + e.what()}};
    part.skipped = BundleSkip{"heap_profile", part.manifest["why"]};
    return part;
  }
}

}  // namespace leakwatch::internal
