#!/usr/bin/env bash
# bench/attach_overhead.sh: what the preload library costs the programs it is attached to, measured side by
# side in one run (docs/PERFORMANCE.md, "Attaching"):
#   start+exit  a program that does nothing (/bin/true) started RUNS times without and with the preload
#               (metrics on 127.0.0.1:0): the median wall time per run; the difference is the agent's start
#               (libraries loaded, first sample, threads, bind) plus its stop at exit.
#   fork+exec   a bash loop running /bin/true LOOP times, as a fork+exec-heavy host does: the children are
#               exec'd without the preload (LEAKWATCH_EXEC=clean), so what remains is the parent's fork() cost
#               with the agent's threads and pthread_atfork handlers.
#   fork        a bash loop of LOOP subshells `( : )`: fork() and exit only, no exec.
#   fork()      leakwatch_fork_latency: median fork() and fork()+waitpid() of a small C program, without the
#               preload, with 7 idle threads of its own and no leakwatch (the agent runs 7 threads: what any
#               threads cost a fork), and with the preload.
# Each pair alternates without/with for ROUNDS rounds and reports medians and the ratio.
#
#   BUILD_DIR=build bench/attach_overhead.sh
#   RUNS=40 LOOP=2000 ROUNDS=5 bench/attach_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
RUNS=${RUNS:-30}
LOOP=${LOOP:-1000}
ROUNDS=${ROUNDS:-5}
PRELOAD=$(realpath "$BUILD_DIR/lib/libleakwatch_preload.so" 2>/dev/null || true)
if [ ! -r "$PRELOAD" ]; then
  echo "attach_overhead: $BUILD_DIR/lib/libleakwatch_preload.so not found: build the leakwatch_preload target" >&2
  exit 1
fi
export LEAKWATCH_LOG_LEVEL=warn

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

# run_with <with: 0|1> <command...>: runs the command with or without the preload, prints wall ms.
run_with() {
  local with=$1; shift
  local start end
  start=$(now_ns)
  if [ "$with" = 1 ]; then
    env LD_PRELOAD="$PRELOAD" LEAKWATCH_LISTEN=127.0.0.1:0 "$@" >/dev/null
  else
    env "$@" >/dev/null
  fi
  end=$(now_ns)
  echo $(( (end - start) / 1000 ))  # µs
}

start_base=(); start_agent=()
for _ in $(seq "$RUNS"); do
  start_base+=("$(run_with 0 /bin/true)")
  start_agent+=("$(run_with 1 /bin/true)")
done
sb=$(printf '%s\n' "${start_base[@]}" | median)
sa=$(printf '%s\n' "${start_agent[@]}" | median)

loop_exec="i=0; while [ \$i -lt $LOOP ]; do /bin/true; i=\$((i+1)); done"
loop_fork="i=0; while [ \$i -lt $LOOP ]; do ( : ); i=\$((i+1)); done"
exec_base=(); exec_agent=(); fork_base=(); fork_agent=()
for _ in $(seq "$ROUNDS"); do
  exec_base+=("$(run_with 0 /bin/bash -c "$loop_exec")")
  exec_agent+=("$(run_with 1 /bin/bash -c "$loop_exec")")
  fork_base+=("$(run_with 0 /bin/bash -c "$loop_fork")")
  fork_agent+=("$(run_with 1 /bin/bash -c "$loop_fork")")
done
eb=$(printf '%s\n' "${exec_base[@]}" | median)
ea=$(printf '%s\n' "${exec_agent[@]}" | median)
fb=$(printf '%s\n' "${fork_base[@]}" | median)
fa=$(printf '%s\n' "${fork_agent[@]}" | median)

FORK_BIN="$BUILD_DIR/bench/leakwatch_fork_latency"
fork_cols=""
if [ -x "$FORK_BIN" ]; then
  fb_plain=(); fb_threads=(); fb_agent=(); fw_plain=(); fw_threads=(); fw_agent=()
  for _ in $(seq "$ROUNDS"); do
    read -r f w < <("$FORK_BIN" "$LOOP" 0); fb_plain+=("$f"); fw_plain+=("$w")
    read -r f w < <("$FORK_BIN" "$LOOP" 7); fb_threads+=("$f"); fw_threads+=("$w")
    read -r f w < <(env LD_PRELOAD="$PRELOAD" LEAKWATCH_LISTEN=127.0.0.1:0 "$FORK_BIN" "$LOOP" 0); fb_agent+=("$f"); fw_agent+=("$w")
  done
  fork_cols=1
fi

printf '%-34s %14s %14s %8s\n' "measure (median)" "without" "with preload" "ratio"
awk -v b="$sb" -v a="$sa" 'BEGIN {printf "%-34s %11.1f ms %11.1f ms %8.2f\n", "start+exit of /bin/true", b/1000, a/1000, a/b}'
awk -v b="$eb" -v a="$ea" -v n="$LOOP" 'BEGIN {printf "%-34s %11.1f µs %11.1f µs %8.3f\n", "fork+exec of /bin/true, per child", b/n, a/n, a/b}'
awk -v b="$fb" -v a="$fa" -v n="$LOOP" 'BEGIN {printf "%-34s %11.1f µs %11.1f µs %8.3f\n", "fork of a subshell, per child", b/n, a/n, a/b}'
if [ -n "$fork_cols" ]; then
  p=$(printf '%s\n' "${fb_plain[@]}" | median); t=$(printf '%s\n' "${fb_threads[@]}" | median); a=$(printf '%s\n' "${fb_agent[@]}" | median)
  awk -v b="$p" -v a="$a" -v t="$t" 'BEGIN {printf "%-34s %11.1f µs %11.1f µs %8.2f   (7 idle threads, no leakwatch: %.1f µs)\n", "fork() in a C program", b, a, a/b, t}'
  p=$(printf '%s\n' "${fw_plain[@]}" | median); t=$(printf '%s\n' "${fw_threads[@]}" | median); a=$(printf '%s\n' "${fw_agent[@]}" | median)
  awk -v b="$p" -v a="$a" -v t="$t" 'BEGIN {printf "%-34s %11.1f µs %11.1f µs %8.2f   (7 idle threads, no leakwatch: %.1f µs)\n", "fork()+waitpid() in a C program", b, a, a/b, t}'
fi
echo "($RUNS start+exit runs, $ROUNDS rounds of $LOOP children; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg))"
