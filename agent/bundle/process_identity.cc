#include "agent/bundle/process_identity.h"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

#include "agent/cgroup/cgroup_location.h"
#include "agent/common/file_reader.h"
#include "agent/profile/loaded_objects.h"

namespace leakwatch::internal {

std::string MainProgramBuildId() {
  const auto objects = ListLoadedObjects();  // the main program first
  return objects.empty() ? std::string() : objects.front().build_id;
}

ProcessIdentity ReadProcessIdentity(const std::string& proc_root, const std::string& pid) {
  ProcessIdentity id;
  const bool self = pid == "self" || pid == std::to_string(::getpid());
  id.pid = self ? static_cast<int>(::getpid()) : std::atoi(pid.c_str());
  const std::string dir = JoinPath(proc_root, pid);
  char target[PATH_MAX];
  const ssize_t n = ::readlink(JoinPath(dir, "exe").c_str(), target, sizeof target - 1);
  if (n > 0) id.executable.assign(target, static_cast<size_t>(n));
  if (auto cmdline = ReadFile(JoinPath(dir, "cmdline"), 64 * 1024)) {
    size_t start = 0;
    const std::string& text = *cmdline;
    while (start < text.size()) {
      const size_t end = text.find('\0', start);
      id.command_line.push_back(
          text.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  if (self) id.build_id = MainProgramBuildId();
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) == 0) id.hostname = host;
  return id;
}

}  // namespace leakwatch::internal
