#!/usr/bin/env bash
# `stats --no-stream` over N running containers (default 50), beside
# `podman stats --no-stream` over as many when podman is installed.
# Target: under 50 ms, and faster than podman.
# Run as root, or rootless as a user with a subuid range (CORACLE=...).
# RUNS=N (default 20), CONTAINERS=N (default 50).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-20}
CONTAINERS=${CONTAINERS:-50}

busybox_store
for _ in $(seq "$CONTAINERS"); do "${C[@]}" run -d --network none "$IMAGE" sleep 600 >/dev/null; done
rows=$("${C[@]}" stats --no-stream | tail -n +2 | wc -l)
[ "$rows" = "$CONTAINERS" ] || die "stats shows $rows containers, expected $CONTAINERS"
stats_ms=$(median_ms "$RUNS" : "${C[@]}" stats --no-stream)
json_ms=$(median_ms "$RUNS" : "${C[@]}" stats --no-stream --format json)
echo "stats --no-stream over $CONTAINERS running containers, median of $RUNS ($([ "$(id -u)" = 0 ] && echo root || echo rootless))"
printf '  %-36s %8s ms\n' "coracle stats --no-stream" "$stats_ms"
printf '  %-36s %8s ms\n' "coracle stats --no-stream --format json" "$json_ms"
"${C[@]}" rm -a -f -t 0 >/dev/null 2>&1 || true
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  for _ in $(seq "$CONTAINERS"); do "${P[@]}" run -d --network none "$IMAGE" sleep 600 >/dev/null; done
  # Rootless podman 4 has no stats without cgroup v2 (this kind of host).
  if why=$("${P[@]}" stats --no-stream 2>&1 >/dev/null); then
    podman_ms=$(median_ms "$RUNS" : "${P[@]}" stats --no-stream)
    printf '  %-36s %8s ms  (coracle is %s faster)\n' "podman stats --no-stream" "$podman_ms" "$(ratio "$podman_ms" "$stats_ms")"
  else
    printf '  %-36s %s\n' "podman stats --no-stream" "fails here: $why"
  fi
  "${P[@]}" rm -a -f -t 0 >/dev/null 2>&1 || true
fi
