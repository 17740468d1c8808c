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

# The same over TLS on loopback tcp (a throwaway CA and server certificate):
# the handshake's cost beside the plain socket.
if command -v openssl >/dev/null; then
  (cd "$BENCH_TMP" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
      -subj /CN=bench-ca -keyout ca.key -out ca.pem 2>/dev/null &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1\n' > san.ext &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
      -extfile san.ext -out srv.pem 2>/dev/null)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${C[@]}" system service --time 0 --tls-cert "$BENCH_TMP/srv.pem" --tls-key "$BENCH_TMP/srv.key" "tcp://127.0.0.1:$port" &
  TPID=$!
  for _ in $(seq 100); do curl -sf --cacert "$BENCH_TMP/ca.pem" "https://127.0.0.1:$port/_ping" >/dev/null 2>&1 && break; sleep 0.05; done
  c_tls=$(median_ms "$RUNS" : curl -sf --cacert "$BENCH_TMP/ca.pem" "https://127.0.0.1:$port/v1.41/containers/json?all=1")
  kill "$TPID" 2>/dev/null || true; wait "$TPID" 2>/dev/null || true
  printf '  %-40s %8s ms  (%s of the unix socket'"'"'s time)\n' "coracle: curl over TLS (tcp)" "$c_tls" "$(ratio "$c_tls" "$c_curl")"
fi
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
