// The thread and fd inventories of incident bundles: the /proc/net parsers on lines captured from a real
// kernel, both inventories on fixture trees (names that need CSV quoting, a thread that vanished, caps,
// socket resolution from inline tables, grouping), and one live test on this process's own /proc/self.
//
// The /proc/net lines below were captured on a Debian 12 test machine (kernel 6.18, x86-64) from a Python
// process holding: a TCP listener and a connection on 127.0.0.1, a TCP6 listener and a connection on ::1, a
// dual-stack listener on :: reached through 127.0.0.1 (IPv4-mapped), UDP sockets on 127.0.0.1 and ::1, a Unix
// listener on /tmp/lw-capture.sock with a connection, and an abstract Unix socket "@lw-abstract". To refresh:
// open the same sockets and copy /proc/self/net/{tcp,tcp6,udp,udp6,unix}.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/bundle/fd_inventory.h"
#include "agent/bundle/text_sink.h"
#include "agent/bundle/thread_inventory.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::internal {
namespace {

using test_support::TempTree;
using Row = std::vector<std::string>;

// ------------------------------------------------------------------------------------------------------------
// Captured tables (trailing blanks as the kernel writes them)

const std::string kTcpTable =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode        "
    "  "
    "                                           \n"
    "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1060 1 "
    "00000000a4655ec3 100 0 0 10 0                      \n"
    "   1: 0100007F:B285 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 176205 1 "
    "000000003328cb59 100 0 0 10 0                    \n"
    "   2: 0100007F:CB16 0100007F:A3A9 01 00000000:00000000 00:00000000 00000000     0        0 176212 2 "
    "00000000e0bc9ffc 20 0 0 10 -1                    \n"
    "   3: 0100007F:9476 0100007F:B285 01 00000000:00000000 00:00000000 00000000     0        0 176206 2 "
    "0000000098552d42 20 0 0 10 -1                    \n"
    "   4: 0100007F:B285 0100007F:9476 01 00000000:00000000 00:00000000 00000000     0        0 176207 1 "
    "00000000e3570ad6 20 0 0 10 -1                    \n";

const std::string kTcp6Table =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue "
    "tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:A3A9 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 176211 1 00000000c46dee0b 100 0 0 10 0\n"
    "   1: 00000000000000000000000001000000:C45D 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 176208 1 000000002db3eb95 100 0 0 10 0\n"
    "   2: 00000000000000000000000001000000:C45D 00000000000000000000000001000000:CFAE 01 00000000:00000000 "
    "00:00000000 00000000     0        0 176210 1 0000000087a59281 20 0 0 10 -1\n"
    "   3: 0000000000000000FFFF00000100007F:A3A9 0000000000000000FFFF00000100007F:CB16 01 00000000:00000000 "
    "00:00000000 00000000     0        0 176213 1 000000007ce039d5 20 0 0 10 -1\n"
    "   4: 00000000000000000000000001000000:CFAE 00000000000000000000000001000000:C45D 01 00000000:00000000 "
    "00:00000000 00000000     0        0 176209 2 00000000f210fc69 20 0 0 10 -1\n";

const std::string kUdpTable =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
    "pointer drops            \n"
    " 7696: 0100007F:EDF4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 176214 2 "
    "00000000e66be4c3 0        \n";

const std::string kUdp6Table =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue "
    "tr "
    "tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    "16254: 00000000000000000000000001000000:CF62 00000000000000000000000000000000:0000 07 00000000:00000000 "
    "00:00000000 00000000     0        0 176215 2 0000000023a7ab91 0\n";

const std::string kUnixTable =
    "Num       RefCount Protocol Flags    Type St Inode Path\n"
    "0000000026553121: 00000003 00000000 00000000 0001 03  1056\n"
    "0000000089c718bd: 00000003 00000000 00000000 0001 03 176217\n"
    "00000000a9ac1623: 00000003 00000000 00000000 0001 03 176218 /tmp/lw-capture.sock\n"
    "00000000672644ed: 00000002 00000000 00010000 0001 01 176216 /tmp/lw-capture.sock\n"
    "00000000781ddaed: 00000003 00000000 00000000 0001 03  1057\n"
    "00000000c965f804: 00000002 00000000 00000000 0001 01 176219 @lw-abstract\n";

// ------------------------------------------------------------------------------------------------------------
// Helpers

// Parses RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes) into rows.
std::vector<Row> ParseCsv(const std::string& text) {
  std::vector<Row> rows;
  Row row;
  std::string field;
  bool quoted = false;
  bool any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    any = true;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      any = false;
    } else {
      field.push_back(c);
    }
  }
  if (any) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

