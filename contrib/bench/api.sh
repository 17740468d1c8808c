#!/usr/bin/env bash
# The REST API (`system service`): `curl .../containers/json` and
# `docker ps` against `coracle system service` and, when installed,
# `podman system service`, each with 10 containers in its store, side by
# side with the ratio. Each service runs with --time 0 on a socket of its
# own. Run as root, or rootless as any user with a subuid range
# (CORACLE=...). RUNS=N (default 40). Not a test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-40}
mode=$([ "$(id -u)" = 0 ] && echo root || echo rootless)

busybox_store
for i in $(seq 10); do "${C[@]}" create --network none --name "c$i" "$IMAGE" true >/dev/null; done
"${C[@]}" system service --time 0 "unix://$BENCH_TMP/c.sock" &
CPID=$!
stop_services() { kill "$CPID" ${PPID_SVC:-} 2>/dev/null || true; wait "$CPID" ${PPID_SVC:-} 2>/dev/null || true; }
trap 'stop_services; cleanup' EXIT
for _ in $(seq 100); do [ -S "$BENCH_TMP/c.sock" ] && break; sleep 0.05; done

list="http://d/v1.41/containers/json?all=1"
c_curl=$(median_ms "$RUNS" : curl -sf --unix-socket "$BENCH_TMP/c.sock" "$list")
c_docker=n/a
if command -v docker >/dev/null; then
  c_docker=$(median_ms "$RUNS" : docker -H "unix://$BENCH_TMP/c.sock" ps -a)
fi
echo "API service, median of $RUNS ($mode), 10 containers"
printf '  %-40s %8s ms\n' "coracle: curl containers/json" "$c_curl"
printf '  %-40s %8s ms\n' "coracle: docker ps -a" "$c_docker"
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  for i in $(seq 10); do "${P[@]}" create --network none --name "c$i" "$IMAGE" true >/dev/null; done
  "${P[@]}" system service --time 0 "unix://$BENCH_TMP/p.sock" &
  PPID_SVC=$!
  for _ in $(seq 200); do [ -S "$BENCH_TMP/p.sock" ] && break; sleep 0.05; done
  p_curl=$(median_ms "$RUNS" : curl -sf --unix-socket "$BENCH_TMP/p.sock" "$list")
  printf '  %-40s %8s ms  (coracle is %s faster)\n' "podman: curl containers/json" "$p_curl" "$(ratio "$p_curl" "$c_curl")"
  if command -v docker >/dev/null; then
    p_docker=$(median_ms "$RUNS" : docker -H "unix://$BENCH_TMP/p.sock" ps -a)
    printf '  %-40s %8s ms  (coracle is %s faster)\n' "podman: docker ps -a" "$p_docker" "$(ratio "$p_docker" "$c_docker")"
  fi
fi
