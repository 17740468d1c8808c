#!/usr/bin/env bash
# Named networks benchmark (issue 15), as root: the cost of `run -d
# --network app` beside `run -d --network none`; `network create` + two
# containers + the first name lookup; TCP throughput container to
# container over the bridge; host to a published port on the named network
# (kernel DNAT) beside the default network's path (slirp4netns with the
# relay and port_nat). Prints ratios against references measured in the
# same run. Rootless containers cannot join named networks yet.
# RUNS=N (default 10), MB=N (default 1024), TPUT_RUNS=N (default 5).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-10}
MB=${MB:-1024}
TPUT_RUNS=${TPUT_RUNS:-5}
[ "$(id -u)" = 0 ] || die "named networks need root (rootless containers cannot join them yet)"

busybox_store
# A subnet and bridge of our own, so that nothing else on the host is touched.
SUBNET=${SUBNET:-10.89.201.0/24}
"${C[@]}" network create --subnet "$SUBNET" --interface-name corbench0 app >/dev/null
cleanup_net() {
  "${C[@]}" rm -af -t 0 >/dev/null 2>&1 || true
  "${C[@]}" network prune -f >/dev/null 2>&1 || true
  cleanup
}
trap cleanup_net EXIT

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m}'; }

# run_d NETWORK: ms until `run -d --network NETWORK` returns (then removed).
run_d() {
  local t0 t1 id
  t0=$(now_ns)
  id=$("${C[@]}" run -d --network "$1" "$IMAGE" sleep 600)
  t1=$(now_ns)
  "${C[@]}" rm -f -t 0 "$id" >/dev/null
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", ns / 1e6 }'
}

: > "$BENCH_TMP/none" ; : > "$BENCH_TMP/app"
# Alternate, so a change in the machine's load weighs on both alike. A
# member stays on the network, as in an application: the bridge is up.
"${C[@]}" run -d --name anchor --network app "$IMAGE" sleep 600 >/dev/null
for _ in $(seq "$RUNS"); do
  run_d none >> "$BENCH_TMP/none"
  run_d app >> "$BENCH_TMP/app"
done
none_ms=$(median < "$BENCH_TMP/none")
app_ms=$(median < "$BENCH_TMP/app")
"${C[@]}" rm -f -t 0 anchor >/dev/null

# network create + a server + a client that looks the server up by name.
: > "$BENCH_TMP/first"
for i in $(seq "$RUNS"); do
  t0=$(now_ns)
  "${C[@]}" network create --subnet 10.89.202.0/24 --interface-name corbench1 fresh >/dev/null
  "${C[@]}" run -d --name srv --network fresh "$IMAGE" sleep 600 >/dev/null
  "${C[@]}" run --rm --network fresh "$IMAGE" nslookup srv >/dev/null
  t1=$(now_ns)
  "${C[@]}" network rm -f -t 0 fresh >/dev/null
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", ns / 1e6 }' >> "$BENCH_TMP/first"
done
first_ms=$(median < "$BENCH_TMP/first")

echo "named networks, median of $RUNS (root)"
printf '  %-52s %8s ms\n' "run -d --network none" "$none_ms"
printf '  %-52s %8s ms  (%s of --network none)\n' "run -d --network app" "$app_ms" "$(ratio "$app_ms" "$none_ms")"
printf '  %-52s %8s ms\n' "network create + 2 containers + first name lookup" "$first_ms"

# Throughput container to container: busybox httpd (sendfile) serves a
# 256 MB file from a tmpfs, fetched by name with wget MB/256 times in one
# exec. (busybox nc as a sender copies through a small buffer: it would
# measure itself.) Host to container: a sink that discards what reaches its
# port 9000 (dd reads 1 MiB at a time), through the published port.
free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-32767 -n 1)
    ss -Htuln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
wait_port() { for _ in $(seq 500); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.01; done; die "port $1 never opened"; }
mbps() { awk -v mb="$MB" -v ns="$1" 'BEGIN { printf "%.0f\n", mb / (ns / 1e9) }'; }

bport=$(free_port)
dport=$(free_port)
"${C[@]}" run -d --name sink --network app -p "127.0.0.1:$bport:9000" "$IMAGE" nc -ll -p 9000 -e dd of=/dev/null bs=1M >/dev/null
"${C[@]}" run -d --name dsink -p "127.0.0.1:$dport:9000" "$IMAGE" nc -ll -p 9000 -e dd of=/dev/null bs=1M >/dev/null
"${C[@]}" run -d --name src --network app "$IMAGE" sleep 600 >/dev/null
"${C[@]}" run -d --name web --network app --tmpfs /w:size=272m "$IMAGE" sh -c \
  "dd if=/dev/zero of=/w/big bs=1M count=256 2>/dev/null && echo ok > /w/ok && exec httpd -f -p 80 -h /w" >/dev/null
wait_port "$bport" ; wait_port "$dport"
n=0
until "${C[@]}" exec src wget -qO /dev/null http://web/ok 2>/dev/null; do
  sleep 0.1; n=$((n + 1)); [ "$n" -lt 100 ] || die "the web container never answered"
done
FETCHES=$(( (MB + 255) / 256 ))
: > "$BENCH_TMP/c2c" ; : > "$BENCH_TMP/h2b" ; : > "$BENCH_TMP/h2d"
for _ in $(seq "$TPUT_RUNS"); do
  t0=$(now_ns)
  "${C[@]}" exec src sh -c "for i in \$(seq $FETCHES); do wget -qO /dev/null http://web/big; done"
  t1=$(now_ns)
  awk -v mb=$((FETCHES * 256)) -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f\n", mb / (ns / 1e9) }' >> "$BENCH_TMP/c2c"
  sleep 0.2
  for pair in "$bport:h2b" "$dport:h2d"; do
    t0=$(now_ns)
    dd if=/dev/zero bs=1M count="$MB" status=none > "/dev/tcp/127.0.0.1/${pair%%:*}"
    t1=$(now_ns)
    mbps $((t1 - t0)) >> "$BENCH_TMP/${pair##*:}"
    sleep 0.2
  done
done
c2c=$(median < "$BENCH_TMP/c2c")
h2b=$(median < "$BENCH_TMP/h2b")
h2d=$(median < "$BENCH_TMP/h2d")
printf '  %-52s %8s MB/s  (median of %s, %s MB)\n' "container -> container by name (bridge, wget)" "$c2c" "$TPUT_RUNS" "$((FETCHES * 256))"
printf '  %-52s %8s MB/s  (%s of the default network)\n' "host -> published port, named network (DNAT)" "$h2b" "$(ratio "$h2b" "$h2d")"
printf '  %-52s %8s MB/s\n' "host -> published port, default network" "$h2d"
