// A preforking server for the attach tests, knowing nothing of leakwatch: the parent binds a TCP listener,
// forks N workers that accept on it (each answers "<pid>\n" and closes), then prints "ready <port>" and
// waits. A line "quit" on stdin makes it send SIGTERM to the workers, reap them, and print one line per
// worker: "worker <pid> exited <status>". Its exit status is 0 when every worker exited with 0, else 1.
//
//   prefork_host <workers>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void OnTerm(int) { g_stop = 1; }

int Worker(int listener) {
  struct sigaction action {};
  action.sa_handler = &OnTerm;
  sigaction(SIGTERM, &action, nullptr);
  std::vector<char*> blocks;  // some allocation activity, as a real worker has
  while (!g_stop) {
    const int client = accept(listener, nullptr, nullptr);
    if (client < 0) continue;  // EINTR on SIGTERM
    blocks.push_back(static_cast<char*>(std::malloc(4096)));
    const std::string reply = std::to_string(getpid()) + "\n";
    (void)!write(client, reply.data(), reply.size());
    close(client);
  }
  for (char* b : blocks) std::free(b);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int workers = argc > 1 ? std::atoi(argv[1]) : 2;
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 64) != 0) {
    std::perror("prefork_host: listen");
    return 2;
  }
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);

  std::vector<pid_t> children;
  for (int i = 0; i < workers; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("prefork_host: fork");
      return 2;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that fails half-way leaves no worker behind
      _exit(Worker(listener));
    }
    children.push_back(pid);
  }
  std::printf("ready %d\n", ntohs(address.sin_port));
  std::fflush(stdout);

  char line[64];
  while (std::fgets(line, sizeof(line), stdin) != nullptr && std::strncmp(line, "quit", 4) != 0) {
  }
  for (const pid_t pid : children) kill(pid, SIGTERM);
  int failures = 0;
  for (const pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    failures += ok ? 0 : 1;
    std::printf("worker %d exited %d\n", static_cast<int>(pid), status);
  }
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}
