#!/usr/bin/env bash
# bench/compare.sh: leakwatch's tick vs prometheus-process-exporter vs Python prometheus_client's
# ProcessCollector, in one run, against the same two target processes (docs/PERFORMANCE.md).
#
#   bench/compare.sh                     # after building build-bench (see docs/PERFORMANCE.md)
#   BUILD_DIR=build-x ROUNDS=5 TICKS=5000 SCRAPES_BIG=100 SCRAPES_SMALL=500 bench/compare.sh
#
# Targets (bench_target): "big" = 10,000 fds and 1,000 threads, "small" = 10 fds and 4 threads. For each target:
#   leakwatch   leakwatch_tick_probe --pid PID: median and p90 CPU per tick (CLOCK_THREAD_CPUTIME_ID) over TICKS
#               ticks, every-tick readers (ProcessReader + CgroupReader); also ProcessReader alone.
#   p-e         prometheus-process-exporter on 127.0.0.1 matching only the target's comm (-procnames), scraped
#               SCRAPES_BIG / SCRAPES_SMALL times by one curl (keep-alive); CPU per scrape = utime+stime of the exporter from
#               /proc/PID/stat (10 ms resolution: the counts keep the busy time in the seconds) over the scrapes,
#               minus its idle CPU over the same wall time, divided by the number of scrapes. Run twice: with its defaults (-threads=true -gather-smaps=true) and with
#               -threads=false -gather-smaps=false (closest to leakwatch's every-tick set).
#   python      ProcessCollector(pid=lambda: PID).collect() timed with time.process_time, PY_ITER calls in 10
#               batches; the median of the batch means.
# The whole sequence is repeated ROUNDS times (default 3) against the same targets and the table shows the median
# per tool over the rounds, so a change in the machine's load during the run does not favour one tool.
# Everything listens on 127.0.0.1 only; every loop is bounded; every process started here is killed by PID on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
TICKS=${TICKS:-2000}
SCRAPES_BIG=${SCRAPES_BIG:-50}
SCRAPES_SMALL=${SCRAPES_SMALL:-300}
PY_ITER=${PY_ITER:-2000}
ROUNDS=${ROUNDS:-3}
PROBE="$BUILD_DIR/bench/leakwatch_tick_probe"
TARGET="$BUILD_DIR/bench/bench_target"
EXPORTER=${EXPORTER:-prometheus-process-exporter}
PYTHON=${PYTHON:-/usr/bin/python3}  # Debian's python3-prometheus-client lives in the system interpreter

for tool in "$PROBE" "$TARGET"; do
  [[ -x "$tool" ]] || { echo "missing $tool: build $BUILD_DIR first (docs/PERFORMANCE.md)" >&2; exit 1; }
done
command -v "$EXPORTER" >/dev/null || { echo "missing $EXPORTER (apt-get install prometheus-process-exporter)" >&2; exit 1; }
command -v curl >/dev/null || { echo "missing curl" >&2; exit 1; }
"$PYTHON" -c 'import prometheus_client' 2>/dev/null || { echo "missing python3-prometheus-client" >&2; exit 1; }

