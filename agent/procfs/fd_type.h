#pragma once
// What an open file descriptor refers to, judged from its /proc/<pid>/fd/<n> symlink target. Pure function.
//
// Thread-safety: pure, thread-safe. Cost: a few prefix comparisons.

#include <cstddef>
#include <string_view>

namespace leakwatch::internal {

enum class FdType {
  kSocket,     // "socket:[12345]"
  kPipe,       // "pipe:[12345]" (anonymous pipes; a named FIFO shows its path and counts as kFile)
  kFile,       // an absolute path outside /dev: regular files, directories, FIFOs, "/memfd:x (deleted)",
               // anything under /dev/shm (POSIX shared memory)
  kAnonInode,  // "anon_inode:[eventfd]", "anon_inode:inotify", "anon_inode:[eventpoll]", timerfd, signalfd,
               // ...
  kOther,      // devices ("/dev/null", "/dev/pts/0": /dev and all below it except /dev/shm), namespace fds
               // ("net:[4026531840]"), and anything unrecognised
};

inline constexpr size_t kFdTypeCount = 5;

FdType ClassifyFdTarget(std::string_view target);

// "socket", "pipe", "file", "anon_inode", "other".
std::string_view FdTypeName(FdType type);

}  // namespace leakwatch::internal
