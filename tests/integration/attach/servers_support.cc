#include "tests/integration/attach/servers_support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

namespace leakwatch::integration::attach {
namespace {

using Clock = std::chrono::steady_clock;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Index just past the "\r\n" that ends the line starting at `from`, or npos.
size_t LineEnd(std::string_view buffer, size_t from) {
  const size_t crlf = buffer.find("\r\n", from);
  return crlf == std::string_view::npos ? std::string_view::npos : crlf + 2;
}

// Length of the RESP value at `from`, or 0 while incomplete.
size_t RespValueLength(std::string_view buffer, size_t from) {
  if (from >= buffer.size()) return 0;
  const size_t end = LineEnd(buffer, from);
  if (end == std::string_view::npos) return 0;
  const char type = buffer[from];
  if (type == '+' || type == '-' || type == ':') return end - from;
  const long long n = std::strtoll(std::string(buffer.substr(from + 1, end - from - 3)).c_str(), nullptr, 10);
  if (type == '$') {
    if (n < 0) return end - from;
    const size_t total = end + static_cast<size_t>(n) + 2;
    return total <= buffer.size() ? total - from : 0;
  }
  if (type == '*') {
    size_t at = end;
    for (long long i = 0; i < n; ++i) {
      const size_t len = RespValueLength(buffer, at);
      if (len == 0) return 0;
      at += len;
    }
    return at - from;
  }
  return end - from;  // unknown type: one line, so the caller sees it
}

}  // namespace

bool PortAccepts(int port) {
  auto session = TcpSession::Connect(port, std::chrono::milliseconds(500));
  return session.ok();
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<TcpSession> TcpSession::Connect(int port, std::chrono::milliseconds timeout) {
  const std::string where = "127.0.0.1:" + std::to_string(port);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{"socket: " + std::string(std::strerror(errno))};
  const sockaddr_in addr = Loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      const int err = errno;
      ::close(fd);
      return Error{"connect " + where + ": " + std::strerror(err)};
    }
    pollfd p{fd, POLLOUT, 0};
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    int err = 0;
    socklen_t len = sizeof err;
    if (r <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ::close(fd);
      return Error{"connect " + where + ": " + (r <= 0 ? std::string("timed out") : std::strerror(err))};
    }
  }
  return TcpSession(fd, port);
}

TcpSession::TcpSession(TcpSession&& other) noexcept
    : fd_(other.fd_), port_(other.port_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
}

TcpSession::~TcpSession() {
  if (fd_ >= 0) ::close(fd_);
}

Status TcpSession::Send(std::string_view bytes) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Error{"send to 127.0.0.1:" + std::to_string(port_) + ": " + std::strerror(errno)};
    }
    if (Clock::now() >= deadline) return Error{"send to 127.0.0.1:" + std::to_string(port_) + ": timed out"};
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, 100);
  }
  return OkStatus();
}

Result<std::string> TcpSession::Receive(const std::function<size_t(std::string_view)>& complete,
                                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (const size_t n = complete(buffer_); n > 0) {
      std::string reply = buffer_.substr(0, n);
      buffer_.erase(0, n);
      return reply;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Error{"no complete reply from 127.0.0.1:" + std::to_string(port_) + " within " +
                   std::to_string(timeout.count()) + " ms; received so far: \"" + buffer_ + "\""};
    }
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) {
      return Error{"127.0.0.1:" + std::to_string(port_) + " closed the connection; received so far: \"" +
                   buffer_ + "\""};
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Error{"recv from 127.0.0.1:" + std::to_string(port_) + ": " + std::strerror(errno)};
    }
    if (n > 0) buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::string TcpSession::ReceiveUntilClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) buffer_.append(buf, static_cast<size_t>(n));
  }
  std::string all = std::move(buffer_);
  buffer_.clear();
  return all;
}

std::string RespCommand(const std::vector<std::string>& words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (const auto& w : words) out += "$" + std::to_string(w.size()) + "\r\n" + w + "\r\n";
  return out;
}

size_t RespReplyLength(std::string_view buffer) { return RespValueLength(buffer, 0); }

std::string RespBulkPayload(const std::string& reply) {
  if (reply.empty() || reply[0] != '$') return reply;
  const size_t end = reply.find("\r\n");
  if (end == std::string::npos || reply.size() < end + 4) return reply;
  return reply.substr(end + 2, reply.size() - end - 4);
}

