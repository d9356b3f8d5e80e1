#include "agent/bundle/bundle_writer.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "agent/bundle/bundle_file.h"
#include "agent/bundle/fd_inventory.h"
#include "agent/bundle/heap_profile_part.h"
#include "agent/bundle/history_export.h"
#include "agent/bundle/process_identity.h"
#include "agent/bundle/sampled_heap_part.h"
#include "agent/bundle/thread_inventory.h"
#include "agent/common/file_reader.h"
#include "agent/common/text.h"
#include "agent/rules/rule_status_json.h"
#include "leakwatch/version.h"

namespace leakwatch::internal {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// Why /proc/<pid>/smaps_rollup is not read for this bundle, or empty. The kernel walks every page table of
// the process under its mmap lock to produce it: tens of milliseconds per GiB of RSS during which the host's
// mmap/munmap/page faults on new mappings wait (measured: up to 313 ms stalls of a thread mapping memory at
// 4 GiB, docs/PERFORMANCE.md).
std::string SmapsRollupSkipReason(const BundleWriterOptions& o, const Snapshot* snap) {
  if (!o.smaps_rollup) return "smaps_rollup is off in the agent's options";
  const auto rss = snap ? snap->get(Signal::kResidentMemoryBytes) : std::nullopt;
  if (rss && *rss > static_cast<double>(o.smaps_rollup_max_rss_bytes)) {
    return "RSS " + std::to_string(static_cast<int64_t>(*rss) >> 20) + " MiB is above " +
           std::to_string(o.smaps_rollup_max_rss_bytes >> 20) +
           " MiB: reading smaps_rollup would hold the process's mmap lock while the kernel walks its page "
           "tables, stalling the host's mmap/munmap; the last slow tick's smaps_rollup figures are in "
           "snapshot.json";
  }
  return {};
}

json SnapshotJson(const Snapshot& s) {
  json j;
  j["sequence"] = s.sequence;
  j["time"] = FormatUtcMillis(s.wall_time);
  j["slow_sequence"] = s.slow_sequence;
  json values = json::object();
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto signal = static_cast<Signal>(i);
    if (const auto v = s.get(signal); v && std::isfinite(*v))
      values[std::string(GetSignalInfo(signal).key)] = *v;
  }
  j["signals"] = std::move(values);
  json errors = json::object();
  for (size_t i = 0; i < kSourceCount; ++i) {
    if (s.source_errors_total[i] > 0) {
      errors[std::string(SourceName(static_cast<Source>(i)))] = s.source_errors_total[i];
    }
  }
  j["source_errors_total"] = std::move(errors);
  return j;
}

json AllocatorJson(const Snapshot& s) {
  json j;
  if (s.allocator) {
    j["allocator"] = s.allocator->name;
    j["version"] = s.allocator->version;
    j["profiling"] = !s.allocator->profiling_supported ? "unsupported"
                     : s.allocator->profiling_active   ? "active"
                                                       : "inactive";
    if (s.allocator->profiling_sample_bytes)
      j["profiling_sample_bytes"] = *s.allocator->profiling_sample_bytes;
  }
  json stats = json::object();
  for (const Signal signal :
       {Signal::kHeapBytes, Signal::kAllocatorAllocatedBytes, Signal::kAllocatorActiveBytes,
        Signal::kAllocatorResidentBytes, Signal::kAllocatorMappedBytes, Signal::kAllocatorRetainedBytes,
        Signal::kAllocatorMetadataBytes, Signal::kAllocatorFreeBytes, Signal::kAllocatorArenas,
        Signal::kAllocatorOverheadBytes, Signal::kAllocatorUnexplainedAnonBytes}) {
    if (const auto v = s.get(signal); v && std::isfinite(*v))
      stats[std::string(GetSignalInfo(signal).key)] = *v;
  }
  j["statistics"] = std::move(stats);
  return j;
}

std::string Label(const BundleTrigger& t) {
  std::string raw = t.rule && t.rule->spec ? t.rule->spec->name : t.source;
  std::string out;
  for (const char c : raw) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    out.push_back(ok ? c : (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : '_'));
    if (out.size() == 64) break;
  }
  return out.empty() ? "capture" : out;
}

