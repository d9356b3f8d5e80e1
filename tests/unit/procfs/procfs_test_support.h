#pragma once
// Helpers for the procfs tests: fixture paths and a writable copy of a fixture's proc tree. The generic
// pieces (temporary directory, recording ErrorSink) are in tests/support/.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "agent/common/file_reader.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::internal::testing {

inline std::string FixtureProcRoot(const std::string& tree) {
  return test_support::FixturePath(tree + "/proc");
}

// The text of <fixtures>/<tree>/proc/<relative>; empty (and a failed expectation in the caller) when
// unreadable.
inline std::string ReadFixture(const std::string& tree, const std::string& relative) {
  Result<std::string> text = ReadFile(FixtureProcRoot(tree) + "/" + relative);
  return text.ok() ? std::move(text).value() : std::string();
}

// A writable copy of <fixtures>/<tree>/proc, so a test can remove or add files (Write/Remove take paths
// relative to root()).
class TempProcTree : public test_support::TempTree {
 public:
  explicit TempProcTree(const std::string& tree) : TempTree(tree + "/proc") {}

  // The proc root to hand to the readers.
  const std::string& root() const { return dir(); }

  // Creates <root>/<pid>/fd with one symlink per target, named 0, 1, 2, ... like the kernel's.
  void MakeFdDirectory(const std::string& pid, const std::vector<std::string>& targets) const {
    const std::filesystem::path fd_dir = Path(pid + "/fd");
    std::filesystem::create_directories(fd_dir);
    for (size_t i = 0; i < targets.size(); ++i) {
      std::filesystem::create_symlink(targets[i], fd_dir / std::to_string(i));
    }
  }
};

}  // namespace leakwatch::internal::testing
