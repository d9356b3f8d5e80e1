#include "agent/common/listening_socket.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace leakwatch::internal {

bool IsListeningOn(int fd, int port) {
  if (fd < 0 || port <= 0) return false;
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  int bound = -1;
  if (address.ss_family == AF_INET) {
    bound = ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  } else if (address.ss_family == AF_INET6) {
    bound = ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  if (bound != port) return false;
  int listening = 0;
  socklen_t option_length = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &option_length) != 0) return false;
  return listening != 0;
}

bool ShutDownListening(int fd, int port) { return IsListeningOn(fd, port) && shutdown(fd, SHUT_RDWR) == 0; }

bool CloseListening(int fd, int port) { return IsListeningOn(fd, port) && close(fd) == 0; }

std::vector<int> FindListeningSockets(const std::string& fd_dir, int port) {
  std::vector<int> found;
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) return found;
  const int dir_fd = dirfd(dir);
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    struct stat st {};
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (IsListeningOn(static_cast<int>(fd), port)) found.push_back(static_cast<int>(fd));
  }
  closedir(dir);
  return found;
}

}  // namespace leakwatch::internal
