#include "agent/profile/elf_symbols.h"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "agent/profile/elf_notes.h"

namespace leakwatch::internal {
namespace {

using Clock = std::chrono::steady_clock;

bool IsFunction(const Elf64_Sym& s) {
  const unsigned type = ELF64_ST_TYPE(s.st_info);
  return (type == STT_FUNC || type == STT_GNU_IFUNC) && s.st_shndx != SHN_UNDEF && s.st_value != 0;
}

// Among symbols at one address, lower is better: global, then weak, then local; fewer leading underscores;
// shorter; byte order.
struct Preference {
  int binding = 0;
  size_t underscores = 0;
  std::string_view name;

  bool operator<(const Preference& o) const {
    if (binding != o.binding) return binding < o.binding;
    if (underscores != o.underscores) return underscores < o.underscores;
    if (name.size() != o.name.size()) return name.size() < o.name.size();
    return name < o.name;
  }
};

struct Candidate {
  bool found = false;
  uint64_t start = 0;
  uint32_t name = 0;   // offset in the string table
  int binding = 0;     // Preference::binding
  bool sized = false;  // some symbol at `start` has a size (then it alone says where the function ends)
};

}  // namespace

Result<ElfImage> ElfImage::Parse(std::string_view bytes) {
  Elf64_Ehdr eh;
  if (!ReadElfAt(bytes, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    return Error{"not an ELF file"};
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    return Error{"not a 64-bit little-endian ELF file"};
  }
  ElfImage image;
  image.bytes_ = bytes;
  if (eh.e_phnum != 0) {
    if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
        !ElfRangeInBounds(bytes, eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr))) {
      return Error{"program headers out of the file"};
    }
    for (uint64_t i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      ReadElfAt(bytes, eh.e_phoff + i * sizeof ph, &ph);
      if (ph.p_type == PT_LOAD) {
        image.segments_.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz, (ph.p_flags & PF_X) != 0});
      } else if (ph.p_type == PT_NOTE && image.build_id_.empty() &&
                 ElfRangeInBounds(bytes, ph.p_offset, ph.p_filesz)) {
        image.build_id_ = GnuBuildIdInNotes(bytes.substr(ph.p_offset, ph.p_filesz), ph.p_align);
      }
    }
  }
  if (eh.e_shnum == 0 || eh.e_shoff == 0) return image;  // no section headers: no symbols
  if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
      !ElfRangeInBounds(bytes, eh.e_shoff, uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr))) {
    return Error{"section headers out of the file"};
  }
  const auto section = [&](uint64_t i) {
    Elf64_Shdr sh;
    ReadElfAt(bytes, eh.e_shoff + i * sizeof sh, &sh);
    return sh;
  };
  for (uint64_t i = 0; i < eh.e_shnum; ++i) {
    const Elf64_Shdr sh = section(i);
    if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) continue;
    if (sh.sh_entsize != sizeof(Elf64_Sym) || !ElfRangeInBounds(bytes, sh.sh_offset, sh.sh_size)) {
      return Error{"symbol table out of the file or malformed"};
    }
    if (sh.sh_link == 0 || sh.sh_link >= eh.e_shnum) return Error{"symbol table without a string table"};
    const Elf64_Shdr str = section(sh.sh_link);
    if (str.sh_type != SHT_STRTAB || !ElfRangeInBounds(bytes, str.sh_offset, str.sh_size)) {
      return Error{"string table out of the file or malformed"};
    }
    Table t{sh.sh_offset, sh.sh_size / sizeof(Elf64_Sym), str.sh_offset, str.sh_size};
    if (sh.sh_type == SHT_SYMTAB) {
      image.symtab_ = t;
      if ((sh.sh_flags & SHF_ALLOC) == 0) image.unmapped_ranges_.emplace_back(sh.sh_offset, sh.sh_size);
      if ((str.sh_flags & SHF_ALLOC) == 0) image.unmapped_ranges_.emplace_back(str.sh_offset, str.sh_size);
    } else {
      image.dynsym_ = t;
    }
  }
  return image;
}

std::string_view ElfImage::symbol_table() const { return symtab_ ? ".symtab" : dynsym_ ? ".dynsym" : ""; }

std::optional<uint64_t> ElfImage::AddressOfFileOffset(uint64_t offset) const {
  for (const auto& s : segments_) {
    if (offset >= s.offset && offset - s.offset < s.filesz) return s.vaddr + (offset - s.offset);
  }
  return std::nullopt;
}

