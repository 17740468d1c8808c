#!/usr/bin/env bash
# Start-up benchmark (issue 3): `run --rm IMG true` beside the kernel floor
# (`unshare -Urmpf --mount-proc true`) and `podman run --rm` when present;
# the monitor's resident memory; `ps -a` over 500 containers.
# Run as root, or rootless as any user with a subuid range (copy the
# release binary somewhere that user can read and set CORACLE=...).
# RUNS=N (default 30), PS_CONTAINERS=N (default 500).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-30}
PS_CONTAINERS=${PS_CONTAINERS:-500}

busybox_store
"${C[@]}" run --rm "$IMAGE" true  # warm the page cache

floor_ms=$(median_ms "$RUNS" : unshare -Urmpf --mount-proc true)
run_ms=$(median_ms "$RUNS" : "${C[@]}" run --rm --network none "$IMAGE" true)
echo "run --rm IMG true, median of $RUNS ($([ "$(id -u)" = 0 ] && echo root || echo rootless))"
printf '  %-36s %8s ms\n' "floor: unshare -Urmpf --mount-proc" "$floor_ms"
printf '  %-36s %8s ms  (%s of floor)\n' "coracle run --rm" "$run_ms" "$(ratio "$run_ms" "$floor_ms")"
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  "${P[@]}" run --rm --network none "$IMAGE" true
  podman_ms=$(median_ms "$RUNS" : "${P[@]}" run --rm --network none "$IMAGE" true)
  printf '  %-36s %8s ms  (coracle is %s faster)\n' "podman run --rm" "$podman_ms" "$(ratio "$podman_ms" "$run_ms")"
fi

d_ms=$(median_ms 10 : "${C[@]}" run -d --network none "$IMAGE" sleep 600)
id=$("${C[@]}" run -d --network none "$IMAGE" sleep 600)
monitor=$("${C[@]}" inspect --format '{{.State.ConmonPid}}' "$id" 2>/dev/null || true)
if [ -z "$monitor" ] || [ "$monitor" = 0 ]; then
  pid=$("${C[@]}" inspect --format '{{.State.Pid}}' "$id")
  monitor=$(awk '{print $4}' "/proc/$pid/stat")
fi
rss=$(awk '/VmRSS/ {print $2, $3}' "/proc/$monitor/status")
printf '  %-36s %8s ms\n' "coracle run -d (median of 10)" "$d_ms"
printf '  %-36s %11s\n' "monitor resident memory (VmRSS)" "$rss"
"${C[@]}" rm -f -a >/dev/null 2>&1 || true

for i in $(seq "$PS_CONTAINERS"); do "${C[@]}" create --network none "$IMAGE" true >/dev/null; done
ps_ms=$(median_ms 20 : "${C[@]}" ps -a)
printf '  %-36s %8s ms\n' "ps -a with $PS_CONTAINERS containers" "$ps_ms"
"${C[@]}" rm -a -f >/dev/null 2>&1 || true
