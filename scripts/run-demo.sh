#!/usr/bin/env bash
# Builds leakwatch and runs the demo service with the agent inside.
# Metrics: http://localhost:9860/metrics   Control: http://127.0.0.1:9861/status
# Any argument is passed to leakwatch-demo (try --help), e.g. scripts/run-demo.sh --leak-memory 5
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target leakwatch-demo
exec build/examples/demo/leakwatch-demo "$@"
