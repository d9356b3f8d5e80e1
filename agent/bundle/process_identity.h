#pragma once
// Who the process is, for an incident bundle's manifest: pid, executable, its GNU build id (so a heap profile
// can be symbolized offline from the right binary), command line, host name.
//
// Thread-safety: thread-safe. Cost: a few small /proc reads and one walk of the loaded objects' program
// headers (dl_iterate_phdr, agent/profile/loaded_objects.h); called once per bundle.

#include <string>
#include <vector>

namespace leakwatch::internal {

struct ProcessIdentity {
  int pid = 0;
  std::string executable;  // readlink of <proc_root>/<pid>/exe; empty when unreadable
  std::string build_id;    // lower-case hex of the main program's NT_GNU_BUILD_ID; empty when it has none
  std::vector<std::string> command_line;
  std::string hostname;
};

// `proc_root` and `pid` as for the readers; the build id is read from this process's own program headers
// when pid is "self" (or this process's pid), else left empty.
ProcessIdentity ReadProcessIdentity(const std::string& proc_root, const std::string& pid);

// The NT_GNU_BUILD_ID of the main program of this process, hex; empty when absent.
std::string MainProgramBuildId();

}  // namespace leakwatch::internal
