#!/bin/sh
# Captures tests/fixtures/cgroup-v1 from the running kernel's cgroup v1 memory and pids hierarchies.
#
# Usage (as root, on a host with v1 memory at /sys/fs/cgroup/memory and v1 pids at /sys/fs/cgroup/pids):
#   tests/unit/cgroup/capture_v1_fixture.sh tests/fixtures/cgroup-v1
#
# It creates /leakwatch-fixture (limit 512 MiB) with two children, limited (256 MiB) and unlimited, in the memory
# hierarchy and /leakwatch-fixture (pids.max 128) in the pids hierarchy; starts one workload process in each child
# (anon, page cache, tmpfs and TCP buffer memory); provokes one OOM kill in `limited`; copies every readable file
# of the three memory cgroups and the pids cgroup, /proc/<workload>/cgroup, /proc/<workload>/mountinfo,
# /proc/pressure/memory and the unified hierarchy's cgroup.controllers into the tree; then removes everything it
# created. See tests/fixtures/cgroup-capture.md.
set -eu

OUT=$(realpath "$1")
MEM=/sys/fs/cgroup/memory
PIDS=/sys/fs/cgroup/pids
UNIFIED=/sys/fs/cgroup/unified
NAME=leakwatch-fixture
WORK=$(mktemp -d /tmp/leakwatch-capture.XXXXXX)
SHM=/dev/shm/leakwatch-capture-$$

[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
[ -f "$MEM/memory.usage_in_bytes" ] || { echo "no cgroup v1 memory hierarchy at $MEM" >&2; exit 1; }
[ -f "$PIDS/cgroup.procs" ] || { echo "no cgroup v1 pids hierarchy at $PIDS" >&2; exit 1; }

cat > "$WORK/workload.c" <<'CEOF'
// workload <anon MiB> <file MiB> <shm MiB> <shm path> <data path> <ready path> | workload leak
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc == 2) {  // leak until the OOM killer ends us
    for (;;) { char* p = malloc(1 << 20); if (p) memset(p, 1, 1 << 20); }
  }
  if (argc != 7) return 2;
  size_t mib = 1 << 20;
  size_t anon = strtoul(argv[1], 0, 10) * mib, file = strtoul(argv[2], 0, 10) * mib,
         shm = strtoul(argv[3], 0, 10) * mib;
  char* a = malloc(anon); memset(a, 7, anon);
  int fd = open(argv[5], O_CREAT | O_TRUNC | O_WRONLY, 0600);
  char buf[65536]; memset(buf, 3, sizeof buf);
  for (size_t i = 0; i < file; i += sizeof buf) if (write(fd, buf, sizeof buf) < 0) return 3;
  close(fd);
  int sfd = open(argv[4], O_CREAT | O_RDWR, 0600);
  if (ftruncate(sfd, (off_t)shm) != 0) return 4;
  char* s = mmap(0, shm, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0); memset(s, 5, shm);
  // A loopback TCP connection with unread data keeps socket buffers charged (v1: memory.kmem.tcp.*).
  int l = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET; sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  bind(l, (struct sockaddr*)&sa, len); listen(l, 1); getsockname(l, (struct sockaddr*)&sa, &len);
  int c = socket(AF_INET, SOCK_STREAM, 0); connect(c, (struct sockaddr*)&sa, len);
  int srv = accept(l, 0, 0); (void)srv;
  for (int i = 0; i < 16; i++) if (send(c, buf, sizeof buf, MSG_DONTWAIT) < 0) break;
  FILE* r = fopen(argv[6], "w"); fputs("ready\n", r); fclose(r);
  for (;;) pause();
}
CEOF
cc -O1 -o "$WORK/workload" "$WORK/workload.c"

cleanup() {
  for p in ${PID_A:-} ${PID_B:-}; do kill -KILL "$p" 2>/dev/null || true; done
  sleep 1
  rm -f "$SHM" "$SHM-b" "$WORK/data-a" "$WORK/data-b"
  for d in "$MEM/$NAME/limited" "$MEM/$NAME/unlimited" "$MEM/$NAME" "$PIDS/$NAME"; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir "$MEM/$NAME" "$MEM/$NAME/limited" "$MEM/$NAME/unlimited" "$PIDS/$NAME"
echo 536870912 > "$MEM/$NAME/memory.limit_in_bytes"
echo 268435456 > "$MEM/$NAME/limited/memory.limit_in_bytes"
# v1 charges TCP buffers to memory.kmem.tcp.* only once a TCP limit is set on the cgroup.
echo 67108864 > "$MEM/$NAME/limited/memory.kmem.tcp.limit_in_bytes"
echo 128 > "$PIDS/$NAME/pids.max"

# run_in <memory child> <command...>: starts the command inside the memory child and the pids cgroup.
run_in() {
  child=$1; shift
  sh -c 'echo $$ > "$1/cgroup.procs"; echo $$ > "$2/cgroup.procs"; shift 2; exec "$@"' \
    sh "$MEM/$NAME/$child" "$PIDS/$NAME" "$@" &
}

# One OOM kill (and failcnt > 0) in `limited` before the measured workload starts.
run_in limited "$WORK/workload" leak
wait $! || echo "leaker exited with $? (137 = SIGKILL by the OOM killer)"

run_in limited "$WORK/workload" 24 8 2 "$SHM" "$WORK/data-a" "$WORK/ready-a"
PID_A=$!
run_in unlimited "$WORK/workload" 12 4 1 "$SHM-b" "$WORK/data-b" "$WORK/ready-b"
PID_B=$!
while [ ! -f "$WORK/ready-a" ] || [ ! -f "$WORK/ready-b" ]; do sleep 0.1; done
sleep 1

copy_dir() {  # copy_dir <src dir> <dst dir>: every readable regular file, as the kernel prints it
  mkdir -p "$2"
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    cat "$f" > "$2/$(basename "$f")" 2>/dev/null || rm -f "$2/$(basename "$f")"
  done
}

rm -rf "$OUT/sys"
mkdir -p "$OUT/proc/self" "$OUT/proc/pressure"
copy_dir "$MEM/$NAME/limited" "$OUT$MEM/$NAME/limited"
copy_dir "$MEM/$NAME/unlimited" "$OUT$MEM/$NAME/unlimited"
copy_dir "$MEM/$NAME" "$OUT$MEM/$NAME"
copy_dir "$PIDS/$NAME" "$OUT$PIDS/$NAME"
mkdir -p "$OUT$UNIFIED"
cat "$UNIFIED/cgroup.controllers" > "$OUT$UNIFIED/cgroup.controllers"
cat "/proc/$PID_A/cgroup" > "$OUT/proc/self/cgroup"
# Mounts under /mnt are host-specific tooling mounts, unrelated to cgroups: left out of the fixture.
grep -v ' /mnt/' "/proc/$PID_A/mountinfo" > "$OUT/proc/self/mountinfo"
cat /proc/pressure/memory > "$OUT/proc/pressure/memory"
echo "captured into $OUT (kernel $(uname -r)); workload A pid $PID_A in limited, B pid $PID_B in unlimited"
echo "/proc/$PID_B/cgroup was:"; cat "/proc/$PID_B/cgroup"
