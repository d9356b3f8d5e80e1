#!/usr/bin/env bash
# validate_rendered.sh WORK_DIR DIR: renders DIR with `kubectl kustomize` (offline: no cluster is contacted)
# and validates what `kubectl apply -k DIR` would apply, the generated ConfigMap included. Skipped (77) when
# kubectl is not installed.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"
work=$1
dir=$2
command -v kubectl >/dev/null || { echo "SKIP: kubectl not installed (it renders the kustomization)"; exit 77; }
ensure_validator "$work"
rendered=$work/rendered.yaml
if ! kubectl kustomize "$dir" >"$rendered"; then
  echo "kubectl kustomize $dir failed"
  exit 1
fi
exec node "$work/validate.mjs" "$rendered"
