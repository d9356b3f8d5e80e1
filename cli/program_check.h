#pragma once
// Whether the dynamic loader will honour LD_PRELOAD for a program, checked before `leakwatch run` execs it:
// a statically linked ELF (no PT_INTERP program header: no loader at all) and a program run in
// secure-execution mode (set-user-ID or set-group-ID to other ids, file capabilities) never load the agent.
//
// Thread-safety: pure functions, except the ones that read the file system (ResolveProgram, CheckProgram).

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::cli {

// Where execvp() would find `name`: `name` itself when it holds a '/', else the first PATH entry (an empty
// entry is the current directory; PATH unset: /bin:/usr/bin) holding an executable file by that name, else
// the first one holding a file by that name (execvp then fails with EACCES). nullopt when none.
std::optional<std::string> ResolveProgram(const std::string& name,
                                          const std::optional<std::string>& path_env);

enum class ElfLinkage {
  kNotElf,     // a script (#!) or something else: the kernel or the shell deals with it
  kDynamic,    // has PT_INTERP
  kStatic,     // an ELF without PT_INTERP (static or static-pie)
  kMalformed,  // an ELF whose program headers cannot be read from `head`
};
// Classifies the executable from its first bytes (`head` must hold the ELF header and the program header
// table, which follows it in every linker's output). 32/64-bit, either byte order.
ElfLinkage ClassifyElf(std::string_view head);

struct FileCredentials {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  bool has_file_capabilities = false;
};
struct CallerIds {
  uid_t uid = 0;  // real ids of the process that execs
  gid_t gid = 0;
};
// Why the exec would run in secure-execution mode (ld.so then ignores LD_PRELOAD), or nullopt: set-user-ID
// to another user than the caller's real uid, set-group-ID (with group execute) to another group, or file
// capabilities when the caller is not root.
std::optional<std::string> SecureExecReason(const FileCredentials& file, const CallerIds& caller);

// Reads `path` and returns nullopt when LD_PRELOAD will work for it, else why not (one sentence). A file
// that cannot be read or stat'ed is left to exec to report.
std::optional<std::string> CheckProgram(const std::string& path);

}  // namespace leakwatch::cli
