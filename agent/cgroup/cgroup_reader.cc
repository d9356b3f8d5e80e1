#include "agent/cgroup/cgroup_reader.h"

#include <sys/stat.h>

#include <array>
#include <exception>
#include <utility>

#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

constexpr std::array kOwnedSignals = {
    Signal::kCgroupMemoryUsageBytes,
    Signal::kCgroupMemoryLimitBytes,
    Signal::kCgroupMemoryHighBytes,
    Signal::kCgroupMemoryWorkingSetBytes,
    Signal::kCgroupMemoryAnonBytes,
    Signal::kCgroupMemoryFileBytes,
    Signal::kCgroupMemoryKernelBytes,
    Signal::kCgroupMemorySockBytes,
    Signal::kCgroupMemoryShmemBytes,
    Signal::kCgroupMemoryInactiveFileBytes,
    Signal::kCgroupMemorySwapBytes,
    Signal::kCgroupMemoryEventsLowTotal,
    Signal::kCgroupMemoryEventsHighTotal,
    Signal::kCgroupMemoryEventsMaxTotal,
    Signal::kCgroupMemoryEventsOomTotal,
    Signal::kCgroupMemoryEventsOomKillTotal,
    Signal::kCgroupPidsCurrent,
    Signal::kCgroupPidsMax,
    Signal::kMemoryPressureSomeAvg10,
    Signal::kMemoryPressureSomeAvg60,
    Signal::kMemoryPressureSomeAvg300,
    Signal::kMemoryPressureFullAvg10,
    Signal::kMemoryPressureFullAvg60,
    Signal::kMemoryPressureFullAvg300,
    Signal::kMemoryPressureSomeSecondsTotal,
    Signal::kMemoryPressureFullSecondsTotal,
};

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::unique_ptr<ReusableFile> Required(const std::string& dir, std::string_view name) {
  return std::make_unique<ReusableFile>(JoinPath(dir, name));
}

// Opened only when the file exists now: a kernel without it leaves its signals absent without errors.
std::unique_ptr<ReusableFile> Optional(const std::string& dir, std::string_view name) {
  std::string path = JoinPath(dir, name);
  if (!Exists(path)) return nullptr;
  return std::make_unique<ReusableFile>(std::move(path));
}

void ClearOwnedSignals(TickKind tick, Snapshot* snapshot) {
  for (Signal s : kOwnedSignals) {
    if (tick == TickKind::kSlow || GetSignalInfo(s).cadence == Cadence::kEveryTick) snapshot->clear(s);
  }
}

void SetBytes(Snapshot* s, Signal signal, std::optional<uint64_t> v) {
  if (v) s->set(signal, static_cast<double>(*v));
}

}  // namespace

struct CgroupReader::Files {
  // memory (both versions unless noted)
  std::unique_ptr<ReusableFile> usage;  // memory.current | memory.usage_in_bytes
  std::unique_ptr<ReusableFile> limit;  // memory.max | memory.limit_in_bytes
  std::vector<std::unique_ptr<ReusableFile>>
      ancestor_limits;                        // v2: memory.max of ancestors below the mount root
  std::unique_ptr<ReusableFile> high;         // v2 memory.high
  std::unique_ptr<ReusableFile> stat;         // memory.stat
  std::unique_ptr<ReusableFile> events;       // v2 memory.events
  std::unique_ptr<ReusableFile> swap;         // v2 memory.swap.current (optional)
  std::unique_ptr<ReusableFile> memsw;        // v1 memory.memsw.usage_in_bytes (optional)
  std::unique_ptr<ReusableFile> kmem;         // v1 memory.kmem.usage_in_bytes (optional)
  std::unique_ptr<ReusableFile> kmem_tcp;     // v1 memory.kmem.tcp.usage_in_bytes (optional)
  std::unique_ptr<ReusableFile> failcnt;      // v1 memory.failcnt
  std::unique_ptr<ReusableFile> oom_control;  // v1 memory.oom_control
  // pids
  std::unique_ptr<ReusableFile> pids_current;
  std::unique_ptr<ReusableFile> pids_max;
  // pressure
  std::unique_ptr<ReusableFile> pressure;
};

