// ELF symbol tables (agent/profile/elf_symbols.h) and the symbolization of pprof profiles from them
// (agent/profile/pprof_symbolizer.h), on real objects: this test binary (PIE, .symtab), libc.so.6 (.dynsym
// only), a non-PIE helper; on copies with another build id, on garbage and truncated files, and on small
// synthetic images for the rules of sizes and aliases.
#include "agent/profile/elf_symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/profile/loaded_objects.h"
#include "agent/profile/pprof_symbolizer.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::elf_test {
// noinline and external: a frame of its own with a symbol of its own.
__attribute__((noinline)) int SymbolizerTarget(int x) {
  asm volatile("" ::: "memory");
  return x * 3 + 1;
}
}  // namespace leakwatch::elf_test

namespace leakwatch::internal {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct FindState {
  uint64_t address = 0;
  PprofMapping mapping;
  bool found = false;
};

int FindSegment(dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<FindState*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const uint64_t start = info->dlpi_addr + ph.p_vaddr;
    if (s->address < start || s->address >= start + ph.p_memsz) continue;
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    s->mapping.memory_start = start & ~(page - 1);
    s->mapping.memory_limit = (start + ph.p_memsz + page - 1) & ~(page - 1);
    s->mapping.file_offset = ph.p_offset & ~(page - 1);
    s->mapping.filename = info->dlpi_name != nullptr && info->dlpi_name[0] != '\0'
                              ? fs::canonical(info->dlpi_name).string()
                              : fs::canonical("/proc/self/exe").string();
    s->found = true;
    return 1;
  }
  return 0;
}

// The mapping the loader made for the executable segment of the object holding `code`, as the memory map
// shows it (page-aligned start and offset), with the object's path and build id.
PprofMapping MappingOf(const void* code, uint64_t id = 1) {
  FindState s;
  s.address = reinterpret_cast<uint64_t>(code);
  dl_iterate_phdr(&FindSegment, &s);
  EXPECT_TRUE(s.found);
  s.mapping.id = id;
  const auto objects = ListLoadedObjects();
  if (const LoadedObject* o = FindCodeOwner(objects, s.address)) s.mapping.build_id = o->build_id;
  return s.mapping;
}

// A profile of one location per address, all in `mapping`.
PprofProfile ProfileOf(const PprofMapping& mapping, const std::vector<uint64_t>& addresses) {
  PprofProfile p;
  p.mappings = {mapping};
  for (const uint64_t a : addresses) p.locations.push_back({p.locations.size() + 1, mapping.id, a, {}});
  return p;
}

std::string FunctionAt(const PprofProfile& p, size_t location) {
  const auto& l = p.locations.at(location);
  if (l.lines.empty()) return "";
  for (const auto& f : p.functions) {
    if (f.id == l.lines[0].function_id) return f.name;
  }
  return "?";
}

const void* LibcMalloc() {
  void* libc = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(libc, nullptr);
  void* f = libc != nullptr ? ::dlsym(libc, "malloc") : nullptr;
  if (libc != nullptr) ::dlclose(libc);
  return f;
}

TEST(ElfSymbolsTest, TheTestBinaryNamesItsOwnFunctionAndHasItsBuildId) {
  const void* target = reinterpret_cast<const void*>(&elf_test::SymbolizerTarget);
  const PprofMapping m = MappingOf(target);
  auto file = MappedElfFile::Open(m.filename, 4ull << 30);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto image = ElfImage::Parse(file->bytes());
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ(image->build_id(), m.build_id);
  EXPECT_FALSE(image->build_id().empty());
  EXPECT_EQ(image->symbol_table(), ".symtab");
  // Inside the function, as a return address minus one would be.
  const uint64_t runtime = reinterpret_cast<uint64_t>(target) + 1;
  const auto address = image->AddressOfFileOffset(runtime - m.memory_start + m.file_offset);
  ASSERT_TRUE(address.has_value());
  const std::vector<uint64_t> query = {*address, 0};
  auto found = image->FindFunctions(query, {});
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ((*found)[0].name, "_ZN9leakwatch8elf_test16SymbolizerTargetEi");
  EXPECT_EQ((*found)[0].start, *address - 1);
  EXPECT_EQ((*found)[1].name, "");
}

