# Shared helpers for the benchmarks: a loopback registry and median timing.
# Source it; it sets REG (host:port) after start_registry.

BENCH_TMP=${BENCH_TMP:-$(mktemp -d /tmp/coracle-bench.XXXXXX)}
chmod 755 "$BENCH_TMP"
CORACLE=${CORACLE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/release/coracle}

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$CORACLE" ] || die "no coracle binary at $CORACLE (cargo build --release, or set CORACLE)"

start_registry() {
  command -v docker-registry >/dev/null || die "install docker-registry"
  local port
  port=$(shuf -i 30000-60000 -n 1)
  mkdir -p "$BENCH_TMP/registry"
  cat > "$BENCH_TMP/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $BENCH_TMP/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$BENCH_TMP/registry.yml" >"$BENCH_TMP/registry.log" 2>&1 &
  REGISTRY_PID=$!
  REG=127.0.0.1:$port
  for _ in $(seq 100); do
    curl -fs "http://$REG/v2/" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  die "registry did not start"
}

cleanup() {
  command -v podman >/dev/null && podman_teardown
  [ -n "${REGISTRY_PID:-}" ] && kill "$REGISTRY_PID" 2>/dev/null
  rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

now_ns() { date +%s%N; }

# podman as root on hosts where root lacks CAP_SYS_RESOURCE fails to raise
# RLIMIT_NOFILE to its default; give it limits this host allows.
if [ "$(id -u)" = 0 ] && [ -z "${CONTAINERS_CONF:-}" ]; then
  hard=$(ulimit -Hn)
  nproc=32768  # podman cannot set the host maximum here
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' "$hard" "$hard" "$nproc" "$nproc" > "$BENCH_TMP/containers.conf"
  export CONTAINERS_CONF=$BENCH_TMP/containers.conf
fi

# A podman with a private store; podman_teardown removes it (podman leaves
# its overlay mounted, so it must tear it down itself).
P=(podman --storage-driver overlay --root "$BENCH_TMP/pstore" --runroot "$BENCH_TMP/prun")
podman_teardown() {
  [ -d "$BENCH_TMP/pstore" ] && "${P[@]}" system reset -f >/dev/null 2>&1
  rm -rf "$BENCH_TMP/pstore" "$BENCH_TMP/prun"
}

# median_ms RUNS PREPARE_CMD CMD...: runs PREPARE (untimed) then CMD, RUNS times.
median_ms() {
  local runs=$1 prepare=$2; shift 2
  local times=() t0 t1
  for _ in $(seq "$runs"); do
    eval "$prepare"
    t0=$(now_ns)
    "$@" >/dev/null 2>"$BENCH_TMP/last.err" || { cat "$BENCH_TMP/last.err" >&2; die "failed: $*"; }
    t1=$(now_ns)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m/1000}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

# busybox_store: a loopback registry holding a busybox image ($IMAGE), and a
# coracle with a private store ($C, an array) that has pulled it.
busybox_store() {
  start_registry
  "$(dirname "${BASH_SOURCE[0]}")/../busybox-image.sh" "$BENCH_TMP/img"
  skopeo copy -q --dest-tls-verify=false "oci:$BENCH_TMP/img:latest" "docker://$REG/bench/busybox:1"
  IMAGE=$REG/bench/busybox:1
  C=("$CORACLE" --root "$BENCH_TMP/store" --runroot "$BENCH_TMP/run")
  "${C[@]}" pull -q "$IMAGE" >/dev/null
}
