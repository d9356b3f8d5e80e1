#include "agent/profile/loaded_objects.h"

#include <elf.h>
#include <link.h>

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

size_t Align4(size_t n) { return (n + 3) & ~size_t{3}; }

// The NT_GNU_BUILD_ID in one PT_NOTE segment, or "".
std::string BuildIdInNotes(const unsigned char* p, size_t size) {
  while (size >= sizeof(ElfW(Nhdr))) {
    ElfW(Nhdr) note;
    std::memcpy(&note, p, sizeof note);
    const size_t total = sizeof note + Align4(note.n_namesz) + Align4(note.n_descsz);
    if (total > size) break;
    const unsigned char* name = p + sizeof note;
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
      return Hex(name + Align4(note.n_namesz), note.n_descsz);
    }
    p += total;
    size -= total;
  }
  return "";
}

int AddObject(dl_phdr_info* info, size_t /*size*/, void* data) {
  auto* out = static_cast<std::vector<LoadedObject>*>(data);
  LoadedObject o;
  o.name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  o.base = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0 && ph.p_memsz > 0) {
      const uint64_t start = info->dlpi_addr + ph.p_vaddr;
      o.code.push_back({start, start + ph.p_memsz});
    } else if (ph.p_type == PT_NOTE && o.build_id.empty()) {
      o.build_id =
          BuildIdInNotes(reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr), ph.p_memsz);
    }
  }
  out->push_back(std::move(o));
  return 0;
}

}  // namespace

std::vector<LoadedObject> ListLoadedObjects() {
  std::vector<LoadedObject> objects;
  dl_iterate_phdr(&AddObject, &objects);
  return objects;
}

const LoadedObject* FindCodeOwner(const std::vector<LoadedObject>& objects, uint64_t address) {
  for (const auto& o : objects) {
    for (const auto& r : o.code) {
      if (r.Contains(address)) return &o;
    }
  }
  return nullptr;
}

}  // namespace leakwatch::internal