// The rows after the header, in any order (fixture directories list in no particular order).
std::set<Row> BodyRows(const std::string& text) {
  std::vector<Row> rows = ParseCsv(text);
  if (rows.empty()) return {};
  return std::set<Row>(rows.begin() + 1, rows.end());
}

// The row whose column `column` equals `value`; empty when none.
Row FindRow(const std::string& text, size_t column, const std::string& value) {
  for (const Row& row : ParseCsv(text)) {
    if (row.size() > column && row[column] == value) return row;
  }
  return {};
}

// The detail column of fd `fd` in fds.csv; "<no row>" when it has none.
std::string DetailOf(const std::string& text, const std::string& fd) {
  const Row row = FindRow(text, 0, fd);
  return row.size() == 4 ? row[3] : "<no row>";
}

// A whole task/<tid>/stat line, shaped after a real one (52 fields).
std::string StatLine(int tid, const std::string& comm, char state, int utime, int stime) {
  return std::to_string(tid) + " (" + comm + ") " + state +
         " 31841 31842 31842 0 -1 4194560 3181 46944 0 11 " + std::to_string(utime) + " " +
         std::to_string(stime) +
         " 112 155 20 0 1 0 544683 5124096 1005 18446744073709551615 93892111953920 93892112743325 "
         "140722343959856 0 0 0 65536 4 1132560123 1 0 0 17 0 0 0 0 0 0 93892112976624 93892113024868 "
         "93892142358528 140722343963450 140722343963465 140722343963465 140722343964650 0\n";
}

void AddThread(const TempTree& tree, int tid, const std::string& comm, char state = 'S', int utime = 0,
               int stime = 0) {
  tree.Write("4242/task/" + std::to_string(tid) + "/stat", StatLine(tid, comm, state, utime, stime));
}

// <root>/77/fd with one symlink per target, named 0, 1, 2, ... like the kernel's.
void MakeFds(const TempTree& tree, const std::vector<std::string>& targets) {
  const std::filesystem::path fd_dir = tree.Path("77/fd");
  std::filesystem::create_directories(fd_dir);
  for (size_t i = 0; i < targets.size(); ++i) {
    std::filesystem::create_symlink(targets[i], fd_dir / std::to_string(i));
  }
}

void WriteNetTables(const TempTree& tree) {
  tree.Write("77/net/tcp", kTcpTable);
  tree.Write("77/net/tcp6", kTcp6Table);
  tree.Write("77/net/udp", kUdpTable);
  tree.Write("77/net/udp6", kUdp6Table);
  tree.Write("77/net/unix", kUnixTable);
}

FdInventoryOptions FixtureFdOptions(const TempTree& tree) {
  FdInventoryOptions options;
  options.proc_root = tree.dir();
  options.pid = "77";
  return options;
}

ThreadInventoryOptions FixtureThreadOptions(const TempTree& tree) {
  ThreadInventoryOptions options;
  options.proc_root = tree.dir();
  options.pid = "4242";
  return options;
}

// ------------------------------------------------------------------------------------------------------------
// /proc/net parsers

TEST(ProcNetTcp, ParsesEveryCapturedIpv4LineAndSkipsTheHeader) {
  const std::vector<NetSocket> sockets = ParseProcNetTcp(kTcpTable, InetProtocol::kTcp);
  ASSERT_EQ(sockets.size(), 5u);
  EXPECT_EQ(sockets[0].inode, 1060u);
  EXPECT_EQ(sockets[0].detail, "tcp 0.0.0.0:2024 LISTEN");
  EXPECT_EQ(sockets[0].group, "tcp LISTEN");
  EXPECT_EQ(sockets[1].detail, "tcp 127.0.0.1:45701 LISTEN");
  EXPECT_EQ(sockets[2].inode, 176212u);
  EXPECT_EQ(sockets[2].detail, "tcp 127.0.0.1:51990 -> 127.0.0.1:41897 ESTABLISHED");
  EXPECT_EQ(sockets[2].group, "tcp ESTABLISHED");
  EXPECT_EQ(sockets[4].detail, "tcp 127.0.0.1:45701 -> 127.0.0.1:38006 ESTABLISHED");
}

