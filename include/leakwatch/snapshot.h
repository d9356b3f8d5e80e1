#pragma once
// leakwatch::Snapshot: everything one sampler tick measured, as one coherent value.
//
// All signals in a snapshot were read in the same tick, so ratios between them (usage / limit, open / max
// fds) are consistent. Signals on the slow cadence (smaps_rollup, fds by type) carry the values of the most
// recent slow tick; `slow_sequence` says which tick that was.
//
// A signal whose source failed, or that the platform does not provide (no cgroup memory limit, no PSI), is
// absent: get() returns std::nullopt, never 0.
//
// Thread-safety: a Snapshot is immutable once published by the agent (shared as
// std::shared_ptr<const Snapshot>); any number of threads may read it.
// Cost: ~1.2 KiB, trivially copyable members only except `cgroup_path` and `allocator` (a shared pointer to
// an object that changes only when the allocator's info does).

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "leakwatch/allocator.h"
#include "leakwatch/signals.h"

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
namespace leakwatch {

struct Snapshot {
  // 1 for the first tick after start(), +1 per tick (missed ticks do not consume numbers).
  uint64_t sequence = 0;
  // The tick whose slow-cadence values this snapshot carries; 0 when none was taken yet.
  uint64_t slow_sequence = 0;
  std::chrono::system_clock::time_point wall_time{};
  std::chrono::steady_clock::time_point steady_time{};

  // --- agent health, as of this tick ---
  std::chrono::nanoseconds sample_duration{0};  // wall time this tick took to read every source
  std::chrono::nanoseconds period{0};           // configured sampling period
  uint64_t samples_total = 0;                   // ticks completed since start()
  uint64_t missed_ticks_total = 0;              // deadlines skipped because a tick ran late
  std::array<uint64_t, kSourceCount> source_errors_total{};

  // --- cgroup identity (constant unless the process is moved) ---
  int cgroup_version = 0;   // 0 when no memory cgroup was found, else 1 or 2
  std::string cgroup_path;  // path of the process's memory cgroup inside its hierarchy, e.g. "/kubepods/..."

  // --- the allocator (refreshed on slow ticks); null when no allocator reader ran ---
  std::shared_ptr<const AllocatorInfo> allocator;

  std::optional<double> get(Signal s) const {
    const auto i = static_cast<size_t>(s);
    if (i >= kSignalCount || !present_[i]) return std::nullopt;
    return values_[i];
  }
  bool has(Signal s) const { return get(s).has_value(); }
  void set(Signal s, double v) {
    const auto i = static_cast<size_t>(s);
    values_[i] = v;
    present_[i] = true;
  }
  void set(Signal s, std::optional<double> v) {
    if (v)
      set(s, *v);
    else
      clear(s);
  }
  void clear(Signal s) { present_[static_cast<size_t>(s)] = false; }
  size_t present_count() const { return present_.count(); }

 private:
  std::array<double, kSignalCount> values_{};
  std::bitset<kSignalCount> present_;
};

}  // namespace leakwatch

#pragma GCC visibility pop
