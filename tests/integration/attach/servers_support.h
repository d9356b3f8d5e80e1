#pragma once
// Helpers of the attach servers test (servers_test.cc): talking to real Debian servers over loopback TCP
// (redis's RESP, memcached's text protocol), reading what the test compares the agent against in /proc, and
// the agent's discovery files. Deliberately independent of leakwatch's own code: they are the other side of
// the comparison.
//
// Thread-safety: none needed; one test thread uses them. Every wait is bounded by the caller's timeout.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::integration::attach {

// True when a TCP connection to 127.0.0.1:<port> succeeds now.
bool PortAccepts(int port);

// Polls `done` every 50 ms until it returns true or `timeout` passes; returns its last answer.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// One blocking TCP connection to 127.0.0.1:<port>, closed on destruction.
class TcpSession {
 public:
  static Result<TcpSession> Connect(int port, std::chrono::milliseconds timeout);
  TcpSession(TcpSession&& other) noexcept;
  TcpSession& operator=(TcpSession&&) = delete;
  TcpSession(const TcpSession&) = delete;
  TcpSession& operator=(const TcpSession&) = delete;
  ~TcpSession();

  Status Send(std::string_view bytes);
  // Reads until complete(buffer) returns the length of a complete reply at the start of the buffer (> 0);
  // that reply is removed from the buffer and returned. Fails on timeout, EOF or a socket error.
  Result<std::string> Receive(const std::function<size_t(std::string_view)>& complete,
                              std::chrono::milliseconds timeout);
  // Reads until the peer closes the connection (or timeout); returns what arrived meanwhile.
  std::string ReceiveUntilClosed(std::chrono::milliseconds timeout);

 private:
  explicit TcpSession(int fd, int port) : fd_(fd), port_(port) {}
  int fd_;
  int port_;
  std::string buffer_;
};

// Redis: a command as a RESP array of bulk strings.
std::string RespCommand(const std::vector<std::string>& words);
// Length of the complete RESP reply at the start of `buffer` (simple string, error, integer, bulk string or
// array, nested), or 0 while it is incomplete.
size_t RespReplyLength(std::string_view buffer);
// The payload of a bulk-string reply ("$5\r\nhello\r\n" -> "hello"); the input unchanged otherwise.
std::string RespBulkPayload(const std::string& reply);
// "key:value" lines of an INFO payload.
std::map<std::string, std::string> ParseRedisInfo(const std::string& payload);

// memcached: length of a complete reply at the start of `buffer`, where `multi_line` replies (get, stats) end
// with "END\r\n" and the others are one line.
size_t MemcachedReplyLength(std::string_view buffer, bool multi_line);
// "STAT name value" lines of a stats reply.
std::map<std::string, std::string> ParseMemcachedStats(const std::string& reply);

// /proc/<pid>/statm resident pages × page size.
std::optional<uint64_t> StatmRssBytes(pid_t pid);
// "Threads:" of /proc/<pid>/status.
std::optional<uint64_t> StatusThreads(pid_t pid);
// comm of every thread of the process (/proc/<pid>/task/*/comm), in no particular order.
std::vector<std::string> ThreadNames(pid_t pid);
// Processes whose parent is `parent` (from /proc/*/stat), ascending.
std::vector<pid_t> ChildPids(pid_t parent);
// The process's comm (/proc/<pid>/comm without the newline); "" when it is gone.
std::string ProcessName(pid_t pid);
// Whether the process exists and is not a zombie.
bool ProcessAlive(pid_t pid);

// Names of the regular files in `dir` that match leakwatch-<digits>.json (the agent's discovery files).
std::vector<std::string> DiscoveryFiles(const std::string& dir);

// What one discovery file says: the agent's port (from targets[0], "127.0.0.1:PORT") and the whole text.
struct Discovery {
  int port = 0;
  std::string host;
  std::string text;
};
Result<Discovery> ReadDiscoveryFile(const std::string& path);

// Every sample `name{...} value` of a Prometheus text exposition with its labels (unescaped), in order.
struct LabeledSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};
std::vector<LabeledSample> FindLabeledSamples(std::string_view exposition, std::string_view name);

// Lines of a text, without their '\n'.
std::vector<std::string> SplitLines(const std::string& text);

}  // namespace leakwatch::integration::attach