TEST(ProcNetTcp, ParsesIpv6WordsIncludingIpv4MappedAddresses) {
  const std::vector<NetSocket> sockets = ParseProcNetTcp(kTcp6Table, InetProtocol::kTcp6);
  ASSERT_EQ(sockets.size(), 5u);
  EXPECT_EQ(sockets[0].detail, "tcp6 [::]:41897 LISTEN");
  EXPECT_EQ(sockets[1].inode, 176208u);
  EXPECT_EQ(sockets[1].detail, "tcp6 [::1]:50269 LISTEN");
  EXPECT_EQ(sockets[1].group, "tcp6 LISTEN");
  EXPECT_EQ(sockets[2].detail, "tcp6 [::1]:50269 -> [::1]:53166 ESTABLISHED");
  EXPECT_EQ(sockets[3].detail, "tcp6 [::ffff:127.0.0.1]:41897 -> [::ffff:127.0.0.1]:51990 ESTABLISHED");
  EXPECT_EQ(sockets[3].group, "tcp6 ESTABLISHED");
}

TEST(ProcNetTcp, UnconnectedUdpIsUnconnNotClose) {
  const std::vector<NetSocket> udp = ParseProcNetTcp(kUdpTable, InetProtocol::kUdp);
  ASSERT_EQ(udp.size(), 1u);
  EXPECT_EQ(udp[0].inode, 176214u);
  EXPECT_EQ(udp[0].detail, "udp 127.0.0.1:60916 UNCONN");
  EXPECT_EQ(udp[0].group, "udp UNCONN");
  const std::vector<NetSocket> udp6 = ParseProcNetTcp(kUdp6Table, InetProtocol::kUdp6);
  ASSERT_EQ(udp6.size(), 1u);
  EXPECT_EQ(udp6[0].detail, "udp6 [::1]:53090 UNCONN");
  // The same state in a TCP table is CLOSE.
  const auto tcp = ParseProcNetTcpLine(
      "   0: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5 1",
      InetProtocol::kTcp);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->detail, "tcp 127.0.0.1:8080 CLOSE");
}

TEST(ProcNetTcp, EveryStateHasItsName) {
  const std::vector<std::string> names = {"ESTABLISHED", "SYN_SENT",  "SYN_RECV", "FIN_WAIT1",
                                          "FIN_WAIT2",   "TIME_WAIT", "CLOSE",    "CLOSE_WAIT",
                                          "LAST_ACK",    "LISTEN",    "CLOSING"};
  for (size_t i = 0; i < names.size(); ++i) {
    char state[8];
    std::snprintf(state, sizeof(state), "%02X", static_cast<unsigned>(i + 1));
    const std::string line = "   0: 0100007F:1F90 0200000A:C800 " + std::string(state) +
                             " 00000000:00000000 00:00000000 00000000     0        0 99 1";
    const auto socket = ParseProcNetTcpLine(line, InetProtocol::kTcp);
    ASSERT_TRUE(socket) << line;
    EXPECT_EQ(socket->detail, "tcp 127.0.0.1:8080 -> 10.0.0.2:51200 " + names[i]);
  }
  const auto unknown = ParseProcNetTcpLine(
      "   0: 0100007F:1F90 0200000A:C800 0C 00000000:00000000 00:00000000 00000000     0        0 99 1",
      InetProtocol::kTcp);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->group, "tcp STATE_0C");
}

TEST(ProcNetTcp, MalformedLinesAreSkipped) {
  for (const char* line : {
           "", "garbage",
           "   0: 0100007F:1F90",                                                                 // truncated
           "   0: 0100007:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1",  // 7 digits
           "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x5 1",  // inode
           "   0: 0100007F:1F90 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 5 1",   // state
       }) {
    EXPECT_FALSE(ParseProcNetTcpLine(line, InetProtocol::kTcp)) << line;
  }
  EXPECT_TRUE(ParseProcNetTcp("", InetProtocol::kTcp).empty());
}