class Builder {
 public:
  Builder(const BundleWriterOptions& o, std::string tmp_dir, SteadyClock::time_point deadline)
      : o_(o), tmp_(std::move(tmp_dir)), deadline_(deadline) {}

  // Runs `write` for the files `names` unless the deadline passed or `large` parts are off.
  void Part(const std::string& part, bool large, const std::vector<std::string>& names,
            const std::function<std::string(std::vector<BundleFile*>&)>& write) {
    if (SteadyClock::now() >= deadline_) {
      result_.skipped.push_back({part, "the bundle's deadline passed"});
      return;
    }
    if (large && !large_why_.empty()) {
      result_.skipped.push_back({part, large_why_});
      return;
    }
    std::vector<std::unique_ptr<BundleFile>> files;
    std::vector<BundleFile*> raw;
    for (const auto& name : names) {
      files.push_back(std::make_unique<BundleFile>(tmp_ + "/" + name, o_.max_file_bytes));
      raw.push_back(files.back().get());
    }
    std::string problem;
    try {
      problem = write(raw);
    } catch (const std::exception& e) {
      problem = std::string("failed: ") + e.what();
    }
    for (size_t i = 0; i < files.size(); ++i) {
      BundleFile& f = *files[i];
      f.Close();
      if (!f.ok() && problem.empty()) problem = f.error();
      result_.files.push_back({names[i], f.bytes(), f.capped() || !f.ok()});
      result_.bytes += f.bytes();
    }
    if (!problem.empty()) result_.skipped.push_back({part, problem});
  }

  void SkipLarge(std::string why) { large_why_ = std::move(why); }
  BundleResult& result() { return result_; }

 private:
  const BundleWriterOptions& o_;
  std::string tmp_;
  SteadyClock::time_point deadline_;
  std::string large_why_;
  BundleResult result_;
};

// Copies a small kernel file into the bundle; "" on success.
std::string CopyInto(const std::string& source, BundleFile& out) {
  auto text = ReadFile(source, 1 << 20);
  if (!text) return text.error().message;
  out.Write(*text);
  return "";
}

}  // namespace

std::string BundleName(std::chrono::system_clock::time_point t, int pid, const std::string& label) {
  return FormatUtcMillis(t, TimeFormat::kCompact) + "-" + std::to_string(pid) + "-" + label;
}