Result<std::vector<ElfFunction>> ElfImage::FindFunctions(std::span<const uint64_t> addresses,
                                                         const ElfLookupLimits& limits) const {
  std::vector<ElfFunction> out(addresses.size());
  const std::optional<Table>& table = symtab_ ? symtab_ : dynsym_;
  if (!table) return out;
  // The addresses sorted, with their positions in `addresses`.
  std::vector<std::pair<uint64_t, size_t>> sorted;
  sorted.reserve(addresses.size());
  for (size_t i = 0; i < addresses.size(); ++i) sorted.emplace_back(addresses[i], i);
  std::sort(sorted.begin(), sorted.end());
  const auto first_at_or_after = [&](uint64_t a) {
    return static_cast<size_t>(std::lower_bound(sorted.begin(), sorted.end(), std::make_pair(a, size_t{0})) -
                               sorted.begin());
  };
  const std::string_view strings = bytes_.substr(table->strings, table->strings_size);
  const auto name_at = [&](uint64_t offset) -> std::string_view {
    if (offset >= strings.size()) return {};
    const std::string_view rest = strings.substr(offset);
    const size_t end = rest.find('\0');
    return end == std::string_view::npos ? std::string_view() : rest.substr(0, end);
  };
  const auto preference_of = [&](const Candidate& c) {
    Preference p;
    p.binding = c.binding;
    p.name = name_at(c.name);
    p.underscores = std::min(p.name.find_first_not_of('_'), p.name.size());
    return p;
  };
  // Folds `c` into `into`: a later start is more specific; at the same start, the preferred name is kept and
  // the sizes are pooled. Names are only read for such ties.
  const auto merge = [&](Candidate& into, const Candidate& c) {
    if (!into.found || c.start > into.start) {
      into = c;
    } else if (c.start == into.start) {
      const bool sized = into.sized || c.sized;
      if (preference_of(c) < preference_of(into)) into = c;
      into.sized = sized;
    }
  };

  // containing[k]: the best sized symbol covering sorted[k]. nearest[k]: the symbols (of any size) with the
  // greatest start among those whose first address at or after their start is sorted[k]; carried forward
  // below, it becomes the greatest start at or before each address.
  std::vector<Candidate> containing(sorted.size());
  std::vector<Candidate> nearest(sorted.size());
  uint64_t functions = 0;
  for (uint64_t i = 0; i < table->count; ++i) {
    if ((i & 0xffff) == 0xffff && Clock::now() >= limits.deadline) {
      return Error{"deadline passed while reading " + std::string(symbol_table())};
    }
    Elf64_Sym s;
    ReadElfAt(bytes_, table->offset + i * sizeof s, &s);
    if (!IsFunction(s)) continue;
    if (++functions > limits.max_symbols) {
      return Error{"more than " + std::to_string(limits.max_symbols) + " function symbols"};
    }
    const size_t k = first_at_or_after(s.st_value);
    if (k == sorted.size()) continue;
    const unsigned bind = ELF64_ST_BIND(s.st_info);
    const Candidate c{true, s.st_value, s.st_name,
                      bind == STB_GLOBAL ? 0
                      : bind == STB_WEAK ? 1
                                         : 2,
                      s.st_size > 0};
    if (s.st_size > 0) {
      const uint64_t end = s.st_value + s.st_size < s.st_value ? UINT64_MAX : s.st_value + s.st_size;
      for (size_t j = k; j < sorted.size() && sorted[j].first < end; ++j) merge(containing[j], c);
    }
    merge(nearest[k], c);
  }
  Candidate carried;
  for (size_t k = 0; k < sorted.size(); ++k) {
    if (nearest[k].found) merge(carried, nearest[k]);
    const Candidate* pick = nullptr;
    if (containing[k].found) {
      pick = &containing[k];
    } else if (carried.found && !carried.sized) {
      pick = &carried;  // only symbols of size 0 there: up to the next function symbol
    }
    if (pick != nullptr) out[sorted[k].second] = {std::string(name_at(pick->name)), pick->start};  // "": none
  }
  return out;
}

Result<MappedElfFile> MappedElfFile::Open(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return Error{path + ": " + std::strerror(e)};
  }
  std::string problem;
  if (!S_ISREG(st.st_mode)) {
    problem = "not a regular file";
  } else if (st.st_size <= 0) {
    problem = "empty file";
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    problem = std::to_string(st.st_size) + " bytes, more than the " + std::to_string(max_bytes) + " allowed";
  }
  if (!problem.empty()) {
    ::close(fd);
    return Error{path + ": " + problem};
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (data == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    return Error{path + ": mmap: " + std::strerror(e)};
  }
  return MappedElfFile(fd, data, size);
}

MappedElfFile::MappedElfFile(MappedElfFile&& o) noexcept
    : fd_(o.fd_), data_(o.data_), size_(o.size_), drop_ranges_(std::move(o.drop_ranges_)) {
  o.fd_ = -1;
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedElfFile& MappedElfFile::operator=(MappedElfFile&& o) noexcept {
  if (this != &o) {
    Release();
    fd_ = o.fd_;
    data_ = o.data_;
    size_ = o.size_;
    drop_ranges_ = std::move(o.drop_ranges_);
    o.fd_ = -1;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

MappedElfFile::~MappedElfFile() { Release(); }

void MappedElfFile::ForgetPagesOf(const ElfImage& image) { drop_ranges_ = image.unmapped_ranges_; }

void MappedElfFile::Release() {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (fd_ >= 0) {
    // Only sections no loader maps (.symtab, .strtab): dropping them cannot evict code the process runs.
    for (const auto& [offset, size] : drop_ranges_) {
      ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(size), POSIX_FADV_DONTNEED);
    }
    ::close(fd_);
  }
  data_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

std::string DemangleFunctionName(const std::string& mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), &std::free);
  if (status != 0 || demangled == nullptr) return mangled;
  std::string name = demangled.get();
  // " [clone .cold]", " [clone .isra.0]": parts of one function.
  for (size_t clone; (clone = name.rfind(" [clone ")) != std::string::npos && name.back() == ']';) {
    name.erase(clone);
  }
  // Qualifiers after the parameter list: " const", " volatile", " &", " &&".
  const size_t close = name.rfind(')');
  if (close == std::string::npos) return name;
  if (name.find_first_not_of(" constvlai&", close + 1) != std::string::npos) return name;
  int depth = 0;
  for (size_t i = close + 1; i-- > 0;) {
    if (name[i] == ')') {
      ++depth;
    } else if (name[i] == '(' && --depth == 0) {
      if (i == 0) return name;
      name.erase(i);
      return name;
    }
  }
  return name;
}

}  // namespace leakwatch::internal
