#include "cli/program_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace leakwatch::cli {
namespace {

constexpr size_t kHeadBytes = 256 * 1024;
constexpr uint32_t kPtInterp = 3;

uint64_t ReadUint(std::string_view bytes, size_t offset, size_t size, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) {
    const auto b = static_cast<uint8_t>(bytes[offset + (big_endian ? i : size - 1 - i)]);
    v = (v << 8) | b;
  }
  return v;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

}  // namespace

std::optional<std::string> ResolveProgram(const std::string& name,
                                          const std::optional<std::string>& path_env) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return name;
  const std::string path = path_env.value_or("/bin:/usr/bin");
  std::optional<std::string> not_executable;
  size_t start = 0;
  for (;;) {
    const size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    const std::string candidate = dir.empty() ? name : dir + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
    if (!not_executable && Exists(candidate)) not_executable = candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return not_executable;
}

ElfLinkage ClassifyElf(std::string_view head) {
  if (head.size() < 16 || head.substr(0, 4) != std::string_view("\x7f"
                                                                "ELF",
                                                                4))
    return ElfLinkage::kNotElf;
  const auto elf_class = static_cast<uint8_t>(head[4]);
  const auto data = static_cast<uint8_t>(head[5]);
  if ((elf_class != 1 && elf_class != 2) || (data != 1 && data != 2)) return ElfLinkage::kMalformed;
  const bool is64 = elf_class == 2;
  const bool be = data == 2;
  const size_t header_size = is64 ? 64 : 52;
  if (head.size() < header_size) return ElfLinkage::kMalformed;
  const uint64_t phoff = is64 ? ReadUint(head, 32, 8, be) : ReadUint(head, 28, 4, be);
  const uint64_t phentsize = ReadUint(head, is64 ? 54 : 42, 2, be);
  const uint64_t phnum = ReadUint(head, is64 ? 56 : 44, 2, be);
  if (phnum == 0xffff || phentsize < 4 || phoff > head.size()) return ElfLinkage::kMalformed;
  if (phnum > (head.size() - phoff) / phentsize) return ElfLinkage::kMalformed;
  for (uint64_t i = 0; i < phnum; ++i) {
    if (ReadUint(head, static_cast<size_t>(phoff + i * phentsize), 4, be) == kPtInterp) {
      return ElfLinkage::kDynamic;
    }
  }
  return ElfLinkage::kStatic;
}

std::optional<std::string> SecureExecReason(const FileCredentials& file, const CallerIds& caller) {
  if ((file.mode & S_ISUID) && file.uid != caller.uid) {
    return "it is set-user-ID (to uid " + std::to_string(file.uid) + ")";
  }
  if ((file.mode & S_ISGID) && (file.mode & S_IXGRP) && file.gid != caller.gid) {
    return "it is set-group-ID (to gid " + std::to_string(file.gid) + ")";
  }
  if (file.has_file_capabilities && caller.uid != 0) return "it has file capabilities";
  return std::nullopt;
}

std::optional<std::string> CheckProgram(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // exec reports it (e.g. execute-only files are still runnable)
  struct stat st {};
  std::string head(kHeadBytes, '\0');
  size_t got = 0;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    while (got < head.size()) {
      const ssize_t n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
  }
  const bool has_caps = ::fgetxattr(fd, "security.capability", nullptr, 0) > 0;
  ::close(fd);
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  head.resize(got);

  if (auto secure = SecureExecReason(
          FileCredentials{
              .mode = st.st_mode, .uid = st.st_uid, .gid = st.st_gid, .has_file_capabilities = has_caps},
          CallerIds{.uid = ::getuid(), .gid = ::getgid()})) {
    return path + ": " + *secure +
           ", so it runs in secure-execution mode where the dynamic loader ignores LD_PRELOAD and the agent "
           "would not load";
  }
  if (ClassifyElf(head) == ElfLinkage::kStatic) {
    return path +
           ": statically linked (no PT_INTERP program header): no dynamic loader runs, so LD_PRELOAD cannot "
           "load the agent; link the agent into the program instead";
  }
  return std::nullopt;
}

}  // namespace leakwatch::cli
