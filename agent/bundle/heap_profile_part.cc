#include "agent/bundle/heap_profile_part.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "agent/allocator/tcmalloc_provider.h"
#include "agent/bundle/bundle_file.h"
#include "agent/common/file_reader.h"
#include "agent/common/gzip.h"
#include "agent/profile/heap_dump.h"
#include "agent/profile/heap_profile_text.h"
#include "agent/profile/heap_to_pprof.h"
#include "agent/profile/loaded_objects.h"
#include "agent/profile/pprof_encoder.h"
#include "agent/profile/pprof_symbolizer.h"
#include "leakwatch/version.h"

namespace leakwatch::internal {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kRawFile = "heap.prof";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Makes the file jemalloc wrote look like the bundle's own files: mode 0640, at most `cap` bytes, synced and
// out of the page cache (charged to the cgroup otherwise). Returns its entry; *error on failure.
BundleFileEntry SettleAllocatorFile(const std::string& dir, const std::string& name, uint64_t cap,
                                    std::string* error) {
  BundleFileEntry entry{name, 0, false};
  const std::string path = dir + "/" + name;
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return entry;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    entry.bytes = static_cast<uint64_t>(st.st_size);
    if (entry.bytes > cap && ::ftruncate(fd, static_cast<off_t>(cap)) == 0) {
      entry.bytes = cap;
      entry.capped = true;
    }
  }
  ::fchmod(fd, 0640);
  if (::fdatasync(fd) != 0) *error = path + ": cannot sync: " + std::strerror(errno);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  return entry;
}

void DropFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

struct Conversion {
  std::string pprof_gz;
  size_t stacks = 0;
  size_t samples = 0;
  size_t locations = 0;
  uint64_t sampling_rate = 0;
  std::string format;
  std::string sampling;
  double inuse_bytes = 0;
  double inuse_objects = 0;
  std::optional<PprofSymbolizeReport> symbols;  // when symbolized
  double symbolize_seconds = 0;
};

// At most this many "unsymbolized" entries in the manifest (one per object and reason).
constexpr size_t kMaxUnsymbolizedEntries = 16;

Result<Conversion> Convert(std::string_view text, const HeapDump& dump,
                           const HeapProfilePartOptions& options) {
  const std::string& main_executable = options.main_executable;
  auto heap = ParseHeapProfileText(text);
  if (!heap.ok()) return Error{std::string(kRawFile) + " " + heap.error().message};
  HeapToPprofOptions o;
  o.main_executable = main_executable;
  o.objects = ListLoadedObjects();
  // The allocator's own frames, unless it is linked into the main program (then its code and the
  // application's cannot be told apart by address; pprof's drop_frames still removes them by name).
  const LoadedObject* owner = FindCodeOwner(o.objects, dump.allocator_function);
  if (owner != nullptr && owner != &o.objects.front()) o.allocator_code = owner->code;
  o.time_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  o.comments = {std::string("leakwatch ") + LEAKWATCH_VERSION + ": " + heap->format + " from " +
                    dump.allocator + " " + dump.method,
                heap->sampling == HeapSampling::kPoisson
                    ? "values unbiased for sampling every " + std::to_string(heap->sampling_rate) +
                          " bytes: x 1/(1-exp(-mean object size/rate))"
                    : std::string("every allocation recorded: values as written")};
  PprofProfile p = HeapProfileToPprof(*heap, o);
  Conversion c;
  if (options.symbolize) {
    const auto started = Clock::now();
    PprofSymbolizeOptions so;
    so.deadline = options.deadline;
    so.map_files_dir = options.map_files_dir;
    c.symbols = SymbolizePprof(p, so);
    c.symbolize_seconds = Seconds(Clock::now() - started);
  }
  auto gz = GzipCompress(EncodePprof(p));
  if (!gz.ok()) return gz.error();
  c.pprof_gz = std::move(*gz);
  c.stacks = heap->records.size();
  c.samples = p.samples.size();
  c.locations = p.locations.size();
  c.sampling_rate = heap->sampling_rate;
  c.format = heap->format;
  c.sampling = heap->sampling == HeapSampling::kPoisson ? "poisson" : "every_allocation";
  for (const auto& r : heap->records) {
    const HeapEstimate e = UnbiasHeapCounts(r.inuse, heap->sampling, heap->sampling_rate);
    c.inuse_bytes += e.bytes;
    c.inuse_objects += e.objects;
  }
  return c;
}

