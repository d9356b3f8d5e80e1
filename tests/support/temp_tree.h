#pragma once
// TempTree: a fresh directory under $TMPDIR for one test, removed with everything in it at the end;
// optionally starting as a copy of a fixture tree (tests/fixtures/<fixture>). Header-only; for test targets
// made by leakwatch_add_test (they define LEAKWATCH_FIXTURES_DIR).
//
// Paths given to Path/Write/Remove/ReadText are relative to dir(). Not thread-safe; one per test.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#ifndef LEAKWATCH_FIXTURES_DIR
#error "tests/support/temp_tree.h needs LEAKWATCH_FIXTURES_DIR (set by leakwatch_add_test)"
#endif

namespace leakwatch::test_support {

// <fixtures>/<relative>, e.g. FixturePath("cgroup-v1/proc").
inline std::string FixturePath(const std::string& relative) {
  return std::string(LEAKWATCH_FIXTURES_DIR) + "/" + relative;
}

class TempTree {
 public:
  // An empty directory. Throws std::system_error if it cannot be made (the test then fails).
  TempTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "leakwatch-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    dir_ = pattern;
  }
  // A copy of <fixtures>/<fixture> (its content becomes the content of dir()).
  explicit TempTree(const std::string& fixture) : TempTree() {
    std::filesystem::copy(FixturePath(fixture), dir_, std::filesystem::copy_options::recursive);
  }
  ~TempTree() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  // Writes (replaces) the file, creating missing parent directories; returns its full path.
  std::string Write(const std::string& rel, const std::string& content) const {
    const std::string path = Path(rel);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return path;
  }
  // Removes a file or a whole directory; a test failure when there is nothing to remove.
  void Remove(const std::string& rel) const {
    ASSERT_TRUE(std::filesystem::remove_all(Path(rel)) > 0) << "nothing to remove at " << Path(rel);
  }
  // The file's content; empty when it cannot be read.
  std::string ReadText(const std::string& rel) const {
    std::ifstream in(Path(rel), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string dir_;
};

}  // namespace leakwatch::test_support