// The errors of one Read(), at most one reported per source.
class CgroupReader::Pending {
 public:
  void Add(Source source, Error error) {
    const auto i = static_cast<size_t>(source);
    if (!first_[i]) first_[i] = std::move(error);
    ++count_[i];
  }
  bool any() const {
    for (const auto& e : first_) {
      if (e) return true;
    }
    return false;
  }
  void Clear() {
    for (auto& e : first_) e.reset();
    count_.fill(0);
  }
  void ReportTo(ErrorSink& sink) {
    for (size_t i = 0; i < kSourceCount; ++i) {
      if (!first_[i]) continue;
      if (count_[i] > 1) {
        first_[i]->message += " (and " + std::to_string(count_[i] - 1) + " more failure(s) in this source)";
      }
      sink.Report(static_cast<Source>(i), *first_[i]);
    }
  }

  // Reads `file` and parses it with `parse` (text -> Result<T>); nullopt (and an error) on failure.
  template <typename Parse>
  auto Parsed(ReusableFile& file, Source source, Parse parse)
      -> std::optional<std::decay_t<decltype(parse("").value())>> {
    auto text = file.Read();
    if (!text.ok()) {
      Add(source, text.error());
      return std::nullopt;
    }
    auto v = parse(*text);
    if (!v.ok()) {
      Add(source, Error{file.path() + ": " + v.error().message});
      return std::nullopt;
    }
    return std::move(v).value();
  }

  // One unsigned value; nullopt (and an error) on failure.
  std::optional<uint64_t> Value(ReusableFile& file, Source source) {
    return Parsed(file, source, [](std::string_view t) { return ParseSingleValue(t); });
  }

  // A limit file. Outer nullopt: failure (reported); inner nullopt: unlimited.
  std::optional<std::optional<uint64_t>> Limit(ReusableFile& file, Source source) {
    return Parsed(file, source, [](std::string_view t) { return ParseLimitValue(t); });
  }

  // Reads a flat-keyed file into *out (views valid until the file is read again).
  bool Flat(ReusableFile& file, Source source, FlatKeyedFile* out) {
    auto text = file.Read();
    if (!text.ok()) {
      Add(source, text.error());
      return false;
    }
    ParseFlatKeyedFile(*text, out);
    return true;
  }

 private:
  std::array<std::optional<Error>, kSourceCount> first_{};
  std::array<uint64_t, kSourceCount> count_{};
};

CgroupReader::CgroupReader(CgroupReaderOptions options)
    : options_(std::move(options)), files_(std::make_unique<Files>()) {
  try {
    auto loc = LocateCgroup(options_.roots);
    if (!loc.ok()) {
      locate_error_ = Error{"cannot locate the cgroup: " + loc.error().message};
      Log()->warn("cgroup: {}; cgroup signals are absent until it can be located", locate_error_->message);
      return;
    }
    Adopt(std::move(*loc));
    if (location_.version == 0) {
      Log()->info("cgroup: no memory cgroup found for pid {}; cgroup memory signals are absent",
                  options_.roots.pid);
    } else {
      Log()->info("cgroup: v{} memory cgroup {} at {}; pids: {}; pressure: {}", location_.version,
                  location_.path, location_.memory_dir,
                  location_.pids_dir.empty() ? "none" : location_.pids_dir,
                  location_.pressure_file.empty() ? "none" : location_.pressure_file);
    }
  } catch (const std::exception& e) {
    locate_error_ = Error{std::string("cannot locate the cgroup: ") + e.what()};
  } catch (...) {
    locate_error_ = Error{"cannot locate the cgroup: unknown exception"};
  }
}

CgroupReader::~CgroupReader() = default;