TEST(ProcNetUnix, ParsesPathsAbstractNamesAndUnnamedSockets) {
  const std::vector<NetSocket> sockets = ParseProcNetUnix(kUnixTable);
  ASSERT_EQ(sockets.size(), 6u);
  EXPECT_EQ(sockets[0].inode, 1056u);
  EXPECT_EQ(sockets[0].detail, "unix");
  EXPECT_EQ(sockets[2].inode, 176218u);
  EXPECT_EQ(sockets[2].detail, "unix /tmp/lw-capture.sock");
  EXPECT_EQ(sockets[3].inode, 176216u);
  EXPECT_EQ(sockets[5].detail, "unix @lw-abstract");
  for (const NetSocket& socket : sockets) EXPECT_EQ(socket.group, "unix");
  // A path with a space is kept whole.
  const auto spaced =
      ParseProcNetUnixLine("00000000a9ac1623: 00000003 00000000 00000000 0001 03 7 /run/my app.sock");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced->detail, "unix /run/my app.sock");
  EXPECT_FALSE(ParseProcNetUnixLine("00000000a9ac1623: 00000003 00000000"));
  EXPECT_FALSE(ParseProcNetUnixLine("Num       RefCount Protocol Flags    Type St Inode Path"));
}

TEST(FdTargetPrefix, GroupsTargetsByKindAndDirectory) {
  EXPECT_EQ(FdTargetPrefix(FdType::kSocket, "socket:[123]"), "socket:[*]");
  EXPECT_EQ(FdTargetPrefix(FdType::kPipe, "pipe:[9]"), "pipe:[*]");
  EXPECT_EQ(FdTargetPrefix(FdType::kOther, "net:[4026531840]"), "net:[*]");
  EXPECT_EQ(FdTargetPrefix(FdType::kAnonInode, "anon_inode:[eventfd]"), "anon_inode:[eventfd]");
  EXPECT_EQ(FdTargetPrefix(FdType::kAnonInode, "anon_inode:inotify"), "anon_inode:inotify");
  EXPECT_EQ(FdTargetPrefix(FdType::kFile, "/var/log/app/a.log"), "/var/log/app/");
  EXPECT_EQ(FdTargetPrefix(FdType::kFile, "/var/log/app/a.log (deleted)"), "/var/log/app/ (deleted)");
  EXPECT_EQ(FdTargetPrefix(FdType::kFile, "/memfd:jit (deleted)"), "/memfd:jit");
  EXPECT_EQ(FdTargetPrefix(FdType::kFile, "/"), "/");
  EXPECT_EQ(FdTargetPrefix(FdType::kOther, "/dev/null"), "/dev/null");
}

// ------------------------------------------------------------------------------------------------------------
// Thread inventory on fixture trees

TEST(ThreadInventory, WritesOneRowPerThreadWithEscapedNamesAndSkipsAVanishedThread) {
  ASSERT_EQ(::sysconf(_SC_CLK_TCK), 100) << "the expected seconds below assume 100 ticks per second";
  TempTree tree;
  AddThread(tree, 4242, "server", 'S', 1234, 56);
  AddThread(tree, 4243, "my worker, (1)", 'R', 7, 100);
  AddThread(tree, 4244, "a) b", 'D');
  AddThread(tree, 4245, "say \"hi\"", 'S');
  AddThread(tree, 4246, "pool", 'S');
  AddThread(tree, 4247, "pool", 'S');
  std::filesystem::create_directories(tree.Path("4242/task/4250"));  // exited: its stat is gone

  StringSink threads, by_name;
  const Result<ThreadInventorySummary> summary =
      WriteThreadInventory(FixtureThreadOptions(tree), threads, by_name);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->threads, 6u);
  EXPECT_EQ(summary->threads_written, 6u);
  EXPECT_FALSE(summary->truncated);
  EXPECT_EQ(summary->names, 5u);

  EXPECT_TRUE(threads.text().starts_with("tid,name,state,utime_seconds,stime_seconds\n"));
  EXPECT_NE(threads.text().find("\n4243,\"my worker, (1)\",R,0.07,1.00\n"), std::string::npos)
      << threads.text();
  EXPECT_NE(threads.text().find("\n4245,\"say \"\"hi\"\"\",S,0.00,0.00\n"), std::string::npos);
  const std::set<Row> expected = {
      {"4242", "server", "S", "12.34", "0.56"}, {"4243", "my worker, (1)", "R", "0.07", "1.00"},
      {"4244", "a) b", "D", "0.00", "0.00"},    {"4245", "say \"hi\"", "S", "0.00", "0.00"},
      {"4246", "pool", "S", "0.00", "0.00"},    {"4247", "pool", "S", "0.00", "0.00"},
  };
  EXPECT_EQ(BodyRows(threads.text()), expected);

  EXPECT_EQ(by_name.text(),
            "name,count\n"
            "pool,2\n"
            "a) b,1\n"
            "\"my worker, (1)\",1\n"
            "\"say \"\"hi\"\"\",1\n"
            "server,1\n");
}