TEST(ElfSymbolsTest, SymbolizesAPieExecutableAndASharedLibrary) {
  const void* target = reinterpret_cast<const void*>(&elf_test::SymbolizerTarget);
  const void* malloc_fn = LibcMalloc();
  ASSERT_NE(malloc_fn, nullptr);
  PprofProfile p;
  p.mappings = {MappingOf(target, 1), MappingOf(malloc_fn, 2)};
  ASSERT_NE(p.mappings[0].filename, p.mappings[1].filename);
  p.locations = {{1, 1, reinterpret_cast<uint64_t>(target) + 4, {}},
                 {2, 2, reinterpret_cast<uint64_t>(malloc_fn) + 2, {}},
                 {3, 0, 0x1234, {}}};
  const PprofSymbolizeReport r = SymbolizePprof(p, {});
  EXPECT_EQ(r.symbolized_locations, 2u);
  EXPECT_EQ(r.unsymbolized_locations, 1u);
  EXPECT_EQ(r.objects_read, 2u);
  EXPECT_EQ(FunctionAt(p, 0), "leakwatch::elf_test::SymbolizerTarget");
  EXPECT_THAT(FunctionAt(p, 1), AnyOf("malloc", "__libc_malloc", "__malloc"));
  EXPECT_EQ(FunctionAt(p, 2), "");
  ASSERT_EQ(p.functions.size(), 2u);
  EXPECT_EQ(p.functions[0].system_name, "_ZN9leakwatch8elf_test16SymbolizerTargetEi");
  EXPECT_TRUE(p.mappings[0].has_functions);
  EXPECT_TRUE(p.mappings[1].has_functions);
  ASSERT_EQ(r.unsymbolized.size(), 1u);
  EXPECT_EQ(r.unsymbolized[0].why, "outside every executable mapping");
}

#ifdef LEAKWATCH_NOPIE_HELPER_PATH
TEST(ElfSymbolsTest, SymbolizesANonPieExecutable) {
  // The helper prints the run-time address of its own noinline function: link-time and run-time addresses
  // are the same in a non-PIE executable.
  FILE* out = ::popen(LEAKWATCH_NOPIE_HELPER_PATH, "r");
  ASSERT_NE(out, nullptr);
  unsigned long long runtime = 0;
  ASSERT_EQ(std::fscanf(out, "%llx", &runtime), 1);
  ::pclose(out);
  auto file = MappedElfFile::Open(LEAKWATCH_NOPIE_HELPER_PATH, 1ull << 30);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto image = ElfImage::Parse(file->bytes());
  ASSERT_TRUE(image.ok()) << image.error().message;
  PprofMapping m;
  m.id = 1;
  m.filename = LEAKWATCH_NOPIE_HELPER_PATH;
  m.build_id = image->build_id();
  for (const auto& s : image->load_segments()) {
    if (!s.executable) continue;
    ASSERT_GE(s.vaddr, 0x400000u) << "not a non-PIE executable";
    m.memory_start = s.vaddr & ~uint64_t{0xfff};
    m.memory_limit = s.vaddr + s.filesz;
    m.file_offset = s.offset & ~uint64_t{0xfff};
  }
  PprofProfile p = ProfileOf(m, {runtime});
  const PprofSymbolizeReport r = SymbolizePprof(p, {});
  EXPECT_EQ(r.symbolized_locations, 1u) << (r.unsymbolized.empty() ? "" : r.unsymbolized[0].why);
  EXPECT_EQ(FunctionAt(p, 0), "NonPieTarget");
}
#endif

