#include "agent/profile/pprof_symbolizer.h"

#include <cstdio>
#include <exception>
#include <unordered_map>
#include <utility>

#include "agent/profile/elf_symbols.h"

namespace leakwatch::internal {
namespace {

using Clock = std::chrono::steady_clock;

// The locations of one file, with the mappings they are in.
struct ObjectLocations {
  std::string path;
  std::string build_id;                 // the first non-empty build id of its mappings
  const PprofMapping* first = nullptr;  // for the map_files fallback
  std::vector<size_t> locations;        // indices in profile.locations
};

class Report {
 public:
  explicit Report(PprofSymbolizeReport& r) : r_(r) {}
  void Unsymbolized(const std::string& object, const std::string& why, uint64_t n = 1) {
    if (n == 0) return;
    r_.unsymbolized_locations += n;
    for (auto& u : r_.unsymbolized) {
      if (u.object == object && u.why == why) {
        u.locations += n;
        return;
      }
    }
    r_.unsymbolized.push_back({object, why, n});
  }

 private:
  PprofSymbolizeReport& r_;
};

std::string MapFilesPath(const std::string& dir, const PprofMapping& m) {
  char name[64];
  std::snprintf(name, sizeof name, "/%llx-%llx", static_cast<unsigned long long>(m.memory_start),
                static_cast<unsigned long long>(m.memory_limit));
  return dir + name;
}

struct OpenedObject {
  MappedElfFile file;
  ElfImage image;
};

// The object's file checked against its build id; the error says why not.
Result<OpenedObject> OpenChecked(const std::string& path, const std::string& build_id,
                                 const PprofSymbolizeOptions& options) {
  auto file = MappedElfFile::Open(path, options.max_file_bytes);
  if (!file.ok()) return file.error();
  auto image = ElfImage::Parse(file->bytes());
  if (!image.ok()) return Error{path + ": " + image.error().message};
  if (!build_id.empty() && image->build_id() != build_id) {
    return Error{path + ": build id " + (image->build_id().empty() ? "missing" : image->build_id()) +
                 ", the process mapped " + build_id + " (the file was replaced after it was loaded)"};
  }
  file->ForgetPagesOf(*image);
  return OpenedObject{std::move(*file), std::move(*image)};
}

void SymbolizeObject(PprofProfile& profile, const ObjectLocations& object,
                     const std::unordered_map<uint64_t, size_t>& mapping_index,
                     std::unordered_map<std::string, uint64_t>& function_ids,
                     const PprofSymbolizeOptions& options, PprofSymbolizeReport& report) {
  Report out(report);
  const uint64_t n = object.locations.size();
  if (Clock::now() >= options.deadline) {
    out.Unsymbolized(object.path, "the deadline passed", n);
    return;
  }
  auto opened = OpenChecked(object.path, object.build_id, options);
  if (!opened.ok() && !options.map_files_dir.empty()) {
    auto fallback = OpenChecked(MapFilesPath(options.map_files_dir, *object.first), object.build_id, options);
    if (fallback.ok()) {
      opened = std::move(fallback);
    } else {
      opened = Error{opened.error().message + "; " + fallback.error().message};
    }
  }
  if (!opened.ok()) {
    out.Unsymbolized(object.path, opened.error().message, n);
    return;
  }
  ++report.objects_read;
  const ElfImage& image = opened->image;
  if (image.symbol_table().empty()) {
    out.Unsymbolized(object.path, "no .symtab or .dynsym", n);
    return;
  }
  std::vector<uint64_t> addresses;
  std::vector<size_t> queried;  // indices in profile.locations, parallel to addresses
  for (const size_t i : object.locations) {
    const PprofLocation& l = profile.locations[i];
    const PprofMapping& m = profile.mappings[mapping_index.at(l.mapping_id)];
    const auto address = image.AddressOfFileOffset(l.address - m.memory_start + m.file_offset);
    if (!address) {
      out.Unsymbolized(object.path, "address outside the file's loadable segments");
      continue;
    }
    addresses.push_back(*address);
    queried.push_back(i);
  }
  ElfLookupLimits limits;
  limits.max_symbols = options.max_symbols;
  limits.deadline = options.deadline;
  auto found = image.FindFunctions(addresses, limits);
  if (!found.ok()) {
    out.Unsymbolized(object.path, std::string(image.symbol_table()) + ": " + found.error().message,
                     queried.size());
    return;
  }
  for (size_t q = 0; q < queried.size(); ++q) {
    const ElfFunction& f = (*found)[q];
    if (f.name.empty()) {
      out.Unsymbolized(object.path,
                       "no function symbol in " + std::string(image.symbol_table()) + " covers the address");
      continue;
    }
    auto [it, added] = function_ids.try_emplace(object.path + '\0' + f.name, profile.functions.size() + 1);
    if (added) profile.functions.push_back({it->second, DemangleFunctionName(f.name), f.name, "", 0});
    PprofLocation& l = profile.locations[queried[q]];
    l.lines = {PprofLine{it->second, 0}};
    profile.mappings[mapping_index.at(l.mapping_id)].has_functions = true;
    ++report.symbolized_locations;
  }
}

}  // namespace

PprofSymbolizeReport SymbolizePprof(PprofProfile& profile, const PprofSymbolizeOptions& options) {
  PprofSymbolizeReport report;
  Report out(report);
  std::unordered_map<uint64_t, size_t> mapping_index;
  for (size_t i = 0; i < profile.mappings.size(); ++i) mapping_index.emplace(profile.mappings[i].id, i);
  std::vector<ObjectLocations> objects;
  std::unordered_map<std::string, size_t> object_index;
  for (size_t i = 0; i < profile.locations.size(); ++i) {
    const PprofLocation& l = profile.locations[i];
    if (!l.lines.empty()) {
      ++report.symbolized_locations;
      continue;
    }
    const auto m = mapping_index.find(l.mapping_id);
    if (l.mapping_id == 0 || m == mapping_index.end()) {
      out.Unsymbolized("", "outside every executable mapping");
      continue;
    }
    const PprofMapping& mapping = profile.mappings[m->second];
    if (mapping.filename.empty() || mapping.filename.front() != '/') {
      out.Unsymbolized(mapping.filename, "not a file");
      continue;
    }
    auto [it, added] = object_index.try_emplace(mapping.filename, objects.size());
    if (added) objects.push_back({mapping.filename, "", &mapping, {}});
    ObjectLocations& o = objects[it->second];
    if (o.build_id.empty()) o.build_id = mapping.build_id;
    o.locations.push_back(i);
  }
  std::unordered_map<std::string, uint64_t> function_ids;
  for (const auto& f : profile.functions) function_ids.emplace(f.system_name, f.id);
  for (const auto& o : objects) {
    // Each object on its own: a failure (std::bad_alloc at worst) leaves only its locations unnamed.
    const uint64_t before = report.symbolized_locations + report.unsymbolized_locations;
    try {
      SymbolizeObject(profile, o, mapping_index, function_ids, options, report);
    } catch (const std::exception& e) {
      const uint64_t done = report.symbolized_locations + report.unsymbolized_locations - before;
      out.Unsymbolized(o.path, std::string("failed: ") + e.what(), o.locations.size() - done);
    }
  }
  return report;
}

}  // namespace leakwatch::internal
