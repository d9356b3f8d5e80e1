#!/usr/bin/env bash
# Installs leakwatch's build and test dependencies from Debian packages.
# Idempotent: runs apt-get only for packages that are not installed yet.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ca-certificates
  prometheus-cpp-dev libspdlog-dev libfmt-dev libboost-dev
  libcrypt-dev zlib1g-dev libyaml-cpp-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # test peers: promtool for `promtool check metrics`, the comparison targets of bench/compare.sh
  prometheus prometheus-process-exporter python3 python3-prometheus-client
  curl procps
  # test peer: `go tool pprof` reads the bundles' heap.pb.gz in the heap-profile integration test
  golang-go
  # the ops kit (deploy/, grafana/): amtool and a real Alertmanager, the rule and dashboard generators and
  # checkers (Python with PyYAML), systemd-analyze. The offline Kubernetes validation uses the machine's
  # Node.js and npm (not from Debian here) and is skipped where they are missing.
  prometheus-alertmanager python3-yaml systemd
  # the heap profiler's stack unwinder (loaded at run time with dlopen; without it libgcc's, 15x slower, is used)
  libunwind8
  # allocators the allocator-statistics tests preload (run-time libraries only: leakwatch finds them with dlsym)
  libjemalloc2 libgoogle-perftools4 libtcmalloc-minimal4 libmimalloc2.0
  # real servers the attach tests (tests/integration/attach) run under `leakwatch run`: redis (linked against
  # the system libjemalloc2), memcached (glibc malloc, threads), nginx (a master that forks workers)
  redis-server memcached nginx-core
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root (or with sudo)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The servers' postinst scripts (redis-server, memcached, nginx-core) start their system service through
# invoke-rc.d. This machine is a build/test host, not where they should run as services: while apt-get runs, a
# policy-rc.d that denies every start (exit 101) is put in place, only when there is none already (an existing
# one, e.g. a container image's, is left untouched), and removed afterwards.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# temporary: written by leakwatch scripts/install-deps.sh, removed when it ends\nexit 101\n' \
    >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
