#!/usr/bin/env bash
# Networking benchmark (issue 6): time from `run -d -p` to the first HTTP
# response through the published port, beside a start without networking;
# bulk TCP throughput host -> container through the published port; podman
# side by side when installed. Root uses slirp4netns, rootless pasta.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-10}
MB=${MB:-256}

start_registry
"$(dirname "$0")/../busybox-image.sh" "$BENCH_TMP/img"
skopeo copy -q --dest-tls-verify=false "oci:$BENCH_TMP/img:latest" "docker://$REG/bench/busybox:1"
IMAGE=$REG/bench/busybox:1
mkdir -p "$BENCH_TMP/www" && echo ok > "$BENCH_TMP/www/index.html"
C=("$CORACLE" --root "$BENCH_TMP/store" --runroot "$BENCH_TMP/run")
"${C[@]}" pull -q "$IMAGE" >/dev/null

free_port() { shuf -i 20000-60000 -n 1; }

# first_response TOOL...: run -d -p, poll until the page answers; prints ms.
first_response() {
  local port t0 t1
  port=$(free_port)
  t0=$(now_ns)
  "$@" run -d --name "web$port" -v "$BENCH_TMP/www:/www" -p "127.0.0.1:$port:80" "$IMAGE" httpd -f -p 80 -h /www >/dev/null
  until curl -sf "http://127.0.0.1:$port/" >/dev/null; do sleep 0.002; done
  t1=$(now_ns)
  "$@" rm -f -t 0 "web$port" >/dev/null 2>&1 || true
  echo $(( (t1 - t0) / 1000 ))
}

# The same without a network helper: httpd on the host's network.
first_response_host() {
  local port t0 t1
  port=$(free_port)
  t0=$(now_ns)
  "$@" run -d --name "hweb$port" --network host -v "$BENCH_TMP/www:/www" "$IMAGE" httpd -f -p "127.0.0.1:$port" -h /www >/dev/null
  until curl -sf "http://127.0.0.1:$port/" >/dev/null; do sleep 0.002; done
  t1=$(now_ns)
  "$@" rm -f -t 0 "hweb$port" >/dev/null 2>&1 || true
  echo $(( (t1 - t0) / 1000 ))
}

median_of() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m/1000}'; }

net_ms=$(for _ in $(seq "$RUNS"); do first_response "${C[@]}"; done | median_of)
none_ms=$(for _ in $(seq "$RUNS"); do first_response_host "${C[@]}"; done | median_of)
echo "networking, median of $RUNS ($([ "$(id -u)" = 0 ] && echo root: slirp4netns || echo rootless: pasta))"
printf '  %-44s %8s ms\n' "coracle run -d --network host, first response" "$none_ms"
printf '  %-44s %8s ms  (%s of the same without a helper)\n' "coracle run -d -p ... to first HTTP response" "$net_ms" "$(ratio "$net_ms" "$none_ms")"

throughput() {
  local port t0 t1
  port=$(free_port)
  # A loop, so the readiness probe's connection does not use up the sink.
  "$@" run -d --name "sink$port" -p "127.0.0.1:$port:9000" "$IMAGE" sh -c 'while :; do nc -l -p 9000 > /dev/null; done' >/dev/null
  for _ in $(seq 500); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.01; done
  sleep 0.2
  t0=$(now_ns)
  head -c "${MB}M" /dev/zero > "/dev/tcp/127.0.0.1/$port"
  t1=$(now_ns)
  "$@" rm -f -t 0 "sink$port" >/dev/null 2>&1 || true
  awk -v mb="$MB" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", mb / (ns / 1e9) }'
}
printf '  %-44s %8s MB/s\n' "coracle host -> container, ${MB} MB" "$(throughput "${C[@]}")"
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  pnet_ms=$(for _ in $(seq "$RUNS"); do first_response "${P[@]}"; done | median_of)
  printf '  %-44s %8s ms\n' "podman run -d -p ... to first HTTP response" "$pnet_ms"
  printf '  %-44s %8s MB/s\n' "podman host -> container, ${MB} MB" "$(throughput "${P[@]}")"
fi