TEST(ThreadInventory, StopsAtMaxThreadsAndCountsNamesOfTheRowsRead) {
  TempTree tree;
  for (int tid = 100; tid < 105; ++tid) AddThread(tree, tid, "worker");
  ThreadInventoryOptions options = FixtureThreadOptions(tree);
  options.max_threads = 3;
  StringSink threads, by_name;
  const auto summary = WriteThreadInventory(options, threads, by_name);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_TRUE(summary->truncated);
  EXPECT_EQ(summary->threads, 3u);
  EXPECT_EQ(BodyRows(threads.text()).size(), 3u);
  EXPECT_EQ(by_name.text(), "name,count\nworker,3\n");

  // Exactly max_threads threads is not truncated.
  options.max_threads = 5;
  StringSink all_threads, all_by_name;
  const auto all = WriteThreadInventory(options, all_threads, all_by_name);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->truncated);
  EXPECT_EQ(all->threads, 5u);
}

TEST(ThreadInventory, AFullThreadsSinkStillCountsEveryThreadByName) {
  TempTree tree;
  for (int tid = 100; tid < 110; ++tid) AddThread(tree, tid, tid % 2 == 0 ? "even" : "odd");
  StringSink threads(50);  // the header and no row (a row is 21 bytes)
  StringSink by_name;
  const auto summary = WriteThreadInventory(FixtureThreadOptions(tree), threads, by_name);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->threads, 10u);
  EXPECT_EQ(summary->threads_written, 0u);
  EXPECT_FALSE(summary->truncated);
  EXPECT_EQ(by_name.text(), "name,count\neven,5\nodd,5\n");
}

TEST(ThreadInventory, AMissingTaskDirectoryIsAnErrorNamingIt) {
  TempTree tree;
  StringSink threads, by_name;
  const auto summary = WriteThreadInventory(FixtureThreadOptions(tree), threads, by_name);
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.error().message.find(tree.Path("4242/task")), std::string::npos)
      << summary.error().message;
}

TEST(ThreadInventory, AStatThatDoesNotParseIsAnErrorButTheNamesReadAreWritten) {
  TempTree tree;
  tree.Write("4242/task/7/stat", "7 (broken");
  StringSink threads, by_name;
  const auto summary = WriteThreadInventory(FixtureThreadOptions(tree), threads, by_name);
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.error().message.find("4242/task/7/stat"), std::string::npos) << summary.error().message;
  EXPECT_EQ(by_name.text(), "name,count\n");
}

// ------------------------------------------------------------------------------------------------------------
// Fd inventory on fixture trees

const std::vector<std::string> kFixtureFds = {
    "/dev/null",                       // 0
    "pipe:[100]",                      // 1
    "pipe:[101]",                      // 2
    "socket:[176212]",                 // 3  tcp ESTABLISHED
    "socket:[176208]",                 // 4  tcp6 LISTEN
    "socket:[176214]",                 // 5  udp UNCONN
    "socket:[176218]",                 // 6  unix /tmp/lw-capture.sock
    "socket:[999999]",                 // 7  in no table
    "/var/log/app/a.log",              // 8
    "/var/log/app/b,1.log",            // 9  a comma: quoted
    "anon_inode:[eventfd]",            // 10
    "/var/log/app/old.log (deleted)",  // 11
    "socket:[176215]",                 // 12 udp6 UNCONN
    "socket:[176219]",                 // 13 unix @lw-abstract
    "socket:[176207]",                 // 14 tcp ESTABLISHED
};

