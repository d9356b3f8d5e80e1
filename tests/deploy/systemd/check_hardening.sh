#!/usr/bin/env bash
# check_hardening.sh UNIT AGENT_CONFIG: the unit keeps its leakwatch settings, limits and sandboxing, so that
# none is dropped or weakened silently; and the agent config writes its bundles under the unit's
# StateDirectory. Only the [Service] section is read. For each directive the LAST assignment counts (a later line overrides an
# earlier one); list directives (SystemCallFilter=, Environment=) need a matching line and no later reset.
set -euo pipefail
unit=$1
config=$2
failed=0

# Directive, then an extended regular expression its last value must match in full.
last=(
  "Type" "exec"
  "Restart" "on-failure"
  "DynamicUser" "yes"
  "NoNewPrivileges" "yes"
  "CapabilityBoundingSet" ""
  "AmbientCapabilities" ""
  "ProtectSystem" "strict"
  "ProtectHome" "yes"
  "PrivateTmp" "yes"
  "PrivateDevices" "yes"
  "ProtectKernelTunables" "yes"
  "ProtectControlGroups" "yes"
  "ProtectKernelModules" "yes"
  "ProtectKernelLogs" "yes"
  "ProtectClock" "yes"
  "ProtectHostname" "yes"
  "ProtectProc" "invisible"
  "RestrictAddressFamilies" "AF_INET AF_INET6 AF_UNIX"
  "RestrictNamespaces" "yes"
  "RestrictRealtime" "yes"
  "RestrictSUIDSGID" "yes"
  "LockPersonality" "yes"
  "SystemCallArchitectures" "native"
  "UMask" "0077"
  "MemoryAccounting" "yes"
  "MemoryMax" "[0-9]+[KMGT]?"
  "MemorySwapMax" "0"
  "TasksMax" "[0-9]+"
  "LimitNOFILE" "[0-9]+(:[0-9]+)?"
  "OOMPolicy" "stop|kill|continue"
  "StateDirectory" "leakwatch"
  "LoadCredential" "leakwatch-debug-token:/.+"
)
# Directive, then a regular expression one of its lines must match in full (list-valued directives).
has=(
  "Environment" "LEAKWATCH_CONFIG=/etc/leakwatch/leakwatch.yaml"
  "Environment" "LEAKWATCH_DEBUG_TOKEN_FILE=%d/leakwatch-debug-token"
  "SystemCallFilter" "@system-service"
  "SystemCallFilter" "~@privileged @resources"
)

# The [Service] section, without comments.
service=$(awk '/^[[:space:]]*\[/ { in_service = ($0 ~ /^[[:space:]]*\[Service\]/); next }
               in_service && !/^[[:space:]]*[#;]/' "$unit")

values_of() {  # every value assigned to directive $1 in [Service], in file order
  sed -nE "s/^[[:space:]]*$1=(.*)\$/\\1/p" <<<"$service" | sed -E 's/[[:space:]]+$//'
}

for ((i = 0; i < ${#last[@]}; i += 2)); do
  key=${last[i]}
  want=${last[i + 1]}
  if ! grep -qE "^[[:space:]]*$key=" <<<"$service"; then
    echo "FAIL: $key= is missing (expected $key=$want)"
    failed=1
    continue
  fi
  got=$(values_of "$key" | tail -n 1)
  if ! grep -qxE -- "$want" <<<"$got"; then
    echo "FAIL: $key=$got (the last assignment) does not match $key=$want"
    failed=1
  fi
done

for ((i = 0; i < ${#has[@]}; i += 2)); do
  key=${has[i]}
  want=${has[i + 1]}
  if ! values_of "$key" | grep -qxE -- "$want"; then
    echo "FAIL: no $key=$want"
    failed=1
  elif values_of "$key" | grep -qx ''; then
    echo "FAIL: an empty $key= resets the list"
    failed=1
  fi
done

# The bundles go under the StateDirectory, the only place the sandboxed service can write.
state=$(values_of StateDirectory | tail -n 1)
dir=$(sed -nE 's/^[[:space:]]+dir:[[:space:]]+([^[:space:]#]+).*$/\1/p' "$config" | head -n 1)
case "$dir" in
  /var/lib/"$state"/*|/var/lib/"$state") ;;
  *) echo "FAIL: bundle.dir in $config is '$dir', not under /var/lib/$state (StateDirectory=$state)"; failed=1 ;;
esac

if [ "$failed" -ne 0 ]; then
  echo "$unit lost hardening or leakwatch settings (above). If a change is deliberate, update this list."
  exit 1
fi
echo "ok: $unit keeps its $(( (${#last[@]} + ${#has[@]}) / 2 )) hardening and leakwatch settings; bundles in $dir"