json Explain(const std::string& allocator, const HeapDumpOutcome& outcome) {
  json j;
  j["written"] = false;
  j["allocator"] = allocator;
  j["why"] = outcome.why;
  if (!outcome.how_to_enable.empty()) j["how_to_enable"] = outcome.how_to_enable;
  return j;
}

HeapProfilePart Write(const HeapProfilePartOptions& o, const AllocatorInfo* allocator) {
  HeapProfilePart part;
  const std::string name = allocator != nullptr ? allocator->name : "unknown";
  if (name != "jemalloc" && name != "tcmalloc") {
    part.manifest = Explain(name, NoHeapProfiler(name));
    return part;
  }
  if (!o.this_process) {
    HeapDumpOutcome why;
    why.why = "the bundle describes another process: a heap profile can only be taken in-process";
    part.manifest = Explain(name, why);
    return part;
  }
  if (Clock::now() >= o.deadline) {
    HeapDumpOutcome why;
    why.why = "the bundle's deadline passed";
    part.manifest = Explain(name, why);
    part.skipped = BundleSkip{"heap_profile", why.why};
    return part;
  }

  HeapDumpOptions dump_options;
  dump_options.lookup = o.lookup;
  dump_options.jemalloc_path = o.dir + "/" + kRawFile;
  dump_options.tcmalloc_sample_parameter = o.tcmalloc_sample_parameter;
  HeapDumpOutcome outcome;
  try {
    outcome = DumpHeap(name, dump_options);
  } catch (const std::exception& e) {  // std::bad_alloc from the text, at worst
    outcome.failed = true;
    outcome.why = std::string("failed: ") + e.what();
  }
  if (!outcome.dump) {
    part.manifest = Explain(name, outcome);
    if (outcome.failed) part.skipped = BundleSkip{"heap_profile", outcome.why};
    return part;
  }
  const HeapDump& dump = *outcome.dump;

  // heap.prof: written by jemalloc itself, or from the text tcmalloc returned.
  const std::string cut = std::string(kRawFile) + " was cut at max_file_bytes (" +
                          std::to_string(o.max_file_bytes) + " bytes): not converted";
  std::string problem;
  std::string text_buffer;
  std::string_view text;  // the profile to convert; empty: none
  BundleFileEntry raw;
  if (!dump.file.empty()) {
    raw = SettleAllocatorFile(o.dir, kRawFile, o.max_file_bytes, &problem);
    if (problem.empty() && raw.capped) problem = cut;
    if (problem.empty()) {
      auto read = ReadFile(dump.file, o.max_file_bytes);
      DropFromPageCache(dump.file);  // reading it back cached it again, charged to the cgroup
      if (read.ok()) {
        text_buffer = std::move(*read);
        text = text_buffer;
      } else {
        problem = read.error().message;
      }
    }
  } else {
    BundleFile f(o.dir + "/" + kRawFile, o.max_file_bytes);
    f.Write(dump.text);
    f.Close();
    raw = {kRawFile, f.bytes(), f.capped() || !f.ok()};
    if (!f.ok()) {
      problem = f.error();  // the text is in memory: heap.pb.gz can still be made
      text = dump.text;
    } else if (f.capped()) {
      problem = cut;
    } else {
      text = dump.text;
    }
  }
  part.files.push_back(raw);

  json j;
  j["allocator"] = name;
  j["method"] = dump.method;
  j["dump_seconds"] = std::chrono::duration<double>(dump.duration).count();
  if (allocator->profiling_sample_bytes) j["sampling_rate_bytes"] = *allocator->profiling_sample_bytes;
  json files = json::array();  // the complete profile files
  if (!raw.capped) files.push_back(kRawFile);
  if (!text.empty() && Clock::now() >= o.deadline) {
    problem = "pprof conversion skipped: the bundle's deadline passed";
    text = {};
  }
  if (!text.empty()) {
    const auto started = Clock::now();
    Result<Conversion> c = [&]() -> Result<Conversion> {
      try {
        return Convert(text, dump, o);
      } catch (const std::exception& e) {
        return Error{std::string("pprof conversion failed: ") + e.what()};
      }
    }();
    if (c.ok()) {
      const char* kPprofFile = o.pprof_name.c_str();
      BundleFile f(o.dir + "/" + o.pprof_name, o.max_file_bytes);
      f.Write(c->pprof_gz);
      f.Close();
      part.files.push_back({kPprofFile, f.bytes(), f.capped() || !f.ok()});
      if (f.ok() && !f.capped()) {
        files.push_back(kPprofFile);
      } else {
        problem = f.ok() ? std::string(kPprofFile) + " was cut at max_file_bytes" : f.error();
      }
      j["format"] = c->format;
      j["sampling"] = c->sampling;
      j["sampling_rate_bytes"] = c->sampling_rate;
      j["stacks"] = c->stacks;
      j["samples"] = c->samples;
      j["locations"] = c->locations;
      j["estimated_inuse_bytes"] = static_cast<uint64_t>(c->inuse_bytes + 0.5);
      j["estimated_inuse_objects"] = static_cast<uint64_t>(c->inuse_objects + 0.5);
      j["convert_seconds"] = Seconds(Clock::now() - started);
      if (c->symbols) {
        j["symbolized_locations"] = c->symbols->symbolized_locations;
        j["unsymbolized_locations"] = c->symbols->unsymbolized_locations;
        j["symbolize_seconds"] = c->symbolize_seconds;
        json why = json::array();
        for (const auto& u : c->symbols->unsymbolized) {
          if (why.size() == kMaxUnsymbolizedEntries) break;
          why.push_back({{"object", u.object}, {"locations", u.locations}, {"why", u.why}});
        }
        if (!why.empty()) j["unsymbolized"] = std::move(why);
      }
    } else {
      problem = c.error().message;
    }
  }
  FinishHeapProfileManifest(std::move(j), std::move(files), problem, &part);
  return part;
}

}  // namespace

void FinishHeapProfileManifest(nlohmann::json j, nlohmann::json files, const std::string& problem,
                               HeapProfilePart* part) {
  j["written"] = !files.empty();
  j["files"] = std::move(files);
  if (!problem.empty()) {
    j[j["written"] == true ? "problem" : "why"] = problem;
    part->skipped = BundleSkip{"heap_profile", problem};
  }
  part->manifest = std::move(j);
}

std::optional<uint64_t> HeapProfilePartOptions::DefaultTcmallocSampleParameter() {
  return ParseTcmallocSampleParameter(std::getenv("TCMALLOC_SAMPLE_PARAMETER"));
}

HeapProfilePart WriteHeapProfilePart(const HeapProfilePartOptions& options, const AllocatorInfo* allocator) {
  try {
    return Write(options, allocator);
  } catch (const std::exception& e) {  // std::bad_alloc at worst: the bundle goes on without its profile
    HeapProfilePart part;
    part.manifest = {{"written", false},
                     {"allocator", allocator != nullptr ? allocator->name : "unknown"},
                     {"why", std::string("failed: ") + e.what()}};
    part.skipped = BundleSkip{"heap_profile", part.manifest["why"]};
    return part;
  }
}

}  // namespace leakwatch::internal
