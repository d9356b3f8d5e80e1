#pragma once
// Reading ELF images safely: bounds-checked reads, and the GNU build id from the bytes of one PT_NOTE segment
// (in a file, or mapped in memory). Shared by the loaded-object list (in memory) and the symbol reader (on
// disk).
//
// Thread-safety: pure functions. Cost: one pass over the segment's notes.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace leakwatch::internal {

// Copies the T at `offset` of `bytes` into *out; false (and nothing read) when it does not fit.
template <typename T>
bool ReadElfAt(std::string_view bytes, uint64_t offset, T* out) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(out, bytes.data() + offset, sizeof(T));
  return true;
}

// True when [offset, offset + size) lies inside `bytes` (no overflow).
inline bool ElfRangeInBounds(std::string_view bytes, uint64_t offset, uint64_t size) {
  return offset <= bytes.size() && size <= bytes.size() - offset;
}

// The NT_GNU_BUILD_ID among the notes of one PT_NOTE segment as lower-case hex, or "" when there is none.
// `align` is the segment's p_align: notes are padded to 4 bytes, or 8 for .note.gnu.property segments. Every
// read is bounds-checked against `notes`.
std::string GnuBuildIdInNotes(std::string_view notes, uint64_t align);

}  // namespace leakwatch::internal
