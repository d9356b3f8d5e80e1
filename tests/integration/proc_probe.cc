#include "tests/integration/proc_probe.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace leakwatch::integration {
namespace {

std::string ProcDir(pid_t pid) { return "/proc/" + std::to_string(pid); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<uint64_t> ToU64(const std::string& s) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0') return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<uint64_t> ReadVmRssBytes(pid_t pid) {
  const auto text = ReadWholeFile(ProcDir(pid) + "/status");
  if (!text) return std::nullopt;
  for (const auto& line : Lines(*text)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    const auto w = Words(line);  // "VmRSS:", "1234", "kB"
    if (w.size() != 3 || w[2] != "kB") return std::nullopt;
    const auto kib = ToU64(w[1]);
    if (!kib) return std::nullopt;
    return *kib * 1024;
  }
  return std::nullopt;
}

std::optional<uint64_t> CountDirEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  uint64_t n = 0;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  closedir(d);
  return n;
}

std::optional<uint64_t> ReadSoftNofile(pid_t pid) {
  const auto text = ReadWholeFile(ProcDir(pid) + "/limits");
  if (!text) return std::nullopt;
  for (const auto& line : Lines(*text)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    const auto w = Words(line.substr(std::string("Max open files").size()));  // soft, hard, "files"
    if (w.empty()) return std::nullopt;
    if (w[0] == "unlimited") return UINT64_MAX;
    return ToU64(w[0]);
  }
  return std::nullopt;
}

std::optional<double> ReadStartTimeSeconds(pid_t pid) {
  const auto stat = ReadWholeFile(ProcDir(pid) + "/stat");
  const auto proc_stat = ReadWholeFile("/proc/stat");
  if (!stat || !proc_stat) return std::nullopt;
  // comm (field 2) may hold spaces and ')': fields resume after the last ')'.
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  const auto rest = Words(stat->substr(close + 1));  // rest[0] is field 3 (state); starttime is field 22
  if (rest.size() < 20) return std::nullopt;
  const auto start_ticks = ToU64(rest[22 - 3]);
  std::optional<uint64_t> btime;
  for (const auto& line : Lines(*proc_stat)) {
    const auto w = Words(line);
    if (w.size() == 2 && w[0] == "btime") btime = ToU64(w[1]);
  }
  const long hz = sysconf(_SC_CLK_TCK);
  if (!start_ticks || !btime || hz <= 0) return std::nullopt;
  return static_cast<double>(*btime) + static_cast<double>(*start_ticks) / static_cast<double>(hz);
}

std::optional<MemoryCgroup> FindMemoryCgroup(pid_t pid) {
  const auto cgroups = ReadWholeFile(ProcDir(pid) + "/cgroup");
  const auto mountinfo = ReadWholeFile("/proc/self/mountinfo");
  if (!cgroups || !mountinfo) return std::nullopt;
  std::optional<std::string> v1_path;
  std::optional<std::string> v2_path;
  for (const auto& line : Lines(*cgroups)) {  // "4:memory:/a/b", "0::/a/b"
    const auto c1 = line.find(':');
    const auto c2 = line.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    const std::string controllers = "," + line.substr(c1 + 1, c2 - c1 - 1) + ",";
    const std::string path = line.substr(c2 + 1);
    if (line.substr(0, c1) == "0" && controllers == ",,")
      v2_path = path;
    else if (controllers.find(",memory,") != std::string::npos)
      v1_path = path;
  }
  std::optional<MemoryCgroup> v2;
  for (const auto& line : Lines(*mountinfo)) {
    // "36 25 0:32 <root> <mount point> <options> [optional fields] - <fstype> <source> <super options>"
    const auto w = Words(line);
    size_t dash = 0;
    while (dash < w.size() && w[dash] != "-") ++dash;
    if (w.size() < 5 || dash + 3 >= w.size()) continue;
    const std::string& root = w[3];
    const std::string& mount_point = w[4];
    const std::string& fstype = w[dash + 1];
    const std::string super_options = "," + w[dash + 3] + ",";
    auto join = [&](const std::string& path) -> std::optional<std::string> {
      if (root == "/") return mount_point + (path == "/" ? "" : path);
      if (path.rfind(root, 0) != 0) return std::nullopt;  // the cgroup is outside what this mount shows
      return mount_point + path.substr(root.size());
    };
    if (fstype == "cgroup" && v1_path && super_options.find(",memory,") != std::string::npos) {
      if (auto dir = join(*v1_path)) return MemoryCgroup{1, *dir};
    }
    if (fstype == "cgroup2" && v2_path && !v2) {
      const auto controllers = ReadWholeFile(mount_point + "/cgroup.controllers");
      if (controllers && (" " + *controllers + " ").find(" memory") != std::string::npos) {
        if (auto dir = join(*v2_path)) v2 = MemoryCgroup{2, *dir};
      }
    }
  }
  return v2;
}

bool ReadCgroupLimit(const std::string& path, std::optional<uint64_t>* value) {
  const auto text = ReadWholeFile(path);
  if (!text) return false;
  const auto w = Words(*text);
  if (w.size() != 1) return false;
  if (w[0] == "max") {
    value->reset();
    return true;
  }
  const auto v = ToU64(w[0]);
  if (!v) return false;
  if (*v >= (uint64_t{1} << 62))
    value->reset();
  else
    *value = *v;
  return true;
}

std::optional<uint64_t> ReadKeyedValue(const std::string& path, const std::string& key) {
  const auto text = ReadWholeFile(path);
  if (!text) return std::nullopt;
  for (const auto& line : Lines(*text)) {
    const auto w = Words(line);
    if (w.size() == 2 && w[0] == key) return ToU64(w[1]);
  }
  return std::nullopt;
}

std::optional<uint64_t> ReadU64File(const std::string& path) {
  const auto text = ReadWholeFile(path);
  if (!text) return std::nullopt;
  const auto w = Words(*text);
  if (w.size() != 1) return std::nullopt;
  return ToU64(w[0]);
}

}  // namespace leakwatch::integration
