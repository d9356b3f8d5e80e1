#include "agent/profile/elf_notes.h"

#include <elf.h>

#include <cstring>

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

}  // namespace

std::string GnuBuildIdInNotes(std::string_view notes, uint64_t align) {
  const uint64_t a = align == 8 ? 8 : 4;
  const auto up = [a](uint64_t n) { return (n + a - 1) & ~(a - 1); };
  uint64_t at = 0;
  Elf64_Nhdr note;
  while (ReadElfAt(notes, at, &note)) {
    const uint64_t name_at = at + sizeof note;
    const uint64_t desc_at = name_at + up(note.n_namesz);
    if (!ElfRangeInBounds(notes, desc_at, note.n_descsz) || !ElfRangeInBounds(notes, name_at, note.n_namesz))
      break;
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
        std::memcmp(notes.data() + name_at, "GNU", 4) == 0) {
      return Hex(reinterpret_cast<const unsigned char*>(notes.data() + desc_at), note.n_descsz);
    }
    at = desc_at + up(note.n_descsz);
  }
  return "";
}

}  // namespace leakwatch::internal
