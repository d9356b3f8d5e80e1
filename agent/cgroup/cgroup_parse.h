#pragma once
// Pure parsers for the cgroup files leakwatch reads: /proc/<pid>/cgroup, /proc/<pid>/mountinfo (cgroup mounts
// only), flat-keyed files (memory.stat, memory.events, memory.oom_control), single-value limit files and PSI
// pressure files. Text in, plain struct out; reading files is the caller's job.
//
// Thread-safety: every function here is pure and thread-safe.
// Cost: one pass over the text. ParseFlatKeyedFile() allocates only when the entry vector grows (reuse the
// output object to avoid that on the sampler's hot path); the others allocate the strings they return.
// Units: byte values are returned as the kernel prints them (bytes); PSI averages as ratios 0..1 (the file has
// percent) and PSI totals in microseconds (as in the file).

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::internal {

// ---------------------------------------------------------------------------------------------------------------
// /proc/<pid>/cgroup: one line per hierarchy, "hierarchy-ID:controller-list:cgroup-path" (cgroups(7)).
// v1: "4:memory:/kubepods/pod1/abc", "1:name=systemd:/"; v2 (unified): "0::/user.slice/session-1.scope".
struct ProcCgroupEntry {
  uint32_t hierarchy_id = 0;             // 0 for the v2 unified hierarchy
  std::vector<std::string> controllers;  // v1: "memory", "cpu", "name=systemd", ...; empty for v2
  std::string path;                      // as printed: relative to the reader's cgroup namespace root

  bool HasController(std::string_view name) const;
  bool IsUnified() const { return hierarchy_id == 0 && controllers.empty(); }
};

// Parses every line. Empty lines are skipped; a line without two ':' or with a non-numeric ID is an error naming
// the line number and its text. The path is everything after the second ':' (paths may contain ':').
Result<std::vector<ProcCgroupEntry>> ParseProcCgroup(std::string_view text);

// ---------------------------------------------------------------------------------------------------------------
// /proc/<pid>/mountinfo (proc(5)):
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//   (1)(2) (3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
// Only mounts of type "cgroup" (v1) and "cgroup2" are returned.
struct CgroupMount {
  std::string root;         // field 4, unescaped: the cgroup of the hierarchy shown at the mount point
  std::string mount_point;  // field 5, unescaped
  std::string fstype;       // "cgroup" or "cgroup2"
  // Field 11 split at ','. For v1 the controllers bound to the hierarchy appear here ("rw,memory",
  // "rw,cpu,cpuacct", "rw,name=systemd"); for v2 mount options ("rw,nsdelegate,memory_recursiveprot").
  std::vector<std::string> super_options;

  bool HasOption(std::string_view name) const;
};

// Lines that do not have the documented shape are skipped (mountinfo can hold thousands of unrelated mounts and
// one odd line must not hide the cgroup mounts). Octal escapes (\040 space, \011 tab, \012 newline, \134
// backslash) in root and mount point are decoded.
std::vector<CgroupMount> ParseMountInfo(std::string_view text);

// Decodes the kernel's mangle() escapes: a backslash followed by three octal digits becomes that byte; anything
// else is kept as is.
std::string UnescapeMountField(std::string_view field);

// Maps `cgroup_path` (from /proc/<pid>/cgroup) to the directory that shows it below a mount whose root field is
// `mount_root` and which is reachable at `mount_dir`. In a container the mount root is "/" (cgroup namespace) or
// the container's own cgroup (bind mount); the root prefix is stripped from the path before joining. nullopt when
// the path is not at or below the mount root, or when it contains a ".." component (a cgroup outside the
// reader's cgroup namespace, printed as "/../sibling").
std::optional<std::string> MapCgroupPath(std::string_view cgroup_path, std::string_view mount_root,
                                         std::string_view mount_dir);

// ---------------------------------------------------------------------------------------------------------------
// Flat-keyed files: "key value" per line (memory.stat, memory.events, memory.oom_control, pids.events).
//
// Holds views into the text it was parsed from: valid only while that text is alive and unchanged.
class FlatKeyedFile {
 public:
  // The value of `key`, or nullopt when the file has no such key. Linear in the number of keys (memory.stat has
  // about 60; lookups are a handful per tick).
  std::optional<uint64_t> Get(std::string_view key) const;
  // The first key of `keys` that is present.
  std::optional<uint64_t> GetFirst(std::initializer_list<std::string_view> keys) const;
  size_t size() const { return entries_.size(); }
  // Lines that were not "key unsigned-decimal" (a truncated last line, a negative or non-numeric value). They
  // are skipped: their key reads as absent.
  size_t malformed_lines() const { return malformed_lines_; }

 private:
  friend void ParseFlatKeyedFile(std::string_view text, FlatKeyedFile* out);
  std::vector<std::pair<std::string_view, uint64_t>> entries_;
  size_t malformed_lines_ = 0;
};

FlatKeyedFile ParseFlatKeyedFile(std::string_view text);
// Same, reusing *out's storage (no allocation once it has grown to the file's key count). First key wins when a
// key repeats.
void ParseFlatKeyedFile(std::string_view text, FlatKeyedFile* out);

// ---------------------------------------------------------------------------------------------------------------
// Single-value files.

// Any byte value at or above 2^62 (4 EiB) is treated as "no limit". cgroup v1 prints an unset limit as
// PAGE_COUNTER_MAX * PAGE_SIZE, i.e. LONG_MAX rounded down to the page size: 9223372036854771712 with 4 KiB pages,
// 9223372036854710272 with 64 KiB pages. No machine has 2^62 bytes, so the threshold covers every page size
// without listing them, and also catches a v2 limit someone wrote as a huge number.
inline constexpr uint64_t kUnlimitedThreshold = uint64_t{1} << 62;

// Parses a limit file (memory.max, memory.high, memory.limit_in_bytes, pids.max, memory.swap.max). "max" (v2)
// and values >= kUnlimitedThreshold (v1) are nullopt, i.e. unlimited. Surrounding whitespace is ignored.
// Error (naming the value) on anything else.
Result<std::optional<uint64_t>> ParseLimitValue(std::string_view text);

// Parses a file holding one unsigned decimal (memory.current, memory.usage_in_bytes, pids.current). Error naming
// the value on anything else, including an empty file.
Result<uint64_t> ParseSingleValue(std::string_view text);

// Whether a v1 byte value means "no limit" (see kUnlimitedThreshold).
inline bool IsUnlimitedValue(uint64_t v) { return v >= kUnlimitedThreshold; }

// ---------------------------------------------------------------------------------------------------------------
// PSI (Documentation/accounting/psi.rst):
//   some avg10=0.12 avg60=0.00 avg300=0.00 total=12345
//   full avg10=0.00 avg60=0.00 avg300=0.00 total=6789
struct PressureLine {
  double avg10 = 0;     // ratio 0..1 (the file prints percent)
  double avg60 = 0;     // ratio 0..1
  double avg300 = 0;    // ratio 0..1
  uint64_t total_us = 0;  // cumulative stall time, microseconds
};

struct Pressure {
  PressureLine some;
  std::optional<PressureLine> full;  // absent on kernels/files that print only the "some" line
};

// The "some" line is required; "full" is optional. A line missing one of avg10/avg60/avg300/total, or with a
// value that is not a non-negative decimal, is an error naming the line and the key. Unknown keys and unknown
// lines are ignored.
Result<Pressure> ParsePressure(std::string_view text);

}  // namespace leakwatch::internal
