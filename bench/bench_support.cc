#include "bench/bench_support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace leakwatch::bench {
namespace {

int64_t ClockNs(clockid_t clock) {
  struct timespec ts {};
  ::clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

uint64_t RaiseFdLimitToHard() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

uint64_t CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  uint64_t n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // the DIR's own fd
}

uint64_t CountThreads() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  // Field 3 (state) is the first after ")"; field 20 (num_threads) is the 18th.
  for (int i = 3; i <= 20 && fields >> field; ++i) {
    if (i == 20) return std::stoull(field);
  }
  return 0;
}

ProcessShape::~ProcessShape() {
  StopAllThreads();
  for (int fd : fds_) ::close(fd);
}

void* ProcessShape::IdleMain(void* self) {
  auto* shape = static_cast<ProcessShape*>(self);
  std::unique_lock lock(shape->mu_);
  shape->cv_.wait(lock, [shape] { return shape->stop_; });
  return nullptr;
}

bool ProcessShape::OpenOne() {
  // Rounds of: pipe, pipe, socketpair, /dev/null. Pairs only when two more fds are wanted (checked by
  // caller).
  const unsigned kind = open_round_++ % 4;
  int pair[2];
  if (kind <= 1) {
    if (::pipe2(pair, O_CLOEXEC) != 0) return false;
  } else if (kind == 2) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return false;
  } else {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    fds_.push_back(fd);
    return true;
  }
  fds_.push_back(pair[0]);
  fds_.push_back(pair[1]);
  return true;
}

bool ProcessShape::SetOpenFds(uint64_t total) {
  for (int guard = 0; guard < 4; ++guard) {
    uint64_t now = CountOpenFds();
    while (now < total) {
      if (total - now == 1) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        fds_.push_back(fd);
        ++now;
        continue;
      }
      const size_t before = fds_.size();
      if (!OpenOne()) return false;
      now += fds_.size() - before;
    }
    while (now > total) {
      if (fds_.empty()) return false;
      ::close(fds_.back());
      fds_.pop_back();
      --now;
    }
    if (CountOpenFds() == total) return true;
  }
  return CountOpenFds() == total;
}

bool ProcessShape::SetThreads(uint64_t total) {
  uint64_t now = CountThreads();
  if (now > total) {
    StopAllThreads();
    now = CountThreads();
    if (now > total) return false;
  }
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setstacksize(&attr, 64 * 1024);
  bool ok = true;
  for (; now < total; ++now) {
    pthread_t thread;
    if (::pthread_create(&thread, &attr, IdleMain, this) != 0) {
      ok = false;
      break;
    }
    threads_.push_back(thread);
  }
  ::pthread_attr_destroy(&attr);
  // Threads show up in /proc as soon as pthread_create returns; re-check anyway.
  return ok && CountThreads() == total;
}

void ProcessShape::StopAllThreads() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (pthread_t thread : threads_) ::pthread_join(thread, nullptr);
  threads_.clear();
  std::lock_guard lock(mu_);
  stop_ = false;
}

int64_t ThreadsCpuNs(const std::string& name_prefix) {
  int64_t total = 0;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string task = std::string("/proc/self/task/") + entry->d_name;
    std::ifstream comm(task + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind(name_prefix, 0) != 0) continue;
    std::ifstream schedstat(task + "/schedstat");
    int64_t ns = 0;
    if (schedstat >> ns) total += ns;
  }
  ::closedir(dir);
  return total;
}

int64_t ThreadCpuNs() { return ClockNs(CLOCK_THREAD_CPUTIME_ID); }
int64_t ProcessCpuNs() { return ClockNs(CLOCK_PROCESS_CPUTIME_ID); }

int HttpGet(int port, const std::string& path, size_t* response_bytes) {
  *response_bytes = 0;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int status = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 &&
      WriteAll(fd, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) {
    char buffer[16384];
    char head[16] = {};
    size_t total = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (total < sizeof(head) - 1) {
        std::memcpy(head + total, buffer, std::min(static_cast<size_t>(n), sizeof(head) - 1 - total));
      }
      total += static_cast<size_t>(n);
    }
    *response_bytes = total;
    int code = 0;
    if (std::sscanf(head, "HTTP/1.%*d %d", &code) == 1) status = code;
  }
  ::close(fd);
  return status;
}

}  // namespace leakwatch::bench
