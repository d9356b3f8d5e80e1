#include "agent/config/config_watcher.h"

#include "agent/common/file_reader.h"

namespace leakwatch::internal {

ConfigWatcher::ConfigWatcher(std::string path, std::chrono::milliseconds check_period)
    : path_(std::move(path)), check_period_(check_period) {}

ConfigWatcher::Identity ConfigWatcher::Stat() const {
  struct stat st {};
  Identity id;
  if (::stat(path_.c_str(), &st) != 0) return id;
  id.exists = true;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return id;
}

void ConfigWatcher::MarkLoaded() { loaded_ = Stat(); }

std::optional<Result<std::string>> ConfigWatcher::Poll(TimePoint now) {
  if (check_period_.count() <= 0 || path_.empty()) return std::nullopt;
  if (checked_once_ && now < next_check_) return std::nullopt;
  checked_once_ = true;
  next_check_ = now + check_period_;
  const Identity current = Stat();
  if (current == loaded_) return std::nullopt;
  loaded_ = current;
  if (!current.exists) {
    return Result<std::string>(Error{"config file " + path_ + " cannot be found any more"});
  }
  auto text = ReadFile(path_, 4 << 20);
  if (!text) return Result<std::string>(Error{"cannot read config file " + text.error().message});
  return Result<std::string>(std::move(*text));
}

}  // namespace leakwatch::internal