std::chrono::steady_clock::time_point CgroupReader::Now() const {
  return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

void CgroupReader::Adopt(CgroupLocation location) {
  location_ = std::move(location);
  locate_error_.reset();
  auto f = std::make_unique<Files>();
  const std::string& dir = location_.memory_dir;
  if (location_.version == 1) {
    f->usage = Required(dir, "memory.usage_in_bytes");
    f->limit = Required(dir, "memory.limit_in_bytes");
    f->stat = Required(dir, "memory.stat");
    f->failcnt = Required(dir, "memory.failcnt");
    f->oom_control = Required(dir, "memory.oom_control");
    f->memsw = Optional(dir, "memory.memsw.usage_in_bytes");
    f->kmem = Optional(dir, "memory.kmem.usage_in_bytes");
    f->kmem_tcp = Optional(dir, "memory.kmem.tcp.usage_in_bytes");
  } else if (location_.version == 2) {
    f->usage = Required(dir, "memory.current");
    f->limit = Required(dir, "memory.max");
    f->high = Required(dir, "memory.high");
    f->stat = Required(dir, "memory.stat");
    f->events = Required(dir, "memory.events");
    f->swap = Optional(dir, "memory.swap.current");
    // Ancestors strictly between the mount root (the root cgroup has no memory.max) and the cgroup itself.
    const std::string& mount = location_.memory_mount_dir;
    if (dir.size() > mount.size() && dir.compare(0, mount.size(), mount) == 0) {
      for (size_t pos = dir.find('/', mount.size() + 1); pos != std::string::npos;
           pos = dir.find('/', pos + 1)) {
        if (auto file = Optional(dir.substr(0, pos), "memory.max"))
          f->ancestor_limits.push_back(std::move(file));
      }
    }
  }
  if (!location_.pids_dir.empty()) {
    f->pids_current = Required(location_.pids_dir, "pids.current");
    f->pids_max = Required(location_.pids_dir, "pids.max");
  }
  if (!location_.pressure_file.empty()) f->pressure = std::make_unique<ReusableFile>(location_.pressure_file);
  files_ = std::move(f);
}

bool CgroupReader::MaybeRelocate() {
  const auto now = Now();
  if (last_relocate_ && now - *last_relocate_ < options_.relocate_interval) return false;
  last_relocate_ = now;
  auto loc = LocateCgroup(options_.roots);
  if (!loc.ok()) {
    if (locate_error_) locate_error_ = Error{"cannot locate the cgroup: " + loc.error().message};
    return false;
  }
  // Only a move of the process to another cgroup is followed. A file vanishing from the same cgroup (or PSI
  // becoming unavailable) keeps the current files, so the failure stays visible.
  const CgroupLocation& old = location_;
  const bool moved = locate_error_.has_value() || loc->version != old.version || loc->path != old.path ||
                     loc->memory_dir != old.memory_dir ||
                     (!loc->pids_dir.empty() && loc->pids_dir != old.pids_dir);
  if (!moved) return false;
  Log()->info("cgroup: now in v{} memory cgroup {} (was v{} {})", loc->version, loc->path, old.version,
              old.path.empty() ? "none" : old.path);
  Adopt(std::move(*loc));
  return true;
}

void CgroupReader::Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) {
  try {
    Pending pending;
    ClearOwnedSignals(tick, snapshot);
    ReadAll(tick, snapshot, &pending);
    if (pending.any() && MaybeRelocate()) {
      ClearOwnedSignals(tick, snapshot);
      pending.Clear();
      ReadAll(tick, snapshot, &pending);
    }
    pending.ReportTo(errors);
  } catch (const std::exception& e) {
    errors.Report(Source::kCgroupMemory,
                  Error{std::string("cgroup reader: unexpected exception: ") + e.what()});
  } catch (...) {
    errors.Report(Source::kCgroupMemory, Error{"cgroup reader: unexpected exception"});
  }
}

void CgroupReader::ReadAll(TickKind tick, Snapshot* snapshot, Pending* pending) {
  snapshot->cgroup_version = location_.version;
  snapshot->cgroup_path = location_.path;
  if (locate_error_) {
    pending->Add(Source::kCgroupMemory, *locate_error_);
    return;
  }
  if (location_.version == 1) ReadMemoryV1(tick, snapshot, pending);
  if (location_.version == 2) ReadMemoryV2(tick, snapshot, pending);
  if (files_->pids_current) ReadPids(snapshot, pending);
  if (tick == TickKind::kSlow && files_->pressure) ReadPressure(snapshot, pending);
}

