#include "agent/bundle/fd_inventory.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "agent/bundle/csv.h"
#include "agent/common/file_reader.h"
#include "agent/common/text.h"
#include "agent/procfs/fd_dir.h"

namespace leakwatch::internal {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

template <typename T>
bool ParseNumber(std::string_view text, int base, T* value) {
  if (text.empty()) return false;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), *value, base);
  return parsed.ec == std::errc() && parsed.ptr == text.data() + text.size();
}

// ------------------------------------------------------------------------------------------------------------
// /proc/net tables

struct InetEndpoint {
  int family = AF_INET;
  std::array<unsigned char, 16> address{};
  uint16_t port = 0;
};

// "0100007F:1F90" or "<32 hex digits>:1F90". The kernel prints the address one 32-bit word at a time, each
// word as the number it is in host byte order: copying the words back into memory restores the address bytes.
bool ParseInetEndpoint(std::string_view field, InetEndpoint* endpoint) {
  const size_t colon = field.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view address = field.substr(0, colon);
  if (address.size() != 8 && address.size() != 32) return false;
  endpoint->family = address.size() == 8 ? AF_INET : AF_INET6;
  for (size_t word = 0; word < address.size() / 8; ++word) {
    uint32_t value = 0;
    if (!ParseNumber(address.substr(word * 8, 8), 16, &value)) return false;
    std::memcpy(endpoint->address.data() + word * 4, &value, sizeof(value));
  }
  return ParseNumber(field.substr(colon + 1), 16, &endpoint->port);
}

bool IsUnset(const InetEndpoint& endpoint) {
  return endpoint.port == 0 && std::all_of(endpoint.address.begin(), endpoint.address.end(),
                                           [](unsigned char b) { return b == 0; });
}

// "127.0.0.1:8080", "[::1]:8080".
void AppendInetEndpoint(const InetEndpoint& endpoint, std::string* out) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(endpoint.family, endpoint.address.data(), text, sizeof(text));
  if (endpoint.family == AF_INET6) out->push_back('[');
  out->append(text);
  if (endpoint.family == AF_INET6) out->push_back(']');
  out->push_back(':');
  AppendU64(endpoint.port, out);
}

// include/net/tcp_states.h, TCP_ESTABLISHED (1) to TCP_CLOSING (11).
constexpr std::array<std::string_view, 12> kTcpStates = {
    "",          "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
    "TIME_WAIT", "CLOSE",       "CLOSE_WAIT", "LAST_ACK", "LISTEN",    "CLOSING",
};

void AppendState(InetProtocol protocol, unsigned state, std::string_view state_text, std::string* out) {
  const bool udp = protocol == InetProtocol::kUdp || protocol == InetProtocol::kUdp6;
  if (udp && state == 7) {
    out->append("UNCONN");  // a UDP socket without a peer sits in TCP_CLOSE
  } else if (state >= 1 && state < kTcpStates.size()) {
    out->append(kTcpStates[state]);
  } else {
    out->append("STATE_");
    out->append(state_text);
  }
}

// The value of the index-th (0-based) whitespace-separated field, when it is a decimal number.
std::optional<uint64_t> DecimalField(std::string_view line, int index) {
  std::string_view field;
  for (int i = 0; i <= index; ++i) {
    if (!NextField(&line, &field)) return std::nullopt;
  }
  return ParseU64(field);
}

// Field positions of the inode: "sl local remote st tx:rx tr:when retrnsmt uid timeout inode" and
// "Num RefCount Protocol Flags Type St Inode Path".
constexpr int kInetInodeField = 9;
constexpr int kUnixInodeField = 6;

// Reads the file at most `max_bytes` of it, a buffer at a time, and calls visit(line) for every whole line
// (without '\n'). A line longer than the buffer is skipped. Returns 0 or an errno value; *cut is set when the
// file had more than max_bytes (the line across the limit is not visited).
template <typename Visit>
int ForEachTableLine(const std::string& path, size_t max_bytes, char* buffer, size_t capacity, bool* cut,
                     Visit&& visit) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno;
  size_t used = 0;   // bytes of an unfinished line at the start of the buffer
  size_t total = 0;  // bytes read
  bool skipping = false;
  int result = 0;
  for (;;) {
    // One byte past the limit tells a file of exactly max_bytes from a longer one.
    const size_t remaining = max_bytes - total;
    const size_t wanted = std::min(capacity - used, remaining == SIZE_MAX ? remaining : remaining + 1);
    const ssize_t n = ::read(fd, buffer + used, wanted);
    if (n < 0) {
      if (errno == EINTR) continue;
      result = errno;
      break;
    }
    if (n == 0) {
      if (used > 0 && !skipping) visit(std::string_view(buffer, used));
      break;
    }
    total += static_cast<size_t>(n);
    const size_t end = used + static_cast<size_t>(n);
    size_t start = 0;
    for (;;) {
      const void* newline = std::memchr(buffer + start, '\n', end - start);
      if (newline == nullptr) break;
      const size_t stop = static_cast<size_t>(static_cast<const char*>(newline) - buffer);
      if (!skipping) visit(std::string_view(buffer + start, stop - start));
      skipping = false;
      start = stop + 1;
    }
    if (total > max_bytes) {
      *cut = true;
      break;
    }
    used = end - start;
    if (used == capacity) {  // a line longer than the buffer: drop it up to its end
      skipping = true;
      used = 0;
    } else if (start > 0 && used > 0) {
      std::memmove(buffer, buffer + start, used);
    }
  }
  ::close(fd);
  return result;
}

