#!/usr/bin/env bash
# Networking benchmark (issue 6): time from `run -d -p` to the first HTTP
# response through the published port (on the host's loopback, and on every
# address), beside a start without networking;
# bulk TCP throughput host -> container through the published port; podman
# side by side when installed. Root uses slirp4netns, rootless pasta.
#
# The runs of the tools alternate (coracle -p, coracle --network host,
# podman -p, then again), so a change in the machine's load during the
# bench weighs on all of them alike; each figure is a median.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-10}
MB=${MB:-1024}
TPUT_RUNS=${TPUT_RUNS:-5}

busybox_store
mkdir -p "$BENCH_TMP/www" && echo ok > "$BENCH_TMP/www/index.html"
HAVE_PODMAN=
if command -v podman >/dev/null; then
  HAVE_PODMAN=1
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
fi

free_port() {
  local p
  while :; do
    # below the ephemeral range: no connection holds it as its own end
    p=$(shuf -i 20000-32767 -n 1)
    ss -Htuln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# until_answers PORT NAME TOOL...: poll the page; give up (with the
# container's log) after 10s rather than spin on a container that died.
until_answers() {
  local port=$1 name=$2 n=0; shift 2
  until curl -sf "http://127.0.0.1:$port/" >/dev/null; do
    sleep 0.002
    n=$((n + 1))
    if [ "$n" -gt 2000 ]; then
      "$@" logs "$name" >&2 || true
      die "no answer from $name on port $port"
    fi
  done
}

# first_response BIND TOOL...: run -d -p BIND$port:80, poll until the page
# answers; prints us. BIND "127.0.0.1:" publishes on the host's loopback
# only, "" on every address.
first_response() {
  local bind=$1 port t0 t1
  shift
  port=$(free_port)
  t0=$(now_ns)
  "$@" run -d --name "web$port" -v "$BENCH_TMP/www:/www" -p "$bind$port:80" "$IMAGE" httpd -f -p 80 -h /www >/dev/null
  until_answers "$port" "web$port" "$@"
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
  until_answers "$port" "hweb$port" "$@"
  t1=$(now_ns)
  "$@" rm -f -t 0 "hweb$port" >/dev/null 2>&1 || true
  echo $(( (t1 - t0) / 1000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m}'; }

: > "$BENCH_TMP/net" ; : > "$BENCH_TMP/anynet" ; : > "$BENCH_TMP/host" ; : > "$BENCH_TMP/pnet"
for _ in $(seq "$RUNS"); do
  first_response 127.0.0.1: "${C[@]}" >> "$BENCH_TMP/net"
  first_response "" "${C[@]}" >> "$BENCH_TMP/anynet"
  first_response_host "${C[@]}" >> "$BENCH_TMP/host"
  [ -n "$HAVE_PODMAN" ] && first_response 127.0.0.1: "${P[@]}" >> "$BENCH_TMP/pnet"
done
ms() { awk '{print $1 / 1000}' "$1" | median; }
net_ms=$(ms "$BENCH_TMP/net")
any_ms=$(ms "$BENCH_TMP/anynet")
none_ms=$(ms "$BENCH_TMP/host")
echo "networking, median of $RUNS ($([ "$(id -u)" = 0 ] && echo root: slirp4netns || echo rootless: pasta))"
printf '  %-44s %8s ms\n' "coracle run -d --network host, first response" "$none_ms"
printf '  %-44s %8s ms  (%s of the same without a helper)\n' "coracle run -d -p 127.0.0.1:P:80, first resp." "$net_ms" "$(ratio "$net_ms" "$none_ms")"
printf '  %-44s %8s ms  (%s)\n' "coracle run -d -p P:80 (every address)" "$any_ms" "$(ratio "$any_ms" "$none_ms")"
if [ -n "$HAVE_PODMAN" ]; then
  printf '  %-44s %8s ms\n' "podman run -d -p 127.0.0.1:P:80, first resp." "$(ms "$BENCH_TMP/pnet")"
fi

# sink TOOL...: a container that discards what comes to its published
# port; prints the host port once it accepts connections. dd reads the
# connection itself, 1 MiB at a time: nc copying through its small buffer
# would be the bottleneck (~1 GB/s here, about what both tools reach).
sink() {
  local port
  port=$(free_port)
  "$@" run -d --name "sink$port" -p "127.0.0.1:$port:9000" "$IMAGE" nc -ll -p 9000 -e dd of=/dev/null bs=1M >/dev/null
  for _ in $(seq 500); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.01; done
  sleep 0.2
  echo "$port"
}

# send PORT: MB megabytes into the sink in 1 MiB writes; prints MB/s.
send() {
  local t0 t1
  t0=$(now_ns)
  dd if=/dev/zero bs=1M count="$MB" status=none > "/dev/tcp/127.0.0.1/$1"
  t1=$(now_ns)
  sleep 0.2
  awk -v mb="$MB" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f\n", mb / (ns / 1e9) }'
}

cport=$(sink "${C[@]}")
[ -n "$HAVE_PODMAN" ] && pport=$(sink "${P[@]}")
: > "$BENCH_TMP/ctput" ; : > "$BENCH_TMP/ptput"
for _ in $(seq "$TPUT_RUNS"); do
  send "$cport" >> "$BENCH_TMP/ctput"
  [ -n "$HAVE_PODMAN" ] && send "$pport" >> "$BENCH_TMP/ptput"
done
"${C[@]}" rm -f -t 0 "sink$cport" >/dev/null 2>&1 || true
printf '  %-44s %8s MB/s  (median of %s)\n' "coracle host -> container, ${MB} MB" "$(median < "$BENCH_TMP/ctput")" "$TPUT_RUNS"
if [ -n "$HAVE_PODMAN" ]; then
  "${P[@]}" rm -f -t 0 "sink$pport" >/dev/null 2>&1 || true
  printf '  %-44s %8s MB/s\n' "podman host -> container, ${MB} MB" "$(median < "$BENCH_TMP/ptput")"
fi
