#include "agent/attach/discovery_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

namespace leakwatch::internal {
namespace {

std::string Cause(int error) { return std::strerror(error); }

}  // namespace

std::string DiscoveryJson(const DiscoveryTarget& target) {
  nlohmann::json labels = nlohmann::json::object();
  if (!target.program.empty()) labels["leakwatch_program"] = target.program;
  if (!target.role.empty()) labels["leakwatch_role"] = target.role;
  if (target.pid > 0) labels["__meta_leakwatch_pid"] = std::to_string(target.pid);
  if (target.start_ticks > 0) labels["__meta_leakwatch_start_ticks"] = std::to_string(target.start_ticks);
  const nlohmann::json doc = nlohmann::json::array(
      {{{"targets", {target.host + ":" + std::to_string(target.port)}}, {"labels", labels}}});
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string DiscoveryFilePath(const std::string& dir, long pid) {
  return dir + (dir.empty() || dir.back() == '/' ? "" : "/") + "leakwatch-" + std::to_string(pid) + ".json";
}

Status WriteDiscoveryFile(const std::string& path, const DiscoveryTarget& target) {
  const std::string text = DiscoveryJson(target);
  // Prometheus ignores files that do not match its glob, so the temporary name ends differently.
  const std::string temporary = path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Error{"discovery file " + temporary + ": cannot create: " + Cause(errno)};
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return Error{"discovery file " + temporary + ": cannot write: " + Cause(error)};
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return Error{"discovery file " + path + ": cannot rename " + temporary + " to it: " + Cause(error)};
  }
  return OkStatus();
}

Status RemoveDiscoveryFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Error{"discovery file " + path + ": cannot remove: " + Cause(errno)};
  }
  return OkStatus();
}

std::optional<unsigned long long> ProcessStartTicks(const std::string& proc_root, long pid) {
  std::ifstream in(proc_root + "/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close_paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && (fields >> field); ++i) {
    if (i == 22) {
      try {
        return std::stoull(field);
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

int SweepStaleDiscoveryFiles(const std::string& dir, const std::string& proc_root) {
  int removed = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    constexpr std::string_view kPrefix = "leakwatch-", kSuffix = ".json";
    if (name.size() <= kPrefix.size() + kSuffix.size() || name.rfind(kPrefix, 0) != 0 ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    const std::string digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) {
      continue;
    }
    const long pid = std::stol(digits);
    bool stale = false;
    const auto running_since = ProcessStartTicks(proc_root, pid);
    if (!running_since) {
      stale = access((proc_root + "/" + digits).c_str(), F_OK) != 0;
    } else {
      std::ifstream in(it->path());
      const auto doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (doc.is_array() && !doc.empty() && doc[0].is_object() && doc[0].contains("labels") &&
          doc[0]["labels"].is_object() && doc[0]["labels"].contains("__meta_leakwatch_start_ticks")) {
        const auto& recorded = doc[0]["labels"]["__meta_leakwatch_start_ticks"];
        stale = recorded.is_string() && recorded.get<std::string>() != std::to_string(*running_since);
      }
    }
    if (stale && unlink(it->path().c_str()) == 0) ++removed;
  }
  return removed;
}

std::string AdvertisedHost(const std::string& listen_host) {
  if (!listen_host.empty() && listen_host != "0.0.0.0") return listen_host;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "127.0.0.1";
  return name;
}

}  // namespace leakwatch::internal
