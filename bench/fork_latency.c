/* bench/fork_latency: the cost of fork() in the calling process, as a host that forks sees it.
 *
 *   fork_latency [N] [THREADS]
 *
 * Starts THREADS idle threads (default 0: a reference for "a process with threads", with no leakwatch in
 * it), waits 300 ms (an attached agent is up by then), then forks N times (default 1000); each child _exit()s
 * at once. Prints the medians of fork() (until it returns in the parent) and of fork()+waitpid().
 * bench/attach_overhead.sh runs it with and without the preload library. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double NowMicros(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int Compare(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static void* Idle(void* unused) {
  (void)unused;
  for (;;) pause();
  return NULL;
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 1000;
  const int threads = argc > 2 ? atoi(argv[2]) : 0;
  double* fork_us = malloc((size_t)n * sizeof(double));
  double* cycle_us = malloc((size_t)n * sizeof(double));
  if (n <= 0 || fork_us == NULL || cycle_us == NULL) return 2;
  for (int i = 0; i < threads; ++i) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, Idle, NULL) != 0) return 2;
  }
  usleep(300000);
  for (int i = 0; i < n; ++i) {
    const double start = NowMicros();
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    const double forked = NowMicros();
    waitpid(pid, NULL, 0);
    fork_us[i] = forked - start;
    cycle_us[i] = NowMicros() - start;
  }
  qsort(fork_us, (size_t)n, sizeof(double), Compare);
  qsort(cycle_us, (size_t)n, sizeof(double), Compare);
  printf("%.1f %.1f\n", fork_us[n / 2], cycle_us[n / 2]);
  return 0;
}
