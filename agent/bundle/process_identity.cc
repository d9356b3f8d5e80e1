#include "agent/bundle/process_identity.h"

#include <elf.h>
#include <limits.h>
#include <link.h>
#include <unistd.h>

#include <cstring>

#include "agent/cgroup/cgroup_location.h"
#include "agent/common/file_reader.h"

namespace leakwatch::internal {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0xf]);
  }
  return out;
}

size_t Align4(size_t n) { return (n + 3) & ~size_t{3}; }

int FindBuildId(dl_phdr_info* info, size_t /*size*/, void* data) {
  // The first object reported is the main program.
  auto* out = static_cast<std::string*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    size_t left = ph.p_memsz;
    while (left >= sizeof(ElfW(Nhdr))) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const size_t total = sizeof note + Align4(note.n_namesz) + Align4(note.n_descsz);
      if (total > left) break;
      const auto* name = p + sizeof note;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        *out = Hex(name + Align4(note.n_namesz), note.n_descsz);
        return 1;
      }
      p += total;
      left -= total;
    }
  }
  return 1;  // only the main program
}

}  // namespace

std::string MainProgramBuildId() {
  std::string id;
  dl_iterate_phdr(&FindBuildId, &id);
  return id;
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
