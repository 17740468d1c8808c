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
  [ -n "${REGISTRY_PID:-}" ] && kill "$REGISTRY_PID" 2>/dev/null
  rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

now_ns() { date +%s%N; }

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