// ------------------------------------------------------------------------------------------------------------
// The inventory

// "socket:[123]" -> 123.
std::optional<uint64_t> SocketInode(std::string_view target) {
  constexpr std::string_view kPrefix = "socket:[";
  if (!target.starts_with(kPrefix) || !target.ends_with(']')) return std::nullopt;
  return ParseU64(target.substr(kPrefix.size(), target.size() - kPrefix.size() - 1));
}

// A socket fd waiting for the tables.
struct PendingSocket {
  uint64_t inode;
  uint32_t fd;
};

struct Endpoint {
  std::string detail;
  std::string group;
};

// Keyed by (type name, prefix): type names are FdTypeName()'s static strings.
using GroupCounts = std::map<std::pair<std::string_view, std::string>, size_t>;

// Writes `text` unless the sink already refused a write; remembers a refusal.
void WriteTo(TextSink& sink, bool* open, std::string_view text) {
  if (*open && !sink.Write(text)) *open = false;
}

void AppendFdRow(std::string_view fd, std::string_view type, std::string_view target, std::string_view detail,
                 std::string* row) {
  row->clear();
  row->append(fd);
  row->push_back(',');
  row->append(type);
  row->push_back(',');
  AppendCsvField(target, row);
  row->push_back(',');
  AppendCsvField(detail, row);
  row->push_back('\n');
}

void WriteGroups(const GroupCounts& groups, TextSink& by_type) {
  std::vector<const GroupCounts::value_type*> sorted;
  sorted.reserve(groups.size());
  for (const auto& entry : groups) sorted.push_back(&entry);
  // The map is already in (type, prefix) order: a stable sort by count keeps it among equal counts.
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->second > b->second; });
  bool open = true;
  WriteTo(by_type, &open, "type,target_prefix,count\n");
  std::string row;
  for (const auto* entry : sorted) {
    if (!open) break;
    row.clear();
    AppendCsvField(entry->first.first, &row);
    row.push_back(',');
    AppendCsvField(entry->first.second, &row);
    row.push_back(',');
    AppendU64(entry->second, &row);
    row.push_back('\n');
    WriteTo(by_type, &open, row);
  }
}

// Finds the endpoints of `pending` in the tables of <net_dir>. Only lines whose inode is wanted are parsed.
std::unordered_map<uint64_t, Endpoint> ResolveSockets(const FdInventoryOptions& options,
                                                      const std::vector<PendingSocket>& pending,
                                                      FdInventorySummary* summary) {
  std::vector<uint64_t> wanted;
  wanted.reserve(pending.size());
  for (const PendingSocket& socket : pending) wanted.push_back(socket.inode);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  struct Table {
    std::string_view name;
    std::optional<InetProtocol> protocol;  // none: unix
  };
  constexpr std::array<Table, 5> kTables{{
      {"tcp", InetProtocol::kTcp},
      {"tcp6", InetProtocol::kTcp6},
      {"udp", InetProtocol::kUdp},
      {"udp6", InetProtocol::kUdp6},
      {"unix", std::nullopt},
  }};

  std::unordered_map<uint64_t, Endpoint> found;
  constexpr size_t kBufferSize = 64 << 10;
  const std::unique_ptr<char[]> buffer(new char[kBufferSize]);
  const std::string net_dir = options.proc_root + "/" + options.pid + "/net/";
  for (const Table& table : kTables) {
    if (found.size() == wanted.size()) break;
    const std::string path = net_dir + std::string(table.name);
    bool cut = false;
    const int error = ForEachTableLine(
        path, options.max_socket_table_bytes, buffer.get(), kBufferSize, &cut, [&](std::string_view line) {
          const std::optional<uint64_t> inode =
              DecimalField(line, table.protocol ? kInetInodeField : kUnixInodeField);
          if (!inode || !std::binary_search(wanted.begin(), wanted.end(), *inode) || found.count(*inode) != 0)
            return;
          std::optional<NetSocket> socket =
              table.protocol ? ParseProcNetTcpLine(line, *table.protocol) : ParseProcNetUnixLine(line);
          if (socket) found.emplace(*inode, Endpoint{std::move(socket->detail), std::move(socket->group)});
        });
    if (cut) summary->socket_tables_cut.emplace_back(table.name);
    if (error != 0 && error != ENOENT)
      summary->socket_table_errors.push_back(ErrnoError(path, error).message);
  }
  return found;
}

}  // namespace