TEST(ElfSymbolsTest, AReplacedFileIsNotUsedAndMapFilesIsTriedInstead) {
  const void* malloc_fn = LibcMalloc();
  ASSERT_NE(malloc_fn, nullptr);
  const PprofMapping real = MappingOf(malloc_fn);
  ASSERT_FALSE(real.build_id.empty());
  test_support::TempTree tree;
  PprofMapping copy = real;
  copy.filename = tree.Path("libc.so.6");
  fs::copy_file(real.filename, copy.filename);

  // Same bytes, same build id: symbolized.
  PprofProfile same = ProfileOf(copy, {reinterpret_cast<uint64_t>(malloc_fn) + 1});
  EXPECT_EQ(SymbolizePprof(same, {}).symbolized_locations, 1u);

  // The process mapped another build: the file on disk is not that object.
  PprofMapping other = copy;
  other.build_id = "0123456789abcdef0123456789abcdef01234567";
  PprofProfile replaced = ProfileOf(other, {reinterpret_cast<uint64_t>(malloc_fn) + 1});
  PprofSymbolizeReport r = SymbolizePprof(replaced, {});
  EXPECT_EQ(r.symbolized_locations, 0u);
  EXPECT_EQ(r.unsymbolized_locations, 1u);
  ASSERT_EQ(r.unsymbolized.size(), 1u);
  EXPECT_THAT(r.unsymbolized[0].why, HasSubstr("the file was replaced"));
  EXPECT_TRUE(replaced.functions.empty());
  EXPECT_FALSE(replaced.mappings[0].has_functions);

  // A deleted path, the mapped file still reachable as map_files/<start>-<limit>.
  PprofMapping deleted = real;
  deleted.filename = tree.Path("gone.so (deleted)");
  const std::string map_files = tree.Path("map_files");
  fs::create_directories(map_files);
  char name[64];
  std::snprintf(name, sizeof name, "%llx-%llx", static_cast<unsigned long long>(real.memory_start),
                static_cast<unsigned long long>(real.memory_limit));
  fs::create_symlink(real.filename, map_files + "/" + name);
  PprofProfile fallback = ProfileOf(deleted, {reinterpret_cast<uint64_t>(malloc_fn) + 1});
  PprofSymbolizeOptions o;
  o.map_files_dir = map_files;
  r = SymbolizePprof(fallback, o);
  EXPECT_EQ(r.symbolized_locations, 1u);
  EXPECT_THAT(FunctionAt(fallback, 0), AnyOf("malloc", "__libc_malloc", "__malloc"));
}

TEST(ElfSymbolsTest, GarbageTruncatedAndMissingFilesAreErrorsNotCrashes) {
  EXPECT_EQ(ElfImage::Parse("").error().message, "not an ELF file");
  EXPECT_EQ(ElfImage::Parse("hello, world: not an object file at all").error().message, "not an ELF file");
  const void* malloc_fn = LibcMalloc();
  ASSERT_NE(malloc_fn, nullptr);
  const PprofMapping m = MappingOf(malloc_fn);
  const std::string libc = ReadAll(m.filename);
  ASSERT_GT(libc.size(), 4096u);
  // Every prefix length class: headers cut, program headers cut, section headers gone.
  for (size_t n : {size_t{4}, size_t{16}, size_t{63}, size_t{64}, size_t{100}, size_t{1000}, size_t{4096},
                   libc.size() / 2, libc.size() - 1}) {
    const std::string cut = libc.substr(0, n);
    auto image = ElfImage::Parse(cut);
    if (!image.ok()) continue;  // an error is fine
    const std::vector<uint64_t> q = {0x1000, 0x2000};
    auto found = image->FindFunctions(q, {});  // must not read past the end either
    (void)found;
  }
  // Section headers pointing past the end.
  std::string bad = libc;
  Elf64_Ehdr eh;
  std::memcpy(&eh, bad.data(), sizeof eh);
  eh.e_shoff = bad.size() - 8;
  std::memcpy(bad.data(), &eh, sizeof eh);
  EXPECT_EQ(ElfImage::Parse(bad).error().message, "section headers out of the file");

  test_support::TempTree tree;
  {
    std::ofstream out(tree.Path("garbage.so"), std::ios::binary);
    out << "\x7f"
           "ELF garbage garbage garbage";
  }
  PprofMapping g = m;
  g.filename = tree.Path("garbage.so");
  g.build_id = "";
  PprofProfile p = ProfileOf(g, {m.memory_start + 16});
  PprofSymbolizeReport r = SymbolizePprof(p, {});
  EXPECT_EQ(r.unsymbolized_locations, 1u);
  ASSERT_EQ(r.unsymbolized.size(), 1u);
  EXPECT_THAT(r.unsymbolized[0].why, HasSubstr("ELF"));

  g.filename = tree.Path("missing.so");
  p = ProfileOf(g, {m.memory_start + 16});
  r = SymbolizePprof(p, {});
  EXPECT_EQ(r.unsymbolized_locations, 1u);
  EXPECT_THAT(r.unsymbolized.at(0).why, HasSubstr("No such file"));

  g.filename = "[vdso]";
  p = ProfileOf(g, {m.memory_start + 16});
  r = SymbolizePprof(p, {});
  EXPECT_EQ(r.unsymbolized.at(0).why, "not a file");
}

