#include "agent/bundle/bundle_store.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace leakwatch::internal {
namespace {

namespace fs = std::filesystem;

// "20261201T192712.345Z-4242-label"
bool LooksLikeBundle(const std::string& name) {
  if (name.size() < 22) return false;
  for (size_t i : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 9u, 10u, 11u, 12u, 13u, 14u, 16u, 17u, 18u}) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return name[8] == 'T' && name[15] == '.' && name[19] == 'Z' && name[20] == '-';
}

uint64_t DirectoryBytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

}  // namespace

Result<std::vector<StoredBundle>> ListBundles(const std::string& dir) {
  std::vector<StoredBundle> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  fs::directory_iterator it(dir, ec);
  if (ec) return Error{"cannot list bundle directory " + dir + ": " + ec.message()};
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return Error{"cannot list bundle directory " + dir + ": " + ec.message()};
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!it->is_directory(type_ec) || !LooksLikeBundle(name)) continue;
    StoredBundle b;
    b.name = name;
    b.path = it->path().string();
    b.bytes = DirectoryBytes(it->path());
    const auto mtime = fs::last_write_time(it->path(), type_ec);
    if (!type_ec) {
      b.modified = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
          mtime - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
    }
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(),
            [](const StoredBundle& a, const StoredBundle& b) { return a.name < b.name; });
  return out;
}

Result<RetentionResult> ApplyRetention(const std::string& dir, size_t max_bundles, uint64_t max_bytes,
                                       const std::string& keep) {
  auto bundles = ListBundles(dir);
  if (!bundles) return bundles.error();
  RetentionResult r;
  uint64_t total = 0;
  for (const auto& b : *bundles) total += b.bytes;
  size_t count = bundles->size();
  for (const auto& b : *bundles) {
    if (count <= max_bundles && total <= max_bytes) break;
    if (b.name == keep) continue;
    std::error_code ec;
    fs::remove_all(b.path, ec);
    if (ec) return Error{"cannot delete old bundle " + b.path + ": " + ec.message()};
    r.deleted.push_back(b.name);
    total -= b.bytes;
    --count;
  }
  // Leftovers of a writer that died mid-bundle.
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(".tmp-", 0) != 0) continue;
    std::error_code t_ec;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(it->path(), t_ec);
    if (!t_ec && age > std::chrono::hours(1)) fs::remove_all(it->path(), t_ec);
  }
  r.bytes_kept = total;
  r.bundles_kept = count;
  return r;
}

Result<uint64_t> FreeDiskBytes(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return Error{"statvfs " + dir + ": " + std::strerror(errno)};
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace leakwatch::internal