std::string FdTargetPrefix(FdType type, std::string_view target) {
  switch (type) {
    case FdType::kAnonInode:
      return std::string(target);
    case FdType::kFile: {
      const bool deleted = target.ends_with(kDeletedSuffix);
      const std::string_view path =
          deleted ? target.substr(0, target.size() - kDeletedSuffix.size()) : target;
      if (path.starts_with("/memfd:")) return std::string(path);
      const size_t slash = path.rfind('/');
      std::string prefix(slash == std::string_view::npos ? path : path.substr(0, slash + 1));
      if (deleted) prefix.append(kDeletedSuffix);
      return prefix;
    }
    case FdType::kSocket:
    case FdType::kPipe:
    case FdType::kOther:
      break;
  }
  // "<kind>:[<id>]" (socket, pipe, net, mnt, ...) -> "<kind>:[*]"; anything else whole.
  const size_t bracket = target.find(":[");
  if (!target.starts_with('/') && bracket != std::string_view::npos && target.ends_with(']')) {
    return std::string(target.substr(0, bracket)) + ":[*]";
  }
  return std::string(target);
}

std::string_view InetProtocolName(InetProtocol protocol) {
  switch (protocol) {
    case InetProtocol::kTcp:
      return "tcp";
    case InetProtocol::kTcp6:
      return "tcp6";
    case InetProtocol::kUdp:
      return "udp";
    case InetProtocol::kUdp6:
      return "udp6";
  }
  return "tcp";
}

std::optional<NetSocket> ParseProcNetTcpLine(std::string_view line, InetProtocol protocol) {
  std::string_view rest = line;
  std::string_view slot, local_field, remote_field, state_field, field;
  if (!NextField(&rest, &slot) || !slot.ends_with(':') || !ParseU64(slot.substr(0, slot.size() - 1))) {
    return std::nullopt;
  }
  if (!NextField(&rest, &local_field) || !NextField(&rest, &remote_field) ||
      !NextField(&rest, &state_field)) {
    return std::nullopt;
  }
  InetEndpoint local, remote;
  unsigned state = 0;
  if (!ParseInetEndpoint(local_field, &local) || !ParseInetEndpoint(remote_field, &remote) ||
      !ParseNumber(state_field, 16, &state)) {
    return std::nullopt;
  }
  // tx_queue:rx_queue tr:tm->when retrnsmt uid timeout, then the inode.
  for (int i = 0; i < 5; ++i) {
    if (!NextField(&rest, &field)) return std::nullopt;
  }
  if (!NextField(&rest, &field)) return std::nullopt;
  const std::optional<uint64_t> inode = ParseU64(field);
  if (!inode) return std::nullopt;

  std::string state_name;
  AppendState(protocol, state, state_field, &state_name);
  NetSocket socket;
  socket.inode = *inode;
  const std::string_view name = InetProtocolName(protocol);
  socket.detail.append(name);
  socket.detail.push_back(' ');
  AppendInetEndpoint(local, &socket.detail);
  if (!IsUnset(remote)) {
    socket.detail.append(" -> ");
    AppendInetEndpoint(remote, &socket.detail);
  }
  socket.detail.push_back(' ');
  socket.detail.append(state_name);
  socket.group.append(name);
  socket.group.push_back(' ');
  socket.group.append(state_name);
  return socket;
}

std::vector<NetSocket> ParseProcNetTcp(std::string_view text, InetProtocol protocol) {
  std::vector<NetSocket> sockets;
  std::string_view line;
  while (NextLine(&text, &line)) {
    std::optional<NetSocket> socket = ParseProcNetTcpLine(line, protocol);
    if (socket) sockets.push_back(std::move(*socket));
  }
  return sockets;
}

std::optional<NetSocket> ParseProcNetUnixLine(std::string_view line) {
  std::string_view rest = line;
  std::string_view field;
  // Num (a kernel address, "%pK:"), RefCount, Protocol, Flags, Type, St: all hex.
  for (int i = 0; i < 6; ++i) {
    if (!NextField(&rest, &field)) return std::nullopt;
    if (i == 0) {
      if (!field.ends_with(':')) return std::nullopt;
      field.remove_suffix(1);
    }
    uint64_t value = 0;
    if (!ParseNumber(field, 16, &value)) return std::nullopt;
  }
  if (!NextField(&rest, &field)) return std::nullopt;
  const std::optional<uint64_t> inode = ParseU64(field);
  if (!inode) return std::nullopt;
  NetSocket socket;
  socket.inode = *inode;
  socket.group = "unix";
  socket.detail = "unix";
  const std::string_view path = TrimSpace(rest);
  if (!path.empty()) {
    socket.detail.push_back(' ');
    socket.detail.append(path);
  }
  return socket;
}

