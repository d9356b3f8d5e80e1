#include "agent/allocator/jemalloc_provider.h"

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/allocator/call_error.h"
#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

using MallctlFn = JemallocProvider::MallctlFn;

std::string CallName(const char* key) { return std::string("jemalloc mallctl(\"") + key + "\")"; }

// Reads `key` as a T. Ok(nullopt) when jemalloc does not know the key (ENOENT).
template <typename T>
Result<std::optional<T>> ReadKey(MallctlFn mallctl, const char* key) {
  T value{};
  size_t len = sizeof(T);
  const int rc = mallctl(key, &value, &len, nullptr, 0);
  if (rc == ENOENT) return std::optional<T>();
  if (rc != 0) return ErrnoCallError(CallName(key), rc);
  // jemalloc answers EINVAL on a size mismatch; a size change without an error would be a different API.
  if (len != sizeof(T)) {
    return Error{CallName(key) + " returned " + std::to_string(len) + " bytes, expected " +
                 std::to_string(sizeof(T))};
  }
  return std::optional<T>(value);
}

// jemalloc's bool is one byte; reading it into an unsigned char keeps a stray value (a fake, a different ABI)
// from becoming an invalid C++ bool.
Result<std::optional<bool>> ReadBool(MallctlFn mallctl, const char* key) {
  static_assert(sizeof(bool) == sizeof(unsigned char));
  auto v = ReadKey<unsigned char>(mallctl, key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<bool>();
  return std::optional<bool>(**v != 0);
}

// Sets *out from a size_t key; false (with *error set) on failure.
bool ReadSize(MallctlFn mallctl, const char* key, std::optional<uint64_t>* out, std::optional<Error>* error) {
  auto v = ReadKey<size_t>(mallctl, key);
  if (!v.ok()) {
    *error = v.error();
    return false;
  }
  if (*v) *out = static_cast<uint64_t>(**v);
  return true;
}

}  // namespace

std::unique_ptr<JemallocProvider> JemallocProvider::Find(const SymbolLookup& lookup) {
  auto mallctl = lookup.Function<MallctlFn>("mallctl");
  if (mallctl == nullptr) return nullptr;
  return std::make_unique<JemallocProvider>(mallctl);
}

Result<AllocatorStats> JemallocProvider::Read() {
  // Writing the epoch makes jemalloc merge the per-arena counters; without it stats.* are stale.
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  if (const int rc = mallctl_("epoch", &epoch, &len, &epoch, sizeof epoch); rc != 0) {
    return ErrnoCallError(CallName("epoch"), rc);
  }
  AllocatorStats stats;
  std::optional<Error> error;
  if (!ReadSize(mallctl_, "stats.allocated", &stats.allocated_bytes, &error) ||
      !ReadSize(mallctl_, "stats.active", &stats.active_bytes, &error) ||
      !ReadSize(mallctl_, "stats.resident", &stats.resident_bytes, &error) ||
      !ReadSize(mallctl_, "stats.mapped", &stats.mapped_bytes, &error) ||
      !ReadSize(mallctl_, "stats.retained", &stats.retained_bytes, &error) ||
      !ReadSize(mallctl_, "stats.metadata", &stats.metadata_bytes, &error)) {
    return *error;
  }
  auto narenas = ReadKey<unsigned>(mallctl_, "arenas.narenas");
  if (!narenas.ok()) return narenas.error();
  if (*narenas) stats.arenas = **narenas;
  return stats;
}

AllocatorInfo JemallocProvider::Info() {
  AllocatorInfo info;
  info.name = "jemalloc";
  std::optional<Error> first_error;
  auto note = [&](const Error& e) {
    if (!first_error) first_error = e;
  };

  if (auto v = ReadKey<const char*>(mallctl_, "version"); !v.ok()) {
    note(v.error());
  } else if (*v && **v != nullptr) {
    info.version = **v;
  }
  if (auto v = ReadBool(mallctl_, "config.prof"); !v.ok()) {
    note(v.error());
  } else {
    info.profiling_supported = v->value_or(false);
  }
  if (info.profiling_supported) {
    auto opt_prof = ReadBool(mallctl_, "opt.prof");
    auto prof_active = ReadBool(mallctl_, "prof.active");
    if (!opt_prof.ok()) note(opt_prof.error());
    if (!prof_active.ok()) note(prof_active.error());
    info.profiling_active =
        opt_prof.ok() && prof_active.ok() && opt_prof->value_or(false) && prof_active->value_or(false);
  }
  if (info.profiling_active) {
    if (auto v = ReadKey<size_t>(mallctl_, "opt.lg_prof_sample"); !v.ok()) {
      note(v.error());
    } else if (*v && **v < 64) {
      info.profiling_sample_bytes = uint64_t{1} << **v;
    } else if (*v) {
      note(Error{CallName("opt.lg_prof_sample") + " returned " + std::to_string(**v) +
                 ", not a shift below 64"});
    }
  }
  if (first_error && !info_error_logged_) {
    info_error_logged_ = true;
    Log()->warn("allocator: {}; that part of the jemalloc description stays unknown (logged once)",
                first_error->message);
  }
  return info;
}

}  // namespace leakwatch::internal