Result<BundleResult> WriteBundle(const BundleWriterOptions& o, const BundleTrigger& trigger,
                                 const BundleInputs& inputs, SteadyClock::time_point deadline) {
  const auto started = SteadyClock::now();
  const auto wall = std::chrono::system_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return Error{"bundle directory " + o.dir + ": " + ec.message()};
  const ProcessIdentity identity = ReadProcessIdentity(o.proc_root, o.pid);
  const std::string name = BundleName(wall, identity.pid, Label(trigger));
  const std::string final_path = o.dir + "/" + name;
  const std::string tmp = o.dir + "/.tmp-" + name;
  if (::mkdir(tmp.c_str(), 0750) != 0) {
    return Error{"cannot create " + tmp + ": " + std::strerror(errno)};
  }

  Builder b(o, tmp, deadline);
  const Snapshot* snap = inputs.snapshot.get();
  std::optional<double> headroom;
  if (snap) {
    const auto limit = snap->get(Signal::kCgroupMemoryLimitBytes);
    const auto used = snap->get(Signal::kCgroupMemoryWorkingSetBytes);
    if (limit && used) headroom = *limit - *used;
  }
  if (headroom && *headroom < static_cast<double>(o.low_headroom_bytes)) {
    b.SkipLarge("memory headroom " + std::to_string(static_cast<int64_t>(*headroom) / (1 << 20)) +
                " MiB is below low_headroom_bytes (" + std::to_string(o.low_headroom_bytes >> 20) +
                " MiB): small parts only");
  }

  // Small parts first: the memory picture at this moment.
  const std::string proc_dir = JoinPath(o.proc_root, o.pid);
  const std::string smaps_skip = SmapsRollupSkipReason(o, snap);
  for (const auto& [source, file] : std::vector<std::pair<std::string, std::string>>{
           {JoinPath(proc_dir, "status"), "proc_status.txt"},
           {JoinPath(proc_dir, "smaps_rollup"), "proc_smaps_rollup.txt"},
           {JoinPath(proc_dir, "limits"), "proc_limits.txt"}}) {
    if (file == "proc_smaps_rollup.txt" && !smaps_skip.empty()) {
      b.result().skipped.push_back({file, smaps_skip});
      continue;
    }
    b.Part(file, false, {file}, [&](std::vector<BundleFile*>& f) { return CopyInto(source, *f[0]); });
  }
  if (inputs.cgroup.version != 0) {
    std::vector<std::string> files = {"memory.stat"};
    if (inputs.cgroup.version == 2) {
      files.insert(files.end(), {"memory.events", "memory.current", "memory.max", "memory.high"});
    } else {
      files.insert(files.end(), {"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.failcnt",
                                 "memory.oom_control"});
    }
    for (const auto& f : files) {
      const std::string out = "cgroup_" + f + ".txt";
      b.Part(out, false, {out}, [&](std::vector<BundleFile*>& w) {
        return CopyInto(JoinPath(inputs.cgroup.memory_dir, f), *w[0]);
      });
    }
  }
  if (!inputs.cgroup.pressure_file.empty()) {
    b.Part("memory_pressure.txt", false, {"memory_pressure.txt"},
           [&](std::vector<BundleFile*>& f) { return CopyInto(inputs.cgroup.pressure_file, *f[0]); });
  }
  // The heap profile next: the best evidence of what leaks, small, and best taken close to the moment.
  HeapProfilePartOptions heap_options;
  heap_options.dir = tmp;
  heap_options.max_file_bytes = o.max_file_bytes;
  heap_options.this_process = o.pid == "self" || o.pid == std::to_string(::getpid());
  heap_options.main_executable = identity.executable;
  heap_options.deadline = deadline;
  // leakwatch's own sampler when it has samples (every allocator, from the first allocation); the allocator's
  // profile otherwise, and beside it when the operator turned the allocator's profiler on.
  const AllocatorInfo* allocator = snap ? snap->allocator.get() : nullptr;
  HeapProfilePart heap;
  std::optional<HeapProfilePart> allocator_heap;
  if (inputs.heap_profiler != nullptr && heap_options.this_process &&
      SampledHeapAvailable(*inputs.heap_profiler)) {
    SampledHeapPartOptions sampled;
    sampled.dir = tmp;
    sampled.max_file_bytes = o.max_file_bytes;
    sampled.deadline = deadline;
    heap = WriteSampledHeapPart(sampled, *inputs.heap_profiler);
    if (allocator != nullptr && allocator->profiling_active) {
      heap_options.pprof_name = "heap_allocator.pb.gz";
      allocator_heap = WriteHeapProfilePart(heap_options, allocator);
    }
  } else {
    heap = WriteHeapProfilePart(heap_options, allocator);
  }
  for (const HeapProfilePart* part : {&heap, allocator_heap ? &*allocator_heap : nullptr}) {
    if (part == nullptr) continue;
    for (const auto& f : part->files) {
      b.result().files.push_back(f);
      b.result().bytes += f.bytes;
    }
    if (part->skipped) b.result().skipped.push_back(*part->skipped);
  }

  if (snap) {
    b.Part("snapshot.json", false, {"snapshot.json"}, [&](std::vector<BundleFile*>& f) {
      f[0]->Write(SnapshotJson(*snap).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
      return std::string();
    });
    b.Part("allocator.json", false, {"allocator.json"}, [&](std::vector<BundleFile*>& f) {
      f[0]->Write(AllocatorJson(*snap).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
      return std::string();
    });
  }

  // Large parts.
  b.Part("threads", true, {"threads.csv", "threads_by_name.csv"}, [&](std::vector<BundleFile*>& f) {
    auto r = WriteThreadInventory(
        ThreadInventoryOptions{.proc_root = o.proc_root, .pid = o.pid, .max_threads = o.max_threads}, *f[0],
        *f[1]);
    if (!r) return r.error().message;
    return r->truncated ? "truncated at " + std::to_string(o.max_threads) + " threads" : std::string();
  });
  // glibc's own XML statistics per arena: only when the operator accepted glibc's walk of every free chunk
  // under the arena locks (allocator.glibc_mallinfo), and only about this process.
  if (o.glibc_malloc_info && snap && snap->allocator && snap->allocator->name == "glibc" &&
      (o.pid == "self" || o.pid == std::to_string(::getpid()))) {
    b.Part("malloc_info.xml", true, {"malloc_info.xml"}, [&](std::vector<BundleFile*>& f) {
      char* text = nullptr;
      size_t size = 0;
      FILE* out = ::open_memstream(&text, &size);
      if (out == nullptr) return std::string("open_memstream: ") + std::strerror(errno);
      const int rc = ::malloc_info(0, out);
      std::fclose(out);
      if (rc == 0 && text != nullptr) f[0]->Write(std::string_view(text, size));
      std::free(text);
      return rc == 0 ? std::string() : std::string("malloc_info failed");
    });
  }
  b.Part("fds", true, {"fds.csv", "fds_by_type.csv"}, [&](std::vector<BundleFile*>& f) {
    FdInventoryOptions fo;
    fo.proc_root = o.proc_root;
    fo.pid = o.pid;
    fo.max_fds = o.max_fds;
    auto r = WriteFdInventory(fo, *f[0], *f[1]);
    if (!r) return r.error().message;
    return r->truncated ? "truncated: " + std::to_string(r->fds_written) + " of at least " +
                              std::to_string(r->fds_listed) + " fds written"
                        : std::string();
  });
  if (inputs.history != nullptr) {
    b.Part("history", true, {"history.csv", "history_downsampled.csv"}, [&](std::vector<BundleFile*>& f) {
      auto r = WriteHistoryCsv(*inputs.history, *f[0], *f[1]);
      if (!r) return r.error().message;
      return r->truncated ? std::string("truncated at max_file_bytes") : std::string();
    });
  }

  BundleResult& result = b.result();
  result.name = name;
  result.path = final_path;

  // The manifest last: it indexes everything above.
  json m;
  m["format"] = 1;
  m["leakwatch_version"] = LEAKWATCH_VERSION;
  m["name"] = name;
  m["created"] = FormatUtcMillis(wall);
  json t;
  t["source"] = trigger.source;
  t["reason"] = trigger.reason;
  if (trigger.rule && trigger.rule->spec) t["rule"] = RuleStatusJson(*trigger.rule);
  m["trigger"] = std::move(t);
  json p;
  p["pid"] = identity.pid;
  p["executable"] = identity.executable;
  p["build_id"] = identity.build_id;
  p["command_line"] = identity.command_line;
  p["hostname"] = identity.hostname;
  if (snap) {
    if (const auto start = snap->get(Signal::kStartTimeSeconds)) {
      p["start_time"] = FormatUtcMillis(std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::duration<double>(*start))));
    }
    p["cgroup_version"] = snap->cgroup_version;
    p["cgroup_path"] = snap->cgroup_path;
  }
  m["process"] = std::move(p);
  if (headroom) m["memory_headroom_bytes"] = *headroom;
  m["heap_profile"] = std::move(heap.manifest);
  if (allocator_heap) m["allocator_heap_profile"] = std::move(allocator_heap->manifest);
  json files = json::array();
  for (const auto& f : result.files)
    files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"capped", f.capped}});
  m["files"] = std::move(files);
  json skipped = json::array();
  for (const auto& s : result.skipped) skipped.push_back({{"part", s.part}, {"why", s.why}});
  m["skipped"] = std::move(skipped);
  m["duration_seconds"] = std::chrono::duration<double>(SteadyClock::now() - started).count();
  {
    BundleFile manifest(tmp + "/manifest.json", o.max_file_bytes);
    manifest.Write(m.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    if (!manifest.Close()) {
      std::filesystem::remove_all(tmp, ec);
      return Error{"cannot write the manifest: " + manifest.error()};
    }
    result.files.push_back({"manifest.json", manifest.bytes(), false});
    result.bytes += manifest.bytes();
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::filesystem::remove_all(tmp, ec);
    return Error{"cannot rename " + tmp + " to " + final_path + ": " + why};
  }
  result.duration = SteadyClock::now() - started;
  return result;
}

}  // namespace leakwatch::internal
