#include "cli/preload.h"

#include <sys/stat.h>

#include <filesystem>

namespace leakwatch::cli {

std::string MakeAbsolute(const std::string& path, const std::string& cwd) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(cwd) / p;
  std::string out = p.lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::vector<std::string> PreloadCandidates(const std::string& exe_dir, const std::string& multiarch) {
  const std::string lib = exe_dir + "/../lib/";
  std::vector<std::string> out = {MakeAbsolute(lib + kPreloadLibraryName, "/"),
                                  MakeAbsolute(lib + "leakwatch/" + kPreloadLibraryName, "/")};
  if (!multiarch.empty()) out.push_back(MakeAbsolute(lib + multiarch + "/" + kPreloadLibraryName, "/"));
  return out;
}

Result<std::string> FindPreloadLibrary(const PreloadSearch& search,
                                       const std::function<bool(const std::string&)>& exists) {
  const auto explicit_path = [&](const std::string& given, const std::string& origin) -> Result<std::string> {
    const std::string path = MakeAbsolute(given, search.cwd);
    if (given.empty() || !exists(path)) {
      return Error{"the preload library named by " + origin + " (\"" + given + "\") is not a file"};
    }
    return path;
  };
  if (search.option) return explicit_path(*search.option, "--preload");
  if (search.env && !search.env->empty()) return explicit_path(*search.env, "LEAKWATCH_PRELOAD");
  std::string looked;
  for (const std::string& candidate : PreloadCandidates(search.exe_dir, search.multiarch)) {
    if (exists(candidate)) return candidate;
    looked += "\n  " + candidate;
  }
  return Error{std::string("cannot find the preload library ") + kPreloadLibraryName +
               "; looked at:" + looked + "\n(pass --preload PATH or set LEAKWATCH_PRELOAD)"};
}

std::string ComposeLdPreload(const std::string& library, const std::optional<std::string>& existing) {
  std::string out = library;
  if (!existing) return out;
  const auto file_name = [](const std::string& path) { return path.substr(path.rfind('/') + 1); };
  const std::string name = file_name(library);
  std::string entry;
  const auto flush = [&] {
    if (!entry.empty() && file_name(entry) != name) out += " " + entry;
    entry.clear();
  };
  for (const char c : *existing) {
    if (c == ' ' || c == ':' || c == '\t' || c == '\n') {
      flush();
    } else {
      entry += c;
    }
  }
  flush();
  return out;
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace leakwatch::cli
