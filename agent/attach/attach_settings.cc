#include "agent/attach/attach_settings.h"

#include <cstring>
#include <vector>

namespace leakwatch::internal {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string_view FileName(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

Result<AttachSettings> ReadAttachSettings(const EnvLookup& env) {
  AttachSettings out;
  std::vector<std::string> errors;
  const auto get = [&env](const char* name) -> std::optional<std::string> {
    auto value = env(name);
    if (value && value->empty()) return std::nullopt;
    return value;
  };
  if (auto v = get("LEAKWATCH_DISABLE")) {
    if (*v == "1" || *v == "true" || *v == "yes") {
      out.disabled = true;
    } else if (*v != "0" && *v != "false" && *v != "no") {
      errors.push_back("LEAKWATCH_DISABLE=" + Quote(*v) + ": expected 1, true, yes, 0, false or no");
    }
  }
  if (auto v = get("LEAKWATCH_FORK")) {
    if (*v == "parent") {
      out.fork = ForkMode::kParent;
    } else if (*v == "children") {
      out.fork = ForkMode::kChildren;
    } else {
      errors.push_back("LEAKWATCH_FORK=" + Quote(*v) + ": expected parent or children");
    }
  }
  if (auto v = get("LEAKWATCH_FORK_DELAY")) {
    const auto delay = ParseDuration(*v);
    if (!delay || *delay > std::chrono::hours(1)) {
      errors.push_back("LEAKWATCH_FORK_DELAY=" + Quote(*v) +
                       ": expected a duration from 0s to 1h (e.g. 500ms, 2s)");
    } else {
      out.fork_delay = *delay;
    }
  }
  if (auto v = get("LEAKWATCH_CHILD_LISTEN")) {
    if (auto listen = ParseListen(*v); !listen) {
      errors.push_back("LEAKWATCH_CHILD_LISTEN=" + Quote(*v) + ": " + listen.error().message);
    } else {
      out.child_listen = *v;
    }
  }
  if (auto v = get("LEAKWATCH_EXEC")) {
    if (*v == "clean") {
      out.exec = ExecMode::kClean;
    } else if (*v == "inherit") {
      out.exec = ExecMode::kInherit;
    } else {
      errors.push_back("LEAKWATCH_EXEC=" + Quote(*v) + ": expected clean or inherit");
    }
  }
  if (auto v = get("LEAKWATCH_DISCOVERY_DIR")) {
    if ((*v)[0] != '/') {
      errors.push_back("LEAKWATCH_DISCOVERY_DIR=" + Quote(*v) + ": expected an absolute directory path");
    } else {
      out.discovery_dir = *v;
    }
  }
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
    return Error{message};
  }
  return out;
}

std::string RemovePreloadEntry(std::string_view ld_preload, std::string_view library_path) {
  const std::string_view library_name = FileName(library_path);
  std::string out;
  size_t i = 0;
  while (i < ld_preload.size()) {
    const size_t end = ld_preload.find_first_of(" :", i);
    const std::string_view entry = ld_preload.substr(i, end == std::string_view::npos ? end : end - i);
    i = end == std::string_view::npos ? ld_preload.size() : end + 1;
    if (entry.empty()) continue;
    const bool ours = entry == library_path || (!library_name.empty() && FileName(entry) == library_name);
    if (ours) continue;
    if (!out.empty()) out += ' ';
    out += entry;
  }
  return out;
}

std::optional<std::string> FindInEnvironment(char* const* environment, std::string_view name) {
  if (environment == nullptr) return std::nullopt;
  for (char* const* e = environment; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.size() > name.size() && entry[name.size()] == '=' && entry.substr(0, name.size()) == name) {
      return std::string(entry.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

bool RemovePreloadFromEnvironment(char** environment, std::string_view library_path) {
  if (environment == nullptr) return false;
  constexpr std::string_view kName = "LD_PRELOAD=";
  for (char** e = environment; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.substr(0, kName.size()) != kName) continue;
    const std::string cleaned = RemovePreloadEntry(entry.substr(kName.size()), library_path);
    if (cleaned == entry.substr(kName.size())) return false;
    if (cleaned.empty()) {
      for (char** shift = e; *shift != nullptr; ++shift) shift[0] = shift[1];
    } else {
      const std::string replacement = std::string(kName) + cleaned;
      char* copy = new char[replacement.size() + 1];
      std::memcpy(copy, replacement.c_str(), replacement.size() + 1);
      *e = copy;
    }
    return true;
  }
  return false;
}

std::string ChildListenAddress(const AttachSettings& settings, std::string_view parent_listen) {
  if (!settings.child_listen.empty()) return settings.child_listen;
  auto parent = ParseListen(parent_listen);
  if (!parent) return "127.0.0.1:0";
  if (parent->off) return "off";
  return parent->host + ":0";
}

}  // namespace leakwatch::internal