TEST(ElfSymbolsTest, LimitsLeaveLocationsUnsymbolizedWithAReason) {
  const void* malloc_fn = LibcMalloc();
  ASSERT_NE(malloc_fn, nullptr);
  const PprofMapping m = MappingOf(malloc_fn);
  const uint64_t a = reinterpret_cast<uint64_t>(malloc_fn) + 1;
  PprofSymbolizeOptions o;
  o.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  PprofProfile p = ProfileOf(m, {a, a + 1});
  PprofSymbolizeReport r = SymbolizePprof(p, o);
  EXPECT_EQ(r.unsymbolized_locations, 2u);
  EXPECT_EQ(r.objects_read, 0u);
  EXPECT_EQ(r.unsymbolized.at(0).why, "the deadline passed");
  EXPECT_EQ(r.unsymbolized.at(0).locations, 2u);

  o = {};
  o.max_file_bytes = 1000;
  p = ProfileOf(m, {a});
  r = SymbolizePprof(p, o);
  EXPECT_THAT(r.unsymbolized.at(0).why, HasSubstr("more than the 1000 allowed"));

  o = {};
  o.max_symbols = 10;
  p = ProfileOf(m, {a});
  r = SymbolizePprof(p, o);
  EXPECT_THAT(r.unsymbolized.at(0).why, HasSubstr("more than 10 function symbols"));
}

// A minimal ELF64 image: one executable PT_LOAD (vaddr 0x10000 at file offset 0x1000) and a .symtab.
struct SyntheticSymbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  unsigned char bind = STB_GLOBAL;
  unsigned char type = STT_FUNC;
};

std::string SyntheticElf(const std::vector<SyntheticSymbol>& symbols) {
  std::string strtab(1, '\0');
  std::vector<Elf64_Sym> syms(1);  // index 0: the null symbol
  for (const auto& s : symbols) {
    Elf64_Sym e{};
    e.st_name = static_cast<uint32_t>(strtab.size());
    strtab += s.name + '\0';
    e.st_info = ELF64_ST_INFO(s.bind, s.type);
    e.st_shndx = 1;
    e.st_value = s.value;
    e.st_size = s.size;
    syms.push_back(e);
  }
  std::string out(0x1000, '\0');
  const uint64_t symtab_at = out.size();
  out.append(reinterpret_cast<const char*>(syms.data()), syms.size() * sizeof(Elf64_Sym));
  const uint64_t strtab_at = out.size();
  out += strtab;
  while (out.size() % 8 != 0) out.push_back('\0');
  const uint64_t shdr_at = out.size();
  Elf64_Shdr sh[3]{};
  sh[1].sh_type = SHT_SYMTAB;
  sh[1].sh_offset = symtab_at;
  sh[1].sh_size = syms.size() * sizeof(Elf64_Sym);
  sh[1].sh_entsize = sizeof(Elf64_Sym);
  sh[1].sh_link = 2;
  sh[2].sh_type = SHT_STRTAB;
  sh[2].sh_offset = strtab_at;
  sh[2].sh_size = strtab.size();
  out.append(reinterpret_cast<const char*>(sh), sizeof sh);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_type = ET_DYN;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 1;
  eh.e_shoff = shdr_at;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 3;
  Elf64_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_flags = PF_R | PF_X;
  ph.p_offset = 0x1000;
  ph.p_vaddr = 0x10000;
  ph.p_filesz = 0x1000;
  ph.p_memsz = 0x1000;
  std::memcpy(out.data(), &eh, sizeof eh);
  std::memcpy(out.data() + sizeof eh, &ph, sizeof ph);
  return out;
}