std::vector<NetSocket> ParseProcNetUnix(std::string_view text) {
  std::vector<NetSocket> sockets;
  std::string_view line;
  while (NextLine(&text, &line)) {
    std::optional<NetSocket> socket = ParseProcNetUnixLine(line);
    if (socket) sockets.push_back(std::move(*socket));
  }
  return sockets;
}

Result<FdInventorySummary> WriteFdInventory(const FdInventoryOptions& options, TextSink& fds,
                                            TextSink& by_type) {
  const std::string directory = options.proc_root + "/" + options.pid + "/fd";
  const int dir_fd = OpenDirectory(directory);
  if (dir_fd < 0) return ErrnoError(directory, errno);

  char own_fd_name[16] = {};
  std::string_view own_fd;
  if (options.pid == "self" && IsOnProcfs(dir_fd)) {
    const auto converted = std::to_chars(own_fd_name, own_fd_name + sizeof(own_fd_name), dir_fd);
    own_fd = std::string_view(own_fd_name, static_cast<size_t>(converted.ptr - own_fd_name));
  }
  const size_t count_limit =
      options.max_fds > static_cast<size_t>(-1) / 10 ? static_cast<size_t>(-1) : options.max_fds * 10;

  FdInventorySummary summary;
  GroupCounts groups;
  std::vector<PendingSocket> pending;
  bool fds_open = true;
  WriteTo(fds, &fds_open, "fd,type,target,detail\n");
  std::string row;
  int readlink_errno = 0;
  std::string failed_name;
  const int list_errno = ForEachDirectoryEntry(dir_fd, [&](std::string_view name) {
    if (name == own_fd) return true;
    if (summary.fds_listed >= count_limit) {
      summary.listing_complete = false;
      summary.truncated = true;  // count_limit >= max_fds: this fd is not read
      return false;
    }
    ++summary.fds_listed;
    if (summary.fds_read >= options.max_fds) {
      summary.truncated = true;
      return true;  // keep counting
    }
    char target_buffer[4096];
    const ssize_t length = ::readlinkat(dir_fd, name.data(), target_buffer, sizeof(target_buffer));
    if (length < 0) {
      if (errno == ENOENT) return true;  // closed since the listing
      readlink_errno = errno;
      failed_name = std::string(name);
      return false;
    }
    const std::string_view target(target_buffer, static_cast<size_t>(length));
    const FdType type = ClassifyFdTarget(target);
    ++summary.fds_read;
    if (type == FdType::kSocket) {
      ++summary.sockets;
      const std::optional<uint64_t> inode = SocketInode(target);
      uint32_t fd_number = 0;
      if (options.resolve_sockets && inode && ParseNumber(name, 10, &fd_number)) {
        pending.push_back(PendingSocket{*inode, fd_number});
        return true;  // grouped and written once the tables are read
      }
    }
    ++groups[{FdTypeName(type), FdTargetPrefix(type, target)}];
    if (fds_open) {
      AppendFdRow(name, FdTypeName(type), target, {}, &row);
      WriteTo(fds, &fds_open, row);
      if (fds_open) ++summary.fds_written;
    }
    return true;
  });
  ::close(dir_fd);

  if (!pending.empty()) {
    const std::unordered_map<uint64_t, Endpoint> endpoints = ResolveSockets(options, pending, &summary);
    const std::string_view socket_type = FdTypeName(FdType::kSocket);
    std::string fd_text, target;
    for (const PendingSocket& socket : pending) {
      const auto found = endpoints.find(socket.inode);
      target = "socket:[";
      AppendU64(socket.inode, &target);
      target.push_back(']');
      if (found != endpoints.end()) {
        ++summary.sockets_resolved;
        ++groups[{socket_type, found->second.group}];
      } else {
        ++groups[{socket_type, FdTargetPrefix(FdType::kSocket, target)}];
      }
      if (!fds_open) continue;
      fd_text.clear();
      AppendU64(socket.fd, &fd_text);
      AppendFdRow(fd_text, socket_type, target, found != endpoints.end() ? found->second.detail : "", &row);
      WriteTo(fds, &fds_open, row);
      if (fds_open) ++summary.fds_written;
    }
  }

  WriteGroups(groups, by_type);
  if (list_errno != 0) return ErrnoError(directory, list_errno);
  if (readlink_errno != 0) return ErrnoError(directory + "/" + failed_name, readlink_errno);
  return summary;
}

}  // namespace leakwatch::internal
