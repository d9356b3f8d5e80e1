#include "agent/cgroup/cgroup_location.h"

#include <sys/stat.h>

#include <vector>

#include "agent/cgroup/cgroup_parse.h"
#include "agent/common/file_reader.h"
#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

struct MappedMount {
  const CgroupMount* mount = nullptr;
  std::string mount_dir;  // mount_prefix + mount point
  std::string cgroup_dir;
};

// The mount of `fstype` (having super option `option` unless empty) whose root contains `cgroup_path`; the
// longest root wins, then the first in mountinfo order. *any_mount says whether any mount of that hierarchy
// exists at all (to tell "not mounted" from "mounted elsewhere").
std::optional<MappedMount> FindMount(const std::vector<CgroupMount>& mounts, std::string_view fstype,
                                     std::string_view option, const std::string& cgroup_path,
                                     const std::string& mount_prefix, bool* any_mount) {
  std::optional<MappedMount> best;
  size_t best_root_len = 0;
  *any_mount = false;
  for (const auto& m : mounts) {
    if (m.fstype != fstype || (!option.empty() && !m.HasOption(option))) continue;
    *any_mount = true;
    std::string mount_dir = JoinPath(mount_prefix, m.mount_point);
    auto dir = MapCgroupPath(cgroup_path, m.root, mount_dir);
    if (!dir) continue;
    if (!best || m.root.size() > best_root_len) {
      best = MappedMount{&m, std::move(mount_dir), std::move(*dir)};
      best_root_len = m.root.size();
    }
  }
  return best;
}

// Whether <dir>/cgroup.controllers lists `controller`. A missing file reads as "no".
bool ControllersList(const std::string& dir, std::string_view controller) {
  auto text = ReadFile(JoinPath(dir, "cgroup.controllers"), 64 * 1024);
  if (!text.ok()) return false;
  std::string_view rest = *text;
  std::string_view field;
  while (NextField(&rest, &field)) {
    if (field == controller) return true;
  }
  return false;
}

}  // namespace

std::string JoinPath(std::string_view a, std::string_view b) {
  while (!a.empty() && a.back() == '/') a.remove_suffix(1);
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  std::string out(a);
  if (!b.empty() || out.empty()) out += '/';
  out += b;
  return out;
}

Result<CgroupLocation> LocateCgroup(const CgroupRoots& roots) {
  const std::string proc_dir = JoinPath(roots.proc_root, roots.pid);
  const std::string cgroup_file = JoinPath(proc_dir, "cgroup");
  auto cgroup_text = ReadFile(cgroup_file);
  if (!cgroup_text.ok()) return cgroup_text.error();
  auto entries = ParseProcCgroup(*cgroup_text);
  if (!entries.ok()) return Error{cgroup_file + ": " + entries.error().message};

  const std::string mountinfo_file = JoinPath(proc_dir, "mountinfo");
  auto mountinfo_text = ReadFile(mountinfo_file, 64 << 20);
  if (!mountinfo_text.ok()) return mountinfo_text.error();
  const std::vector<CgroupMount> mounts = ParseMountInfo(*mountinfo_text);

  const ProcCgroupEntry* v1_memory = nullptr;
  const ProcCgroupEntry* v1_pids = nullptr;
  const ProcCgroupEntry* unified = nullptr;
  for (const auto& e : *entries) {
    if (e.IsUnified()) unified = &e;
    else if (e.hierarchy_id != 0 && e.HasController("memory")) v1_memory = &e;
    else if (e.hierarchy_id != 0 && e.HasController("pids")) v1_pids = &e;
  }
  // v1 "pids" may share a hierarchy with "memory" (mounted together).
  if (v1_memory != nullptr && v1_memory->HasController("pids")) v1_pids = v1_memory;

  CgroupLocation loc;
  const std::string system_pressure = JoinPath(roots.proc_root, "pressure/memory");
  if (Exists(system_pressure)) loc.pressure_file = system_pressure;

  // The unified hierarchy, when mounted and containing the process's cgroup.
  std::optional<MappedMount> v2;
  if (unified != nullptr) {
    bool any = false;
    v2 = FindMount(mounts, "cgroup2", "", unified->path, roots.mount_prefix, &any);
  }

  if (v1_memory != nullptr) {
    bool any = false;
    auto m = FindMount(mounts, "cgroup", "memory", v1_memory->path, roots.mount_prefix, &any);
    if (m) {
      loc.version = 1;
      loc.path = v1_memory->path;
      loc.memory_dir = std::move(m->cgroup_dir);
      loc.memory_mount_dir = std::move(m->mount_dir);
    } else if (any) {
      return Error{mountinfo_file + ": the memory cgroup " + v1_memory->path + " (from " + cgroup_file +
                   ") is not below the root of any mounted cgroup v1 memory hierarchy"};
    }
  }
  // The true root cgroup of v2 has no memory.current (its usage is the whole machine's): treat a process there as
  // outside any memory cgroup rather than failing every tick. A container's cgroup namespace shows its own
  // cgroup at the mount point, and that one has the file.
  const bool v2_root_without_memory_files =
      v2 && v2->cgroup_dir == v2->mount_dir && !Exists(JoinPath(v2->cgroup_dir, "memory.current"));
  if (loc.version == 0 && v2 && !v2_root_without_memory_files && ControllersList(v2->mount_dir, "memory")) {
    loc.version = 2;
    loc.path = unified->path;
    loc.memory_dir = v2->cgroup_dir;
    loc.memory_mount_dir = v2->mount_dir;
    const std::string cgroup_pressure = JoinPath(loc.memory_dir, "memory.pressure");
    if (Exists(cgroup_pressure)) loc.pressure_file = cgroup_pressure;
  }

  std::optional<MappedMount> pids;
  if (v1_pids != nullptr) {
    bool any = false;
    pids = FindMount(mounts, "cgroup", "pids", v1_pids->path, roots.mount_prefix, &any);
  }
  if (!pids && v2 && ControllersList(v2->mount_dir, "pids")) pids = v2;
  // The root cgroup of a hierarchy has no pids.current/pids.max (a process outside any pids cgroup, as on our
  // build machines). A cgroup shown at the mount point may still be a real one (a container's cgroup namespace
  // or bind mount), so only there does the file decide; elsewhere missing pids files are read errors.
  if (pids && (pids->cgroup_dir != pids->mount_dir || Exists(JoinPath(pids->cgroup_dir, "pids.current")))) {
    loc.pids_dir = std::move(pids->cgroup_dir);
  }

  return loc;
}

}  // namespace leakwatch::internal