TEST(FdInventory, ResolvesTcpTcp6UdpAndUnixSocketsAndGroupsTargets) {
  TempTree tree;
  MakeFds(tree, kFixtureFds);
  WriteNetTables(tree);
  StringSink fds, by_type;
  const auto summary = WriteFdInventory(FixtureFdOptions(tree), fds, by_type);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->fds_listed, 15u);
  EXPECT_TRUE(summary->listing_complete);
  EXPECT_EQ(summary->fds_read, 15u);
  EXPECT_EQ(summary->fds_written, 15u);
  EXPECT_FALSE(summary->truncated);
  EXPECT_EQ(summary->sockets, 8u);
  EXPECT_EQ(summary->sockets_resolved, 7u);
  EXPECT_TRUE(summary->socket_tables_cut.empty());
  EXPECT_TRUE(summary->socket_table_errors.empty());

  EXPECT_TRUE(fds.text().starts_with("fd,type,target,detail\n"));
  EXPECT_NE(fds.text().find("\n9,file,\"/var/log/app/b,1.log\",\n"), std::string::npos) << fds.text();
  const std::set<Row> expected = {
      {"0", "other", "/dev/null", ""},
      {"1", "pipe", "pipe:[100]", ""},
      {"2", "pipe", "pipe:[101]", ""},
      {"3", "socket", "socket:[176212]", "tcp 127.0.0.1:51990 -> 127.0.0.1:41897 ESTABLISHED"},
      {"4", "socket", "socket:[176208]", "tcp6 [::1]:50269 LISTEN"},
      {"5", "socket", "socket:[176214]", "udp 127.0.0.1:60916 UNCONN"},
      {"6", "socket", "socket:[176218]", "unix /tmp/lw-capture.sock"},
      {"7", "socket", "socket:[999999]", ""},
      {"8", "file", "/var/log/app/a.log", ""},
      {"9", "file", "/var/log/app/b,1.log", ""},
      {"10", "anon_inode", "anon_inode:[eventfd]", ""},
      {"11", "file", "/var/log/app/old.log (deleted)", ""},
      {"12", "socket", "socket:[176215]", "udp6 [::1]:53090 UNCONN"},
      {"13", "socket", "socket:[176219]", "unix @lw-abstract"},
      {"14", "socket", "socket:[176207]", "tcp 127.0.0.1:45701 -> 127.0.0.1:38006 ESTABLISHED"},
  };
  EXPECT_EQ(BodyRows(fds.text()), expected);

  EXPECT_EQ(by_type.text(),
            "type,target_prefix,count\n"
            "file,/var/log/app/,2\n"
            "pipe,pipe:[*],2\n"
            "socket,tcp ESTABLISHED,2\n"
            "socket,unix,2\n"
            "anon_inode,anon_inode:[eventfd],1\n"
            "file,/var/log/app/ (deleted),1\n"
            "other,/dev/null,1\n"
            "socket,socket:[*],1\n"
            "socket,tcp6 LISTEN,1\n"
            "socket,udp UNCONN,1\n"
            "socket,udp6 UNCONN,1\n");
}

TEST(FdInventory, WithoutResolutionSocketsKeepTheirInodeGroupAndTablesAreNotNeeded) {
  TempTree tree;
  MakeFds(tree, kFixtureFds);  // no net/ directory at all
  FdInventoryOptions options = FixtureFdOptions(tree);
  options.resolve_sockets = false;
  StringSink fds, by_type;
  const auto summary = WriteFdInventory(options, fds, by_type);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->sockets, 8u);
  EXPECT_EQ(summary->sockets_resolved, 0u);
  EXPECT_EQ(FindRow(fds.text(), 0, "3"), (Row{"3", "socket", "socket:[176212]", ""}));
  EXPECT_TRUE(by_type.text().starts_with("type,target_prefix,count\nsocket,socket:[*],8\n"))
      << by_type.text();
}

