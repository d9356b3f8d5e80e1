#include "agent/profile/loaded_objects.h"

#include <elf.h>
#include <link.h>

#include <cstring>

#include "agent/profile/elf_notes.h"

namespace leakwatch::internal {
namespace {

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
      o.build_id = GnuBuildIdInNotes(
          std::string_view(reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr), ph.p_memsz),
          ph.p_align);
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
