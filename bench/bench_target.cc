// bench_target: a process of a given shape for bench/compare.sh to point the tools at.
//
//   bench_target --name COMM --fds N --threads T
//
// Sets its comm to COMM (so an exporter can match it by name; threads inherit it), raises RLIMIT_NOFILE to
// the hard limit, opens fds until it has N open (pipes, socketpairs, /dev/null), starts idle threads until it
// has T threads (blocked on a condition variable), prints "ready fds=N threads=T" and then sleeps until
// killed.

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_support.h"

int main(int argc, char** argv) {
  std::string name = "bench_target";
  long fds = 10;
  long threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--name")
      name = argv[i + 1];
    else if (arg == "--fds")
      fds = std::strtol(argv[i + 1], nullptr, 10);
    else if (arg == "--threads")
      threads = std::strtol(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: bench_target --name COMM --fds N --threads T\n");
      return 1;
    }
  }
  if (fds < 3 || threads < 1) {
    std::fprintf(stderr, "bench_target: need --fds >= 3 and --threads >= 1\n");
    return 1;
  }
  ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  leakwatch::bench::RaiseFdLimitToHard();
  leakwatch::bench::ProcessShape shape;
  if (!shape.SetOpenFds(static_cast<uint64_t>(fds)) || !shape.SetThreads(static_cast<uint64_t>(threads))) {
    std::fprintf(stderr, "bench_target: could not reach %ld fds / %ld threads\n", fds, threads);
    return 1;
  }
  std::printf("ready fds=%llu threads=%llu\n",
              static_cast<unsigned long long>(leakwatch::bench::CountOpenFds()),
              static_cast<unsigned long long>(leakwatch::bench::CountThreads()));
  std::fflush(stdout);
  for (;;) ::pause();
}