TEST(FdInventory, MissingTablesLeaveSocketsUnresolvedWithoutError) {
  TempTree tree;
  MakeFds(tree, {"socket:[176212]", "socket:[176218]"});
  tree.Write("77/net/unix", kUnixTable);  // no tcp, tcp6, udp, udp6 (e.g. IPv6 disabled)
  StringSink fds, by_type;
  const auto summary = WriteFdInventory(FixtureFdOptions(tree), fds, by_type);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->sockets_resolved, 1u);
  EXPECT_TRUE(summary->socket_table_errors.empty());
  EXPECT_EQ(DetailOf(fds.text(), "0"), "");
  EXPECT_EQ(DetailOf(fds.text(), "1"), "unix /tmp/lw-capture.sock");
}

TEST(FdInventory, ATableOverTheByteCapIsCutAndSaidSo) {
  TempTree tree;
  MakeFds(tree, {"socket:[1060]", "socket:[176207]"});  // the first and the last line of kTcpTable
  WriteNetTables(tree);
  FdInventoryOptions options = FixtureFdOptions(tree);
  options.max_socket_table_bytes = 400;  // the header and the first socket line only
  StringSink fds, by_type;
  const auto summary = WriteFdInventory(options, fds, by_type);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->socket_tables_cut, (std::vector<std::string>{"tcp", "tcp6", "unix"}));
  EXPECT_EQ(summary->sockets_resolved, 1u);
  EXPECT_EQ(DetailOf(fds.text(), "0"), "tcp 0.0.0.0:2024 LISTEN");
  EXPECT_EQ(DetailOf(fds.text(), "1"), "");
}

TEST(FdInventory, AnUnreadableTableIsReportedAndTheOthersStillResolve) {
  TempTree tree;
  MakeFds(tree, {"socket:[176212]", "socket:[176218]"});
  WriteNetTables(tree);
  tree.Remove("77/net/tcp");
  std::filesystem::create_directories(tree.Path("77/net/tcp"));  // read() fails with EISDIR
  StringSink fds, by_type;
  const auto summary = WriteFdInventory(FixtureFdOptions(tree), fds, by_type);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  ASSERT_EQ(summary->socket_table_errors.size(), 1u);
  EXPECT_NE(summary->socket_table_errors[0].find(tree.Path("77/net/tcp")), std::string::npos);
  EXPECT_EQ(summary->sockets_resolved, 1u);
}

TEST(FdInventory, ReadsAtMostMaxFdsAndKeepsCountingUpToTenTimesThat) {
  TempTree tree;
  std::vector<std::string> targets;
  for (int i = 0; i < 25; ++i) targets.push_back("pipe:[" + std::to_string(i) + "]");
  MakeFds(tree, targets);
  FdInventoryOptions options = FixtureFdOptions(tree);
  options.max_fds = 4;
  StringSink fds, by_type;
  const auto summary = WriteFdInventory(options, fds, by_type);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->fds_listed, 25u);
  EXPECT_TRUE(summary->listing_complete);
  EXPECT_EQ(summary->fds_read, 4u);
  EXPECT_EQ(summary->fds_written, 4u);
  EXPECT_TRUE(summary->truncated);
  EXPECT_EQ(by_type.text(), "type,target_prefix,count\npipe,pipe:[*],4\n");

  options.max_fds = 2;  // counting stops at 20
  StringSink fds2, by_type2;
  const auto capped = WriteFdInventory(options, fds2, by_type2);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->fds_listed, 20u);
  EXPECT_FALSE(capped->listing_complete);
  EXPECT_TRUE(capped->truncated);
}

TEST(FdInventory, AFullFdsSinkStillGroupsEveryFdRead) {
  TempTree tree;
  MakeFds(tree, kFixtureFds);
  WriteNetTables(tree);
  StringSink fds(30);  // the header (22 bytes) and no row
  StringSink by_type;
  const auto summary = WriteFdInventory(FixtureFdOptions(tree), fds, by_type);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->fds_read, 15u);
  EXPECT_EQ(summary->fds_written, 0u);
  EXPECT_EQ(summary->sockets_resolved, 7u);
  EXPECT_NE(by_type.text().find("\nsocket,tcp ESTABLISHED,2\n"), std::string::npos) << by_type.text();
}