std::map<std::string, std::string> ParseRedisInfo(const std::string& payload) {
  std::map<std::string, std::string> out;
  for (std::string line : SplitLines(payload)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

size_t MemcachedReplyLength(std::string_view buffer, bool multi_line) {
  if (!multi_line) {
    const size_t end = LineEnd(buffer, 0);
    return end == std::string_view::npos ? 0 : end;
  }
  // Every line until one that is END (or an error line, which ends the reply too).
  size_t at = 0;
  while (true) {
    const size_t end = LineEnd(buffer, at);
    if (end == std::string_view::npos) return 0;
    const std::string_view line = buffer.substr(at, end - at - 2);
    if (line == "END" || line == "ERROR" || line.rfind("CLIENT_ERROR", 0) == 0 ||
        line.rfind("SERVER_ERROR", 0) == 0) {
      return end;
    }
    if (line.rfind("VALUE ", 0) == 0) {
      // VALUE <key> <flags> <bytes>: the data block follows, then "\r\n".
      std::istringstream words{std::string(line)};
      std::string value, key, flags;
      size_t bytes = 0;
      words >> value >> key >> flags >> bytes;
      if (buffer.size() < end + bytes + 2) return 0;
      at = end + bytes + 2;
      continue;
    }
    at = end;
  }
}

std::map<std::string, std::string> ParseMemcachedStats(const std::string& reply) {
  std::map<std::string, std::string> out;
  for (std::string line : SplitLines(reply)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream words(line);
    std::string stat, name, value;
    if (words >> stat >> name && stat == "STAT") {
      std::getline(words, value);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      out[name] = value;
    }
  }
  return out;
}

std::optional<uint64_t> StatmRssBytes(pid_t pid) {
  const auto text = ReadFile("/proc/" + std::to_string(pid) + "/statm");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  uint64_t size = 0;
  uint64_t resident = 0;
  if (!(in >> size >> resident)) return std::nullopt;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::optional<uint64_t> StatusThreads(pid_t pid) {
  const auto text = ReadFile("/proc/" + std::to_string(pid) + "/status");
  if (!text) return std::nullopt;
  for (const auto& line : SplitLines(*text)) {
    if (line.rfind("Threads:", 0) == 0) return std::strtoull(line.c_str() + 8, nullptr, 10);
  }
  return std::nullopt;
}

std::vector<std::string> ThreadNames(pid_t pid) {
  std::vector<std::string> names;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto comm = ReadFile(dir + "/" + e->d_name + "/comm");
    if (!comm) continue;
    if (!comm->empty() && comm->back() == '\n') comm->pop_back();
    names.push_back(*comm);
  }
  ::closedir(d);
  return names;
}

std::vector<pid_t> ChildPids(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const char* name = e->d_name;
    if (name[0] < '0' || name[0] > '9') continue;
    const auto stat = ReadFile(std::string("/proc/") + name + "/stat");
    if (!stat) continue;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so parse after the last ')'.
    const size_t close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat->substr(close + 1));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent && state != "Z") out.push_back(std::atoi(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string ProcessName(pid_t pid) {
  auto comm = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  if (!comm) return "";
  if (!comm->empty() && comm->back() == '\n') comm->pop_back();
  return *comm;
}

bool ProcessAlive(pid_t pid) {
  const auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  const size_t close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

std::vector<std::string> DiscoveryFiles(const std::string& dir) {
  std::vector<std::string> out;
  static const std::regex kName("leakwatch-[0-9]+\\.json");
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    if (std::regex_match(e->d_name, kName)) out.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<Discovery> ReadDiscoveryFile(const std::string& path) {
  const auto text = ReadFile(path);
  if (!text) return Error{"cannot read " + path};
  Discovery d;
  d.text = *text;
  const auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_array() || json.size() != 1 || !json[0].is_object() || !json[0].contains("targets") ||
      !json[0]["targets"].is_array() || json[0]["targets"].size() != 1 ||
      !json[0]["targets"][0].is_string()) {
    return Error{path + " is not a file_sd file with one group of one target: " + *text};
  }
  const std::string target = json[0]["targets"][0];
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return Error{path + ": target \"" + target + "\" has no port"};
  d.host = target.substr(0, colon);
  d.port = std::atoi(target.c_str() + colon + 1);
  if (d.port <= 0 || d.port > 65535) return Error{path + ": target \"" + target + "\" has no valid port"};
  return d;
}

std::vector<LabeledSample> FindLabeledSamples(std::string_view exposition, std::string_view name) {
  std::vector<LabeledSample> out;
  for (const auto& line : SplitLines(std::string(exposition))) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    size_t at = name.size();
    LabeledSample sample;
    if (at < line.size() && line[at] == '{') {
      ++at;
      while (at < line.size() && line[at] != '}') {
        const size_t eq = line.find('=', at);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') break;
        const std::string key = line.substr(at, eq - at);
        std::string value;
        size_t i = eq + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
        }
        sample.labels[key] = value;
        at = i + 1;
        if (at < line.size() && line[at] == ',') ++at;
      }
      if (at >= line.size() || line[at] != '}') continue;
      ++at;
    }
    if (at >= line.size() || line[at] != ' ') continue;  // a longer metric name with the same prefix
    sample.value = std::strtod(line.c_str() + at + 1, nullptr);
    out.push_back(std::move(sample));
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace leakwatch::integration::attach