WORK=$(mktemp -d /tmp/leakwatch-compare.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Kills one process started here and forgets its pid (so the EXIT trap never signals a recycled pid).
stop_pid() {
  local pid=$1 keep=() p
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
trap 'exit 130' INT TERM

CLK_TCK=$(getconf CLK_TCK)

# utime + stime (clock ticks) of a process, including its exited threads.
cpu_ticks() {
  local rest
  rest=$(sed 's/.*) //' "/proc/$1/stat")
  awk '{print $12 + $13}' <<<"$rest"
}

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_target NAME FDS THREADS VAR: starts a target and stores its pid in VAR once it reports ready.
# (Not run in a subshell, so the pid lands in PIDS and the EXIT trap kills it.)
start_target() {
  local name=$1 fds=$2 threads=$3 var=$4 out="$WORK/$1.out"
  "$TARGET" --name "$name" --fds "$fds" --threads "$threads" >"$out" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 200); do
    if grep -q '^ready' "$out"; then
      printf -v "$var" '%s' "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "target $name did not start: $(cat "$out")" >&2
  return 1
}

# exporter_cost TARGET_PID COMM LABEL SCRAPES [exporter flags...]: writes "cpu_ms_per_scrape wall_ms_per_scrape idle_ms
# fds threads series busy_s" to $WORK/pe-LABEL.result. Runs in this shell so the EXIT trap knows the exporter's pid.
exporter_cost() {
  local target_pid=$1 comm=$2 label=$3 scrapes=$4
  shift 4
  local port
  port=$(free_port)
  "$EXPORTER" -web.listen-address "127.0.0.1:$port" -procnames "$comm" "$@" >"$WORK/pe-$label.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local url="http://127.0.0.1:$port/metrics" ok=0
  for _ in $(seq 1 100); do
    if curl -sf -o /dev/null --max-time 5 "$url"; then ok=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ $ok == 1 ]] || { echo "process-exporter ($label) did not start: $(cat "$WORK/pe-$label.log")" >&2; return 1; }
  kill -0 "$target_pid" 2>/dev/null || { echo "target $comm (pid $target_pid) is gone" >&2; return 1; }
  # Warm up, then check that it really sees the target (one process with the target's fds and threads).
  curl -sf --max-time 30 "$url" >/dev/null
  curl -sf --max-time 30 "$url" >"$WORK/pe-$label.txt"
  grep -q "namedprocess_namegroup_num_procs{groupname=\"$comm\"} 1" "$WORK/pe-$label.txt" ||
    { echo "process-exporter ($label) does not see $comm" >&2; return 1; }
  local fds threads
  fds=$(awk -v g="$comm" '$1 == "namedprocess_namegroup_open_filedesc{groupname=\"" g "\"}" {print $2}' "$WORK/pe-$label.txt")
  threads=$(awk -v g="$comm" '$1 == "namedprocess_namegroup_num_threads{groupname=\"" g "\"}" {print $2}' "$WORK/pe-$label.txt")
  local series
  series=$(grep -vc '^#' "$WORK/pe-$label.txt")

  local c0 c1 t0 t1
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  # One curl, SCRAPES requests on one keep-alive connection (as Prometheus does); [1-N] is curl's URL glob.
  curl -sf --max-time 600 -o /dev/null "$url?scrape=[1-$scrapes]"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  local wall
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  # Idle baseline over the same wall time (at least 2 s).
  local i0 i1 idle_wall
  idle_wall=$(awk -v w="$wall" 'BEGIN {print (w < 2 ? 2 : w)}')
  i0=$(cpu_ticks "$pid")
  sleep "$idle_wall"
  i1=$(cpu_ticks "$pid")
  stop_pid "$pid"
  awk -v c0="$c0" -v c1="$c1" -v i0="$i0" -v i1="$i1" -v hz="$CLK_TCK" -v n="$scrapes" -v w="$wall" \
      -v iw="$idle_wall" -v f="$fds" -v t="$threads" -v s="$series" 'BEGIN {
    busy = (c1 - c0) / hz; idle = (i1 - i0) / hz * (w / iw);
    printf "%.3f %.3f %.1f %s %s %s %.2f\n", (busy - idle) / n * 1000, w / n * 1000, idle * 1000, f, t, s, busy
  }' >"$WORK/pe-$label.result"
}