std::vector<std::string> Names(const ElfImage& image, const std::vector<uint64_t>& addresses) {
  auto found = image.FindFunctions(addresses, {});
  EXPECT_TRUE(found.ok());
  std::vector<std::string> names;
  if (found.ok()) {
    for (const auto& f : *found) names.push_back(f.name);
  }
  return names;
}

TEST(ElfSymbolsTest, SizesZeroSizesAliasesAndSegments) {
  const std::string bytes = SyntheticElf({
      {"sized", 0x10100, 0x20},
      {"unsized", 0x10200, 0},
      {"after_unsized", 0x10300, 0x10},
      {"__libc_alias", 0x10400, 0x10},
      {"alias", 0x10400, 0x10},
      {"local_alias", 0x10400, 0x10, STB_LOCAL},
      {"data", 0x10500, 0x100, STB_GLOBAL, STT_OBJECT},
      {"ifunc", 0x10600, 0x10, STB_GLOBAL, STT_GNU_IFUNC},
      {"outer", 0x10700, 0x100},
      {"inner", 0x10780, 0x10},
  });
  auto image = ElfImage::Parse(bytes);
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ(image->symbol_table(), ".symtab");
  EXPECT_EQ(image->build_id(), "");
  EXPECT_EQ(image->AddressOfFileOffset(0x1234), 0x10234u);
  EXPECT_EQ(image->AddressOfFileOffset(0x2000), std::nullopt);
  EXPECT_EQ(image->AddressOfFileOffset(0x10), std::nullopt);
  EXPECT_EQ(Names(*image, {0x10100, 0x1011f, 0x10120, 0x100ff}),
            (std::vector<std::string>{"sized", "sized", "", ""}));
  // Size 0: up to the next function symbol.
  EXPECT_EQ(Names(*image, {0x10200, 0x102ff, 0x10300}),
            (std::vector<std::string>{"unsized", "unsized", "after_unsized"}));
  EXPECT_EQ(Names(*image, {0x10404}), (std::vector<std::string>{"alias"}));
  EXPECT_EQ(Names(*image, {0x10504, 0x10604}), (std::vector<std::string>{"", "ifunc"}));
  EXPECT_EQ(Names(*image, {0x10704, 0x10784, 0x10794}),
            (std::vector<std::string>{"outer", "inner", "outer"}));
  EXPECT_EQ(Names(*image, {}), std::vector<std::string>{});
  // A string table cut short: names past its end are not read.
  std::string cut = bytes;
  Elf64_Ehdr eh;
  std::memcpy(&eh, cut.data(), sizeof eh);
  Elf64_Shdr str;
  std::memcpy(&str, cut.data() + eh.e_shoff + 2 * sizeof str, sizeof str);
  str.sh_size = 3;
  std::memcpy(cut.data() + eh.e_shoff + 2 * sizeof str, &str, sizeof str);
  auto short_strings = ElfImage::Parse(cut);
  ASSERT_TRUE(short_strings.ok());
  EXPECT_EQ(Names(*short_strings, {0x10104}), (std::vector<std::string>{""}));
}

TEST(ElfSymbolsTest, DemangledNamesLoseTheirParameters) {
  EXPECT_EQ(DemangleFunctionName("_ZN9leakwatch11integration15LeakingFunctionEPPcmm"),
            "leakwatch::integration::LeakingFunction");
  EXPECT_EQ(DemangleFunctionName("_ZNKSt6vectorIiSaIiEE4sizeEv"),
            "std::vector<int, std::allocator<int> >::size");
  EXPECT_EQ(DemangleFunctionName("_Z3fooi.cold"), "foo");
  EXPECT_EQ(DemangleFunctionName("_ZN12_GLOBAL__N_14workEv"), "(anonymous namespace)::work");
  EXPECT_EQ(DemangleFunctionName("_Znwm"), "operator new");
  EXPECT_EQ(DemangleFunctionName("malloc"), "malloc");
  EXPECT_EQ(DemangleFunctionName("main"), "main");
}

}  // namespace
}  // namespace leakwatch::internal
