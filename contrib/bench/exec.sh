#!/usr/bin/env bash
# Entering a container (issue 12): `exec CTR true` and `run --rm IMG true`
# beside the kernel floor (`unshare -Urmpf --mount-proc true`) and podman
# when present. Run it before and after a change to the path that enters
# containers (the sealed binary, see docs/ARCHITECTURE.md) to see its cost.
# Run as root, or rootless as any user with a subuid range (CORACLE=...).
# RUNS=N (default 40).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-40}
mode=$([ "$(id -u)" = 0 ] && echo root || echo rootless)

busybox_store
"${C[@]}" run --rm --network none "$IMAGE" true  # warm the page cache
ctr=$("${C[@]}" run -d --network none "$IMAGE" sleep 600)

floor_ms=$(median_ms "$RUNS" : unshare -Urmpf --mount-proc true)
exec_ms=$(median_ms "$RUNS" : "${C[@]}" exec "$ctr" true)
run_ms=$(median_ms "$RUNS" : "${C[@]}" run --rm --network none "$IMAGE" true)
echo "entering containers, median of $RUNS ($mode)"
printf '  %-36s %8s ms\n' "floor: unshare -Urmpf --mount-proc" "$floor_ms"
printf '  %-36s %8s ms  (%s of floor)\n' "coracle exec CTR true" "$exec_ms" "$(ratio "$exec_ms" "$floor_ms")"
printf '  %-36s %8s ms  (%s of floor)\n' "coracle run --rm IMG true" "$run_ms" "$(ratio "$run_ms" "$floor_ms")"
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  pctr=$("${P[@]}" run -d --network none "$IMAGE" sleep 600)
  pexec_ms=$(median_ms "$RUNS" : "${P[@]}" exec "$pctr" true)
  prun_ms=$(median_ms "$RUNS" : "${P[@]}" run --rm --network none "$IMAGE" true)
  printf '  %-36s %8s ms  (coracle is %s faster)\n' "podman exec CTR true" "$pexec_ms" "$(ratio "$pexec_ms" "$exec_ms")"
  printf '  %-36s %8s ms  (coracle is %s faster)\n' "podman run --rm IMG true" "$prun_ms" "$(ratio "$prun_ms" "$run_ms")"
  "${P[@]}" rm -f -t 0 "$pctr" >/dev/null 2>&1 || true
fi
"${C[@]}" rm -f -t 0 "$ctr" >/dev/null 2>&1 || "${C[@]}" rm -f "$ctr" >/dev/null
