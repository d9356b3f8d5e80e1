#include "agent/procfs/fd_type.h"

namespace leakwatch::internal {

FdType ClassifyFdTarget(std::string_view target) {
  if (target.starts_with("socket:[")) return FdType::kSocket;
  if (target.starts_with("pipe:[")) return FdType::kPipe;
  if (target.starts_with("anon_inode:")) return FdType::kAnonInode;
  if (!target.starts_with('/')) return FdType::kOther;
  // /dev/shm is where shm_open() files live: memory the process holds like any file, not a device.
  if (target == "/dev/shm" || target.starts_with("/dev/shm/")) return FdType::kFile;
  if (target == "/dev" || target.starts_with("/dev/")) return FdType::kOther;
  return FdType::kFile;
}

std::string_view FdTypeName(FdType type) {
  switch (type) {
    case FdType::kSocket:
      return "socket";
    case FdType::kPipe:
      return "pipe";
    case FdType::kFile:
      return "file";
    case FdType::kAnonInode:
      return "anon_inode";
    case FdType::kOther:
      return "other";
  }
  return "other";
}

}  // namespace leakwatch::internal
