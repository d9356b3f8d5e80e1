#include "agent/common/listening_socket.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "agent/common/file_reader.h"
#include "agent/common/text.h"

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

std::vector<unsigned long> ListeningSocketInodes(std::string_view proc_net_tcp, int port) {
  std::vector<unsigned long> inodes;
  std::string_view line;
  bool header = true;
  while (NextLine(&proc_net_tcp, &line)) {
    if (header) {  // "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid ..."
      header = false;
      continue;
    }
    std::string_view fields[10];
    size_t n = 0;
    std::string_view rest = line, field;
    while (n < 10 && NextField(&rest, &field)) fields[n++] = field;
    if (n < 10 || fields[3] != "0A") continue;  // 0A: TCP_LISTEN
    const std::string_view local = fields[1];   // hex address ":" hex port
    const auto colon = local.rfind(':');
    if (colon == std::string_view::npos) continue;
    const std::string hex_port(local.substr(colon + 1));
    char* end = nullptr;
    const long local_port = std::strtol(hex_port.c_str(), &end, 16);
    if (end == hex_port.c_str() || *end != '\0' || local_port != port) continue;
    const std::string inode_text(fields[9]);
    const unsigned long inode = std::strtoul(inode_text.c_str(), &end, 10);
    if (end != inode_text.c_str() && *end == '\0' && inode != 0) inodes.push_back(inode);
  }
  return inodes;
}

std::vector<int> FindListeningSockets(const std::string& proc_self, int port) {
  std::vector<int> found;
  std::vector<unsigned long> inodes;
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    auto text = ReadFile(proc_self + table, 16 << 20);
    if (!text) continue;
    for (const unsigned long inode : ListeningSocketInodes(*text, port)) inodes.push_back(inode);
  }
  if (inodes.empty()) return found;
  const std::string fd_dir = proc_self + "/fd";
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) return found;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    char target[64] = {};
    const std::string link = fd_dir + "/" + entry->d_name;
    const ssize_t length = readlink(link.c_str(), target, sizeof(target) - 1);
    if (length <= 0) continue;
    unsigned long inode = 0;
    if (std::sscanf(target, "socket:[%lu]", &inode) != 1) continue;
    for (const unsigned long wanted : inodes) {
      if (inode == wanted) found.push_back(static_cast<int>(fd));
    }
  }
  closedir(dir);
  return found;
}

}  // namespace leakwatch::internal
