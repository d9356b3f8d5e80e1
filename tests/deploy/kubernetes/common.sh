# shellcheck shell=bash
# Sourced by the test drivers of this folder. ensure_validator WORK_DIR installs the validator's packages
# (package-lock.json, `npm ci`) into WORK_DIR, a directory of the build tree, and copies validate.mjs beside
# them: Node resolves ES module imports next to the importing file (NODE_PATH does not apply to them), and the
# source tree stays free of node_modules. The install is repeated only when package-lock.json changed.
#
# Exits 77 (ctest: skipped) with a "SKIP: ..." line when Node.js or npm is missing or the npm registry
# cannot be reached; any other npm failure (e.g. a lock file out of step with package.json) fails the test.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ensure_validator() {
  local work=$1
  command -v node >/dev/null || { echo "SKIP: node not installed (Debian package nodejs)"; exit 77; }
  command -v npm >/dev/null || { echo "SKIP: npm not installed (Debian package npm)"; exit 77; }
  mkdir -p "$work"
  cp "$here/package.json" "$here/package-lock.json" "$here/validate.mjs" "$work/"
  local stamp=$work/node_modules/.leakwatch-package-lock.json
  if [ -d "$work/node_modules" ] && cmp -s "$here/package-lock.json" "$stamp"; then
    return 0
  fi
  local log=$work/npm-ci.log
  if ! (cd "$work" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
    if grep -Eqi 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|socket hang up|proxy' "$log"; then
      echo "SKIP: npm ci could not reach the npm registry (see $log):"
      tail -n 5 "$log"
      exit 77
    fi
    echo "npm ci failed in $work:"
    cat "$log"
    exit 1
  fi
  cp "$here/package-lock.json" "$stamp"
}
