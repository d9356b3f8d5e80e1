/* The C API from a C program (C11, -pedantic): start from a config file, read values and compare them with
 * /proc/self, capture a bundle, check the handle is inert in a forked child, stop. Prints one line per check
 * ("ok ..." or "FAIL ...") and exits 0 only when every check passed.
 *
 *   capi_test <config.yml> <bundle dir>
 */
#include <dirent.h>
#include <leakwatch/leakwatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures = 0;

static void check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) ++failures;
}

static double statm_rss_bytes(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f == NULL) return -1;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
  fclose(f);
  return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

static double status_threads(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  double threads = -1;
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "Threads:", 8) == 0) threads = atof(line + 8);
  }
  fclose(f);
  return threads;
}

int main(int argc, char** argv) {
  char error[512] = "";
  char out[1024] = "";
  double value = 0;
  leakwatch_agent* agent;
  struct stat st;
  pid_t child;
  int status = 0;

  if (argc != 3) {
    fprintf(stderr, "usage: capi_test <config.yml> <bundle dir>\n");
    return 2;
  }
  check(strlen(leakwatch_version()) > 0, "leakwatch_version");

  /* A config file that does not parse: NULL and a message naming the file. */
  agent = leakwatch_start("/nonexistent/leakwatch.yml", error, sizeof error);
  check(agent == NULL && strstr(error, "/nonexistent/leakwatch.yml") != NULL, "bad config path is reported");
  /* A truncated error buffer is still terminated. */
  agent = leakwatch_start("/nonexistent/leakwatch.yml", error, 8);
  check(agent == NULL && strlen(error) == 7, "error message truncated to the buffer");

  agent = leakwatch_start(argv[1], error, sizeof error);
  if (agent == NULL) {
    printf("FAIL leakwatch_start: %s\n", error);
    return 1;
  }
  check(leakwatch_http_port(agent) > 0, "metrics endpoint bound (port 0 picked a port)");

  check(leakwatch_read(agent, "rss_bytes", &value) == LEAKWATCH_OK, "read rss_bytes");
  {
    const double proc = statm_rss_bytes();
    check(fabs(value - proc) < 0.2 * proc + 4.0 * 1024 * 1024, "rss_bytes agrees with /proc/self/statm");
  }
  check(
      leakwatch_read(agent, "threads", &value) == LEAKWATCH_OK && value >= 2 && value <= status_threads() + 1,
      "threads agrees with /proc/self/status");
  check(leakwatch_read(agent, "open_fds", &value) == LEAKWATCH_OK && value >= 3, "read open_fds");
  check(leakwatch_read(agent, "max_fds", &value) == LEAKWATCH_OK && value == (double)sysconf(_SC_OPEN_MAX),
        "max_fds is the soft limit");
  check(leakwatch_read(agent, "no_such_signal", &value) == LEAKWATCH_ERROR, "unknown key is an error");
  check(leakwatch_read(NULL, "rss_bytes", &value) == LEAKWATCH_ERROR, "NULL handle is an error");
  {
    const int rc = leakwatch_read(agent, "cgroup_memory_high_bytes", &value);
    check(rc == LEAKWATCH_OK || rc == LEAKWATCH_ABSENT, "an absent signal is LEAKWATCH_ABSENT, not an error");
  }

  check(leakwatch_capture(agent, "from C", 30000, out, sizeof out) == LEAKWATCH_OK, "capture");
  check(strncmp(out, argv[2], strlen(argv[2])) == 0 && stat(out, &st) == 0 && S_ISDIR(st.st_mode),
        "the bundle directory exists in the configured dir");

  /* In a forked child the parent's handle is inert and stopping it only frees it. */
  fflush(stdout);
  child = fork();
  if (child == 0) {
    int inert = leakwatch_read(agent, "rss_bytes", &value) == LEAKWATCH_ERROR &&
                leakwatch_capture(agent, "child", 1000, out, sizeof out) == LEAKWATCH_ERROR &&
                strstr(out, "parent") != NULL && leakwatch_http_port(agent) == 0;
    leakwatch_stop(agent);
    _exit(inert ? 0 : 1);
  }
  waitpid(child, &status, 0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "handle inert in a forked child; stop there is safe");
  check(leakwatch_read(agent, "rss_bytes", &value) == LEAKWATCH_OK, "parent's agent unaffected by the child");

  leakwatch_stop(agent);
  leakwatch_stop(NULL);
  check(1, "stopped");
  printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
