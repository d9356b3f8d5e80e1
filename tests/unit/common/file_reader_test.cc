#include "agent/common/file_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "tests/support/temp_tree.h"

namespace leakwatch::internal {
namespace {

using test_support::TempTree;

std::string Pattern(size_t size) {
  std::string content(size, '\0');
  for (size_t i = 0; i < size; ++i) content[i] = static_cast<char>('a' + i % 26);
  return content;
}

TEST(FileReaderReadFile, ReadsSmallLargeAndEmptyFilesExactly) {
  TempTree tmp;
  ASSERT_FALSE(tmp.dir().empty());
  EXPECT_EQ(ReadFile(tmp.Write("small", "hello\n")).value(), "hello\n");
  EXPECT_EQ(ReadFile(tmp.Write("empty", "")).value(), "");
  const std::string large = Pattern(300 * 1024);  // several doublings of the read chunk
  EXPECT_EQ(ReadFile(tmp.Write("large", large)).value(), large);
}

TEST(FileReaderReadFile, EnforcesMaxBytes) {
  TempTree tmp;
  const std::string path = tmp.Write("ten", "0123456789");
  EXPECT_EQ(ReadFile(path, 10).value(), "0123456789");
  const Result<std::string> too_big = ReadFile(path, 9);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().message.find(path), std::string::npos) << too_big.error().message;
  EXPECT_NE(too_big.error().message.find("larger than 9 bytes"), std::string::npos)
      << too_big.error().message;
}

TEST(FileReaderReadFile, MissingFileIsAnErrorNamingPathAndCause) {
  TempTree tmp;
  const std::string path = tmp.dir() + "/missing";
  const Result<std::string> result = ReadFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, path + ": No such file or directory");
}

TEST(FileReaderReadFile, DirectoryIsAnError) {
  TempTree tmp;
  const Result<std::string> result = ReadFile(tmp.dir());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, tmp.dir() + ": Is a directory");
}

TEST(FileReaderErrnoError, NamesPathAndStrerror) {
  EXPECT_EQ(ErrnoError("/proc/1/stat", EACCES).message, "/proc/1/stat: Permission denied");
}

TEST(FileReaderReusableFile, RereadsCurrentContentWithoutStaleTail) {
  TempTree tmp;
  const std::string path = tmp.Write("value", "first value, long\n");
  ReusableFile file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.Read().value(), "first value, long\n");
  tmp.Write("value", "2\n");  // same inode, truncated and rewritten shorter
  EXPECT_EQ(file.Read().value(), "2\n");
  const std::string large = Pattern(100 * 1024);
  tmp.Write("value", large);
  EXPECT_EQ(file.Read().value(), large);
}

TEST(FileReaderReusableFile, FindsAFileThatAppearsAfterAnError) {
  TempTree tmp;
  const std::string path = tmp.dir() + "/later";
  ReusableFile file(path);
  const Result<std::string_view> missing = file.Read();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, path + ": No such file or directory");
  tmp.Write("later", "now here");
  EXPECT_EQ(file.Read().value(), "now here");
}

TEST(FileReaderReusableFile, EnforcesMaxBytesAndRecovers) {
  TempTree tmp;
  const std::string path = tmp.Write("grows", "12345");
  ReusableFile file(path, 5);
  EXPECT_EQ(file.Read().value(), "12345");
  tmp.Write("grows", "123456");
  const Result<std::string_view> too_big = file.Read();
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().message, path + ": larger than 5 bytes");
  tmp.Write("grows", "1234");
  EXPECT_EQ(file.Read().value(), "1234");
}

}  // namespace
}  // namespace leakwatch::internal