python_cost() {
  "$PYTHON" - "$1" "$PY_ITER" <<'EOF'
import statistics, sys, time
from prometheus_client.process_collector import ProcessCollector
pid, total = int(sys.argv[1]), int(sys.argv[2])
collector = ProcessCollector(pid=lambda: pid, registry=None)
metrics = list(collector.collect())
names = {m.name: m.samples[0].value for m in metrics}
batches, per = [], max(1, total // 10)
for _ in range(10):
    t0 = time.process_time()
    for _ in range(per):
        list(collector.collect())
    batches.append((time.process_time() - t0) / per * 1e6)
print("%.1f %.1f %d %d" % (statistics.median(batches), max(batches), names.get("process_open_fds", -1), len(metrics)))
EOF
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

echo "# leakwatch compare: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# machine: nproc=$(nproc) kernel=$(uname -r) cpu='$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)'"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ROUNDS=$ROUNDS TICKS=$TICKS SCRAPES_BIG=$SCRAPES_BIG SCRAPES_SMALL=$SCRAPES_SMALL PY_ITER=$PY_ITER exporter=$("$EXPORTER" -version 2>&1 | head -1)"

BIG='' SMALL=''
start_target lwbt_big 10000 1000 BIG
start_target lwbt_small 10 4 SMALL
echo "# targets: big pid $BIG ($(cat "$WORK/lwbt_big.out")), small pid $SMALL ($(cat "$WORK/lwbt_small.out"))"

# median of the numbers in $1 (space-separated)
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for t in big small; do
    if [[ $t == big ]]; then
      pid=$BIG comm=lwbt_big scrapes=$SCRAPES_BIG
    else
      pid=$SMALL comm=lwbt_small scrapes=$SCRAPES_SMALL
    fi
    out=$("$PROBE" --pid "$pid" --iterations "$TICKS" --readers all)
    echo "# round $round leakwatch $t: $out"
    R[$t,lw_med]+=" $(field cpu_median_us "$out")"
    R[$t,lw_p90]+=" $(field cpu_p90_us "$out")"
    R[$t,lw_sig]=$(field signals "$out")
    out=$("$PROBE" --pid "$pid" --iterations "$TICKS" --readers process)
    echo "# round $round leakwatch $t (ProcessReader only): $out"
    R[$t,lwp_med]+=" $(field cpu_median_us "$out")"
    R[$t,lwp_p90]+=" $(field cpu_p90_us "$out")"

    exporter_cost "$pid" "$comm" "$t-default" "$scrapes"
    read -r ms wall idle fds threads series busy <"$WORK/pe-$t-default.result"
    echo "# round $round process-exporter $t defaults: scrapes=$scrapes cpu_ms_per_scrape=$ms wall_ms_per_scrape=$wall idle_ms_subtracted=$idle busy_s=$busy sees fds=$fds threads=$threads series=$series"
    R[$t,pe_def]+=" $ms"
    exporter_cost "$pid" "$comm" "$t-min" "$scrapes" -threads=false -gather-smaps=false
    read -r ms wall idle fds threads series busy <"$WORK/pe-$t-min.result"
    echo "# round $round process-exporter $t -threads=false -gather-smaps=false: scrapes=$scrapes cpu_ms_per_scrape=$ms wall_ms_per_scrape=$wall idle_ms_subtracted=$idle busy_s=$busy sees fds=$fds threads=$threads series=$series"
    R[$t,pe_min]+=" $ms"

    python_cost "$pid" >"$WORK/py-$t.result"
    read -r py_med py_max py_fds py_metrics <"$WORK/py-$t.result"
    echo "# round $round python ProcessCollector $t: median_us_per_collect=$py_med worst_batch_us=$py_max sees open_fds=$py_fds metrics=$py_metrics"
    R[$t,py]+=" $py_med"
    R[$t,py_metrics]=$py_metrics
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "Medians over $ROUNDS rounds. CPU per tick / scrape / collect; ratio = other tool / leakwatch tick."
echo
echo "| target | leakwatch tick (${R[big,lw_sig]} signals) median / p90 CPU µs | leakwatch ProcessReader only median / p90 µs | process-exporter defaults CPU µs/scrape (ratio) | process-exporter -threads=false -gather-smaps=false CPU µs/scrape (ratio) | Python ProcessCollector (${R[big,py_metrics]} metrics) CPU µs/collect (ratio) |"
echo "|---|---|---|---|---|---|"
for t in big small; do
  if [[ $t == big ]]; then label="10,000 fds, 1,000 threads"; else label="10 fds, 4 threads"; fi
  awk -v l="$label" -v m="$(median "${R[$t,lw_med]}")" -v p="$(median "${R[$t,lw_p90]}")" \
      -v pm="$(median "${R[$t,lwp_med]}")" -v pp="$(median "${R[$t,lwp_p90]}")" \
      -v d="$(median "${R[$t,pe_def]}")" -v n="$(median "${R[$t,pe_min]}")" -v y="$(median "${R[$t,py]}")" 'BEGIN {
    printf "| %s | %.1f / %.1f | %.1f / %.1f | %.0f (%.0fx) | %.0f (%.0fx) | %.1f (%.1fx; %.1fx vs ProcessReader) |\n",
      l, m, p, pm, pp, d * 1000, d * 1000 / m, n * 1000, n * 1000 / m, y, y / m, y / pm
  }'
done
echo
echo "The Python column also gives the ratio to leakwatch's ProcessReader alone (both read only process files)."