TEST(FdInventory, AMissingFdDirectoryIsAnErrorNamingIt) {
  TempTree tree;
  StringSink fds, by_type;
  const auto summary = WriteFdInventory(FixtureFdOptions(tree), fds, by_type);
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.error().message.find(tree.Path("77/fd")), std::string::npos) << summary.error().message;
}

// ------------------------------------------------------------------------------------------------------------
// Live: this process's own /proc/self

// A thread that names itself and waits until released.
class NamedThread {
 public:
  explicit NamedThread(const std::string& name) {
    thread_ = std::thread([this, name] {
      ::pthread_setname_np(::pthread_self(), name.c_str());
      std::unique_lock<std::mutex> lock(mutex_);
      tid_ = ::gettid();
      ready_.notify_all();
      ready_.wait(lock, [this] { return released_; });
    });
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return tid_ != 0; });
  }
  ~NamedThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = true;
    }
    ready_.notify_all();
    thread_.join();
  }
  pid_t tid() {
    std::lock_guard<std::mutex> lock(mutex_);
    return tid_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  pid_t tid_ = 0;
  bool released_ = false;
  std::thread thread_;
};

uint64_t InodeOf(int fd) {
  struct stat status {};
  EXPECT_EQ(::fstat(fd, &status), 0);
  return status.st_ino;
}

TEST(InventoryLive, SeesItsOwnListenerPipeAndNamedThread) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  int pipe_ends[2];
  ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC), 0);
  NamedThread thread("lw,inv (x)");

  StringSink fds, by_type;
  const auto fd_summary = WriteFdInventory(FdInventoryOptions{}, fds, by_type);
  StringSink threads, by_name;
  const auto thread_summary = WriteThreadInventory(ThreadInventoryOptions{}, threads, by_name);
  const std::string socket_target = "socket:[" + std::to_string(InodeOf(listener)) + "]";
  const std::string pipe_target = "pipe:[" + std::to_string(InodeOf(pipe_ends[0])) + "]";
  ::close(listener);
  ::close(pipe_ends[0]);
  ::close(pipe_ends[1]);

  ASSERT_TRUE(fd_summary.ok()) << fd_summary.error().message;
  EXPECT_FALSE(fd_summary->truncated);
  EXPECT_GE(fd_summary->sockets_resolved, 1u);
  EXPECT_EQ(FindRow(fds.text(), 0, std::to_string(listener)),
            (Row{std::to_string(listener), "socket", socket_target,
                 "tcp 127.0.0.1:" + std::to_string(port) + " LISTEN"}))
      << fds.text();
  EXPECT_EQ(FindRow(fds.text(), 0, std::to_string(pipe_ends[0])),
            (Row{std::to_string(pipe_ends[0]), "pipe", pipe_target, ""}));
  EXPECT_NE(by_type.text().find("\nsocket,tcp LISTEN,"), std::string::npos) << by_type.text();
  // The directory fd the inventory lists through is not a row of its own.
  for (const Row& row : ParseCsv(fds.text())) {
    ASSERT_EQ(row.size(), 4u);
    EXPECT_NE(row[2], "/proc/" + std::to_string(::getpid()) + "/fd");
  }

  ASSERT_TRUE(thread_summary.ok()) << thread_summary.error().message;
  EXPECT_GE(thread_summary->threads, 2u);
  const Row row = FindRow(threads.text(), 0, std::to_string(thread.tid()));
  ASSERT_EQ(row.size(), 5u) << threads.text();
  EXPECT_EQ(row[1], "lw,inv (x)");
  EXPECT_NE(threads.text().find(",\"lw,inv (x)\","), std::string::npos);
  EXPECT_EQ(FindRow(by_name.text(), 0, "lw,inv (x)"), (Row{"lw,inv (x)", "1"})) << by_name.text();
  const Row main_row = FindRow(threads.text(), 0, std::to_string(::getpid()));
  ASSERT_EQ(main_row.size(), 5u);
  EXPECT_EQ(main_row[2].size(), 1u);
}

}  // namespace
}  // namespace leakwatch::internal
