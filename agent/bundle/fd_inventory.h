#pragma once
// The fd inventory of an incident bundle: one row per open file descriptor of a process (fds.csv), with the
// endpoints of its TCP, UDP and Unix sockets, and the fds grouped by what they point to (fds_by_type.csv).
//
// Written for the moment a bundle is taken: the process may be close to its memory limit and may hold a
// million fds, so time and memory are bounded rather than the listing being complete.
//
// Thread-safety: every function here is thread-safe (no state); each sink must be used by one writer at a
// time.
// Cost of WriteFdInventory:
//  - <proc_root>/<pid>/fd: one getdents64 per ~300 fds, one readlinkat per fd for at most max_fds fds
//    (~3 µs each: ~30 ms at the default 10,000); fds beyond are only counted, up to 10 × max_fds.
//  - when resolve_sockets and at least one socket fd was read:
//  <proc_root>/<pid>/net/{tcp,tcp6,udp,udp6,unix},
//    each streamed once (one read per 64 KiB) and at most max_socket_table_bytes of it; the tables describe
//    the whole network namespace, so their cost grows with every socket of the host's namespace, not only the
//    process's (the kernel formats ~150 bytes per socket). Tables left once every socket fd is resolved are
//    not read.
// Memory: the group counts (at most one entry per fd read, in practice one per directory and kind), 16 bytes
// per socket fd read (at most max_fds), one endpoint string per socket fd found in the tables, and a 64 KiB
// read buffer while the tables are read. Stack: 8 KiB (getdents64) + 4 KiB (readlinkat). The tables are never
// held whole: a line is parsed only when its inode is one of the process's sockets.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/bundle/text_sink.h"
#include "agent/procfs/fd_type.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

struct FdInventoryOptions {
  std::string proc_root = "/proc";
  std::string pid = "self";
  // readlinkat calls at most (rows of fds.csv); fds beyond are counted, up to 10 × max_fds.
  size_t max_fds = 10000;
  // Look socket inodes up in <proc_root>/<pid>/net/{tcp,tcp6,udp,udp6,unix}.
  bool resolve_sockets = true;
  // Bytes read at most from each of those tables; the sockets past that point stay unresolved.
  size_t max_socket_table_bytes = 16 << 20;
};

struct FdInventorySummary {
  size_t fds_listed = 0;         // entries of the fd directory (the inventory's own directory fd excluded)
  bool listing_complete = true;  // false when counting stopped at 10 × max_fds: fds_listed is a lower bound
  size_t fds_read = 0;           // fds whose target was read (counted in fds_by_type.csv)
  size_t fds_written = 0;        // rows in fds.csv: fewer than fds_read when that sink filled up
  bool truncated = false;        // fds were listed but not read because of max_fds
  size_t sockets = 0;            // socket fds read
  size_t sockets_resolved = 0;   // socket fds whose inode was found in a table
  std::vector<std::string> socket_tables_cut;    // tables read up to max_socket_table_bytes only ("tcp6")
  std::vector<std::string> socket_table_errors;  // "<path>: <strerror>"; a missing table is not an error
};

// Writes to `fds` the CSV
//   fd,type,target,detail
// type: FdTypeName() ("socket", "pipe", "file", "anon_inode", "other"); target: the readlink text (up to 4095
// bytes); detail: for a socket found in the tables its endpoint (see NetSocket::detail), empty otherwise.
// Rows come in the directory's order (ascending fd on procfs), except that when sockets are resolved the
// socket rows come after all the others (they wait for the tables, which are read after the listing so that
// each fd is read once).
// Writes to `by_type` the CSV
//   type,target_prefix,count
// grouped by FdTargetPrefix() (resolved sockets by NetSocket::group instead), sorted by count (descending),
// then type and prefix. Text fields are CSV-escaped (RFC 4180).
//
// An fd closed between the listing and its readlinkat is skipped. A sink that refuses a write (full or
// failed) gets nothing more; the fds are still read and grouped when `fds` fills up. When pid is "self" the
// directory fd the inventory opens is not listed. Errors (the fd directory missing or unreadable, readlinkat
// failing for another reason than the fd's closing) name the path and the cause; an error stops the listing,
// fds_by_type.csv is still written for the fds read before it, then the error is returned. Errors reading the
// socket tables only leave the sockets unresolved (see FdInventorySummary::socket_table_errors).
Result<FdInventorySummary> WriteFdInventory(const FdInventoryOptions& options, TextSink& fds,
                                            TextSink& by_type);

// How fds_by_type.csv groups a target of that type: "socket:[*]", "pipe:[*]", "net:[*]" (any "<kind>:[<n>]");
// anon_inode targets whole ("anon_inode:[eventfd]"); files by their directory with the trailing '/'
// ("/var/log/app/"), deleted files apart ("/var/log/app/ (deleted)"), memfds by name without " (deleted)"
// ("/memfd:jit"); devices and anything else whole ("/dev/null"). Pure.
std::string FdTargetPrefix(FdType type, std::string_view target);

// A socket of a /proc/net table.
struct NetSocket {
  uint64_t inode = 0;
  // "tcp 127.0.0.1:8080 -> 10.0.0.2:51234 ESTABLISHED", "tcp6 [::1]:8080 LISTEN" (" -> <remote>" left out
  // when the remote end is unset: address 0 and port 0), "udp 127.0.0.1:5353 UNCONN", "unix /run/app.sock",
  // "unix @abstract", "unix" (unnamed).
  std::string detail;
  // The protocol and state: "tcp ESTABLISHED", "tcp6 LISTEN", "udp UNCONN"; "unix" for every Unix socket.
  std::string group;
};

enum class InetProtocol { kTcp, kTcp6, kUdp, kUdp6 };

// "tcp", "tcp6", "udp", "udp6".
std::string_view InetProtocolName(InetProtocol protocol);

// Parses one line of /proc/net/{tcp,tcp6,udp,udp6}:
//   "   2: 0100007F:CB16 0100007F:A3A9 01 00000000:00000000 00:00000000 00000000     0        0 176212 ..."
// Addresses are the kernel's hex dump of the address in memory, one 32-bit word at a time in host byte order
// (8 hex digits for IPv4, 32 for IPv6: both forms are accepted whatever `protocol` says); ports are hex in
// host order. States 01..0B are ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE,
// CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING; for UDP 07 is "UNCONN" (as ss(8) says: an unconnected socket);
// anything else "STATE_<hex>". `protocol` names the table in detail and group. nullopt for the header line
// and any line that does not parse. Pure.
std::optional<NetSocket> ParseProcNetTcpLine(std::string_view line, InetProtocol protocol);

// Every socket of a whole table; lines that do not parse (the header) are skipped. Pure.
std::vector<NetSocket> ParseProcNetTcp(std::string_view text, InetProtocol protocol);

// Parses one line of /proc/net/unix:
//   "00000000a9ac1623: 00000003 00000000 00000000 0001 03 176218 /tmp/app.sock"
// (Num RefCount Protocol Flags Type St Inode [Path]; abstract names start with '@'). nullopt for the header
// line and any line that does not parse. Pure.
std::optional<NetSocket> ParseProcNetUnixLine(std::string_view line);

// Every socket of a whole /proc/net/unix; lines that do not parse (the header) are skipped. Pure.
std::vector<NetSocket> ParseProcNetUnix(std::string_view text);

}  // namespace leakwatch::internal
