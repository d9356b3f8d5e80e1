#pragma once
// Helpers for the cgroup tests: a writable copy of a fixture tree and a recording ErrorSink.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "agent/cgroup/cgroup_location.h"
#include "agent/sampler/source_reader.h"

namespace leakwatch::internal::cgroup_test {

// A temporary directory, removed with everything in it on destruction. Optionally a copy of a fixture tree.
class TempTree {
 public:
  TempTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "leakwatch-cgroup-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = tmpl;
  }
  // A copy of tests/fixtures/<fixture>.
  explicit TempTree(const std::string& fixture) : TempTree() {
    std::filesystem::copy(std::filesystem::path(LEAKWATCH_FIXTURES_DIR) / fixture, dir_,
                          std::filesystem::copy_options::recursive);
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  void Write(const std::string& rel, const std::string& content) const {
    std::filesystem::create_directories(std::filesystem::path(Path(rel)).parent_path());
    std::ofstream(Path(rel), std::ios::trunc) << content;
  }
  void Remove(const std::string& rel) const {
    ASSERT_TRUE(std::filesystem::remove_all(Path(rel)) > 0) << "nothing to remove at " << Path(rel);
  }
  std::string ReadText(const std::string& rel) const {
    std::ifstream in(Path(rel));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The roots that make the readers look at this tree instead of the real system.
  CgroupRoots Roots() const { return CgroupRoots{dir_ + "/proc", "self", dir_}; }

 private:
  std::string dir_;
};

class RecordingErrorSink : public ErrorSink {
 public:
  void Report(Source source, const Error& error) override { reports.emplace_back(source, error.message); }

  size_t Count(Source source) const {
    size_t n = 0;
    for (const auto& r : reports) n += r.first == source ? 1 : 0;
    return n;
  }
  std::string Messages() const {
    std::string out;
    for (const auto& r : reports) out += std::string(SourceName(r.first)) + ": " + r.second + "\n";
    return out;
  }

  std::vector<std::pair<Source, std::string>> reports;
};

// Relative paths inside the fixture trees.
inline constexpr char kV1Memory[] = "sys/fs/cgroup/memory/leakwatch-fixture/limited";
inline constexpr char kV1MemoryUnlimited[] = "sys/fs/cgroup/memory/leakwatch-fixture/unlimited";
inline constexpr char kV1Pids[] = "sys/fs/cgroup/pids/leakwatch-fixture";
inline constexpr char kV2CgroupPath[] =
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7d3c5a4e_9b1f_4c2a_8e6d_2f0a1b3c4d5e.slice/"
    "cri-containerd-4c1f0e2d7b9a83564e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6978877665544a.scope";
inline std::string V2Dir() { return std::string("sys/fs/cgroup") + kV2CgroupPath; }
inline constexpr char kV2PodDir[] =
    "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod7d3c5a4e_9b1f_4c2a_8e6d_2f0a1b3c4d5e.slice";

}  // namespace leakwatch::internal::cgroup_test
