#pragma once
// Helpers for the procfs tests: fixture paths, a temporary copy of a fixture tree, a recording ErrorSink.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "agent/common/file_reader.h"
#include "agent/sampler/source_reader.h"

namespace leakwatch::internal::testing {

inline std::string FixtureProcRoot(const std::string& tree) {
  return std::string(LEAKWATCH_FIXTURES_DIR) + "/" + tree + "/proc";
}

// The text of <fixtures>/<tree>/proc/<relative>; empty (and a failed expectation in the caller) when
// unreadable.
inline std::string ReadFixture(const std::string& tree, const std::string& relative) {
  Result<std::string> text = ReadFile(FixtureProcRoot(tree) + "/" + relative);
  return text.ok() ? std::move(text).value() : std::string();
}

// A fresh directory under $TMPDIR, removed with its content at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "leakwatch-procfs-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A writable copy of <fixtures>/<tree>/proc, so a test can remove or add files.
class TempProcTree {
 public:
  explicit TempProcTree(const std::string& tree) : root_(dir_.path() + "/proc") {
    std::filesystem::copy(FixtureProcRoot(tree), root_, std::filesystem::copy_options::recursive);
  }
  const std::string& root() const { return root_; }

  void Remove(const std::string& relative) const { std::filesystem::remove(root_ + "/" + relative); }
  void Write(const std::string& relative, const std::string& content) const {
    std::ofstream(root_ + "/" + relative, std::ios::binary | std::ios::trunc) << content;
  }
  // Creates <root>/<pid>/fd with one symlink per target, named 0, 1, 2, ... like the kernel's.
  void MakeFdDirectory(const std::string& pid, const std::vector<std::string>& targets) const {
    const std::filesystem::path fd_dir = root_ + "/" + pid + "/fd";
    std::filesystem::create_directories(fd_dir);
    for (size_t i = 0; i < targets.size(); ++i) {
      std::filesystem::create_symlink(targets[i], fd_dir / std::to_string(i));
    }
  }

 private:
  TempDir dir_;
  std::string root_;
};

class RecordingErrorSink final : public ErrorSink {
 public:
  void Report(Source source, const Error& error) override { reports.emplace_back(source, error.message); }

  size_t CountFor(Source source) const {
    size_t n = 0;
    for (const auto& report : reports) n += report.first == source ? 1 : 0;
    return n;
  }

  std::vector<std::pair<Source, std::string>> reports;
};

}  // namespace leakwatch::internal::testing