void CgroupReader::ReadMemoryV1(TickKind tick, Snapshot* s, Pending* p) {
  constexpr Source kSrc = Source::kCgroupMemory;
  constexpr Source kDetail = Source::kCgroupMemoryDetail;
  Files& f = *files_;
  const auto usage = p->Value(*f.usage, kSrc);
  const auto limit = p->Limit(*f.limit, kSrc);
  const bool have_stat = p->Flat(*f.stat, kSrc, &stat_);

  SetBytes(s, Signal::kCgroupMemoryUsageBytes, usage);
  if (limit) {
    if (*limit) {
      SetBytes(s, Signal::kCgroupMemoryLimitBytes, *limit);
    } else if (have_stat) {
      // Unlimited here, but an ancestor's limit applies (v1 hierarchies are always hierarchical on >= 5.x).
      auto hierarchical = stat_.Get("hierarchical_memory_limit");
      if (hierarchical && !IsUnlimitedValue(*hierarchical))
        SetBytes(s, Signal::kCgroupMemoryLimitBytes, hierarchical);
    }
  }
  if (have_stat) {
    // total_* include descendant cgroups, matching usage_in_bytes (which is hierarchical).
    const auto inactive_file = stat_.GetFirst({"total_inactive_file", "inactive_file"});
    SetBytes(s, Signal::kCgroupMemoryAnonBytes, stat_.GetFirst({"total_rss", "rss"}));
    SetBytes(s, Signal::kCgroupMemoryFileBytes, stat_.GetFirst({"total_cache", "cache"}));
    SetBytes(s, Signal::kCgroupMemoryShmemBytes, stat_.GetFirst({"total_shmem", "shmem"}));
    SetBytes(s, Signal::kCgroupMemoryInactiveFileBytes, inactive_file);
    if (usage && inactive_file) {
      SetBytes(s, Signal::kCgroupMemoryWorkingSetBytes,
               *usage > *inactive_file ? *usage - *inactive_file : 0);
    }
  }
  if (tick != TickKind::kSlow) return;
  if (f.kmem) SetBytes(s, Signal::kCgroupMemoryKernelBytes, p->Value(*f.kmem, kDetail));
  if (f.kmem_tcp) SetBytes(s, Signal::kCgroupMemorySockBytes, p->Value(*f.kmem_tcp, kDetail));
  if (f.memsw) {
    // memsw = memory + swap, read a moment after usage: clamp the difference at 0.
    const auto memsw = p->Value(*f.memsw, kDetail);
    if (memsw && usage) SetBytes(s, Signal::kCgroupMemorySwapBytes, *memsw > *usage ? *memsw - *usage : 0);
  }
  SetBytes(s, Signal::kCgroupMemoryEventsMaxTotal, p->Value(*f.failcnt, kDetail));
  FlatKeyedFile& oom = events_;
  if (p->Flat(*f.oom_control, kDetail, &oom)) {
    SetBytes(s, Signal::kCgroupMemoryEventsOomKillTotal, oom.Get("oom_kill"));
  }
}

