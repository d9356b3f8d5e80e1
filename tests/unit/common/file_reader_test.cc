#include "agent/common/file_reader.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

namespace leakwatch::internal {
namespace {

// A fresh directory under $TMPDIR, removed with its content at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "leakwatch-common-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    return file;
  }

 private:
  std::string path_;
};

std::string Pattern(size_t size) {
  std::string content(size, '\0');
  for (size_t i = 0; i < size; ++i) content[i] = static_cast<char>('a' + i % 26);
  return content;
}

TEST(FileReaderReadFile, ReadsSmallLargeAndEmptyFilesExactly) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_EQ(ReadFile(dir.Write("small", "hello\n")).value(), "hello\n");
  EXPECT_EQ(ReadFile(dir.Write("empty", "")).value(), "");
  const std::string large = Pattern(300 * 1024);  // several doublings of the read chunk
  EXPECT_EQ(ReadFile(dir.Write("large", large)).value(), large);
}

TEST(FileReaderReadFile, EnforcesMaxBytes) {
  TempDir dir;
  const std::string path = dir.Write("ten", "0123456789");
  EXPECT_EQ(ReadFile(path, 10).value(), "0123456789");
  const Result<std::string> too_big = ReadFile(path, 9);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().message.find(path), std::string::npos) << too_big.error().message;
  EXPECT_NE(too_big.error().message.find("larger than 9 bytes"), std::string::npos)
      << too_big.error().message;
}

TEST(FileReaderReadFile, MissingFileIsAnErrorNamingPathAndCause) {
  TempDir dir;
  const std::string path = dir.path() + "/missing";
  const Result<std::string> result = ReadFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, path + ": No such file or directory");
}

TEST(FileReaderReadFile, DirectoryIsAnError) {
  TempDir dir;
  const Result<std::string> result = ReadFile(dir.path());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, dir.path() + ": Is a directory");
}

TEST(FileReaderErrnoError, NamesPathAndStrerror) {
  EXPECT_EQ(ErrnoError("/proc/1/stat", EACCES).message, "/proc/1/stat: Permission denied");
}

TEST(FileReaderReusableFile, RereadsCurrentContentWithoutStaleTail) {
  TempDir dir;
  const std::string path = dir.Write("value", "first value, long\n");
  ReusableFile file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.Read().value(), "first value, long\n");
  dir.Write("value", "2\n");  // same inode, truncated and rewritten shorter
  EXPECT_EQ(file.Read().value(), "2\n");
  const std::string large = Pattern(100 * 1024);
  dir.Write("value", large);
  EXPECT_EQ(file.Read().value(), large);
}

TEST(FileReaderReusableFile, FindsAFileThatAppearsAfterAnError) {
  TempDir dir;
  const std::string path = dir.path() + "/later";
  ReusableFile file(path);
  const Result<std::string_view> missing = file.Read();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, path + ": No such file or directory");
  dir.Write("later", "now here");
  EXPECT_EQ(file.Read().value(), "now here");
}

TEST(FileReaderReusableFile, EnforcesMaxBytesAndRecovers) {
  TempDir dir;
  const std::string path = dir.Write("grows", "12345");
  ReusableFile file(path, 5);
  EXPECT_EQ(file.Read().value(), "12345");
  dir.Write("grows", "123456");
  const Result<std::string_view> too_big = file.Read();
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().message, path + ": larger than 5 bytes");
  dir.Write("grows", "1234");
  EXPECT_EQ(file.Read().value(), "1234");
}

}  // namespace
}  // namespace leakwatch::internal