void CgroupReader::ReadMemoryV2(TickKind tick, Snapshot* s, Pending* p) {
  constexpr Source kSrc = Source::kCgroupMemory;
  constexpr Source kDetail = Source::kCgroupMemoryDetail;
  Files& f = *files_;
  const auto usage = p->Value(*f.usage, kSrc);
  SetBytes(s, Signal::kCgroupMemoryUsageBytes, usage);

  // The effective limit is the smallest memory.max on the way up; any unreadable level makes it unknown.
  std::optional<uint64_t> limit;
  bool limit_known = true;
  auto take = [&](ReusableFile& file) {
    const auto v = p->Limit(file, kSrc);
    if (!v)
      limit_known = false;
    else if (*v && (!limit || **v < *limit))
      limit = **v;
  };
  take(*f.limit);
  for (auto& ancestor : f.ancestor_limits) take(*ancestor);
  if (limit_known) SetBytes(s, Signal::kCgroupMemoryLimitBytes, limit);

  if (const auto high = p->Limit(*f.high, kSrc)) SetBytes(s, Signal::kCgroupMemoryHighBytes, *high);

  if (p->Flat(*f.stat, kSrc, &stat_)) {
    const auto inactive_file = stat_.Get("inactive_file");
    SetBytes(s, Signal::kCgroupMemoryAnonBytes, stat_.Get("anon"));
    SetBytes(s, Signal::kCgroupMemoryFileBytes, stat_.Get("file"));
    if (tick == TickKind::kSlow) {
      SetBytes(s, Signal::kCgroupMemoryKernelBytes, stat_.Get("kernel"));  // kernels >= 5.18
      SetBytes(s, Signal::kCgroupMemorySockBytes, stat_.Get("sock"));
    }
    SetBytes(s, Signal::kCgroupMemoryShmemBytes, stat_.Get("shmem"));
    SetBytes(s, Signal::kCgroupMemoryInactiveFileBytes, inactive_file);
    if (usage && inactive_file) {
      SetBytes(s, Signal::kCgroupMemoryWorkingSetBytes,
               *usage > *inactive_file ? *usage - *inactive_file : 0);
    }
  }
  if (tick != TickKind::kSlow) return;
  if (p->Flat(*f.events, kDetail, &events_)) {
    SetBytes(s, Signal::kCgroupMemoryEventsLowTotal, events_.Get("low"));
    SetBytes(s, Signal::kCgroupMemoryEventsHighTotal, events_.Get("high"));
    SetBytes(s, Signal::kCgroupMemoryEventsMaxTotal, events_.Get("max"));
    SetBytes(s, Signal::kCgroupMemoryEventsOomTotal, events_.Get("oom"));
    SetBytes(s, Signal::kCgroupMemoryEventsOomKillTotal, events_.Get("oom_kill"));
  }
  if (f.swap) SetBytes(s, Signal::kCgroupMemorySwapBytes, p->Value(*f.swap, kDetail));
}

void CgroupReader::ReadPids(Snapshot* s, Pending* p) {
  constexpr Source kSrc = Source::kCgroupPids;
  SetBytes(s, Signal::kCgroupPidsCurrent, p->Value(*files_->pids_current, kSrc));
  if (const auto max = p->Limit(*files_->pids_max, kSrc)) SetBytes(s, Signal::kCgroupPidsMax, *max);
}

void CgroupReader::ReadPressure(Snapshot* s, Pending* p) {
  ReusableFile& file = *files_->pressure;
  auto text = file.Read();
  if (!text.ok()) {
    p->Add(Source::kPressure, text.error());
    return;
  }
  auto psi = ParsePressure(*text);
  if (!psi.ok()) {
    p->Add(Source::kPressure, Error{file.path() + ": " + psi.error().message});
    return;
  }
  constexpr double kMicrosPerSecond = 1e6;
  s->set(Signal::kMemoryPressureSomeAvg10, psi->some.avg10);
  s->set(Signal::kMemoryPressureSomeAvg60, psi->some.avg60);
  s->set(Signal::kMemoryPressureSomeAvg300, psi->some.avg300);
  s->set(Signal::kMemoryPressureSomeSecondsTotal, static_cast<double>(psi->some.total_us) / kMicrosPerSecond);
  if (psi->full) {
    s->set(Signal::kMemoryPressureFullAvg10, psi->full->avg10);
    s->set(Signal::kMemoryPressureFullAvg60, psi->full->avg60);
    s->set(Signal::kMemoryPressureFullAvg300, psi->full->avg300);
    s->set(Signal::kMemoryPressureFullSecondsTotal,
           static_cast<double>(psi->full->total_us) / kMicrosPerSecond);
  }
}

}  // namespace leakwatch::internal
