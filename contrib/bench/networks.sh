#!/usr/bin/env bash
# Named networks benchmark (issue 15), as root or rootless (as the user who
# runs it), beside podman when it is installed (PODMAN=0 skips it):
# - `run -d --network app` beside `run -d --network none`;
# - `network create` + a server + a client's first lookup of it by name;
# - TCP throughput container to container, by name, over the bridge;
# - host to a port published by a container on the network.
# Root: coracle's bridge and nftables DNAT beside podman's netavark.
# Rootless: coracle's rootless network namespace (pasta for the way out,
# its port relay for -p) beside podman 4.3's, which has no pasta: its
# rootless netns goes out through slirp4netns and publishes through
# rootlessport. (podman's crun here needs the hugetlb v1 mount described in
# podman-here.md; the script does not make it.)
# RUNS=N (default 10), MB=N (default 1024), TPUT_RUNS=N (default 5).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-10}
MB=${MB:-1024}
TPUT_RUNS=${TPUT_RUNS:-5}
MODE=$([ "$(id -u)" = 0 ] && echo root || echo rootless)

busybox_store
TOOLS=(coracle)
if [ "${PODMAN:-1}" != 0 ] && command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  TOOLS+=(podman)
fi
tool() { if [ "$1" = coracle ]; then X=("${C[@]}"); else X=("${P[@]}"); fi; }

cleanup_net() {
  for t in "${TOOLS[@]}"; do
    tool "$t"
    "${X[@]}" rm -af -t 0 >/dev/null 2>&1 || true
    "${X[@]}" network rm -f app fresh >/dev/null 2>&1 || true
  done
  cleanup
}
trap cleanup_net EXIT

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m}'; }
ms_since() { awk -v ns=$(($(now_ns) - $1)) 'BEGIN { printf "%.1f\n", ns / 1e6 }'; }
free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-32767 -n 1)
    ss -Htuln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
wait_port() { for _ in $(seq 500); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.01; done; die "port $1 never opened"; }

# Subnets and bridges of our own (one set per tool: root shares the host's
# namespace), so nothing else on the host is touched.
net_args() { # TOOL K (podman 4.3 names its bridges itself)
  local k=$2
  if [ "$1" = podman ]; then echo "--subnet 10.89.$((210 + k)).0/24"; return; fi
  echo "--subnet 10.89.$((200 + k)).0/24 --interface-name corbench$k"
}

for t in "${TOOLS[@]}"; do
  tool "$t"
  # shellcheck disable=SC2046
  "${X[@]}" network create $(net_args "$t" 0) app >/dev/null
  # A member stays on the network, as in an application: the bridge is up.
  "${X[@]}" run -d --name anchor --network app "$IMAGE" sleep 600 >/dev/null
  : > "$BENCH_TMP/$t.none"; : > "$BENCH_TMP/$t.app"; : > "$BENCH_TMP/$t.first"
done

# Alternate tools and modes, so a change in the machine's load weighs on
# all alike.
for _ in $(seq "$RUNS"); do
  for t in "${TOOLS[@]}"; do
    tool "$t"
    for n in none app; do
      t0=$(now_ns)
      id=$("${X[@]}" run -d --network "$n" "$IMAGE" sleep 600)
      ms_since "$t0" >> "$BENCH_TMP/$t.$n"
      "${X[@]}" rm -f -t 0 "$id" >/dev/null
    done
    t0=$(now_ns)
    # shellcheck disable=SC2046
    "${X[@]}" network create $(net_args "$t" 1) fresh >/dev/null
    "${X[@]}" run -d --name srv --network fresh "$IMAGE" sleep 600 >/dev/null
    "${X[@]}" run --rm --network fresh "$IMAGE" nslookup srv >/dev/null
    ms_since "$t0" >> "$BENCH_TMP/$t.first"
    "${X[@]}" rm -f -t 0 srv >/dev/null
    "${X[@]}" network rm -f fresh >/dev/null
  done
done

# Throughput: busybox httpd (sendfile) serves a 256 MB file from a tmpfs,
# fetched by name with wget MB/256 times in one exec; host to container: a
# sink that discards what reaches its port 9000, through the published port.
FETCHES=$(( (MB + 255) / 256 ))
for t in "${TOOLS[@]}"; do
  tool "$t"
  port=$(free_port)
  echo "$port" > "$BENCH_TMP/$t.port"
  "${X[@]}" run -d --name sink --network app -p "127.0.0.1:$port:9000" "$IMAGE" nc -ll -p 9000 -e dd of=/dev/null bs=1M >/dev/null
  "${X[@]}" run -d --name web --network app --tmpfs /w:size=272m "$IMAGE" sh -c \
    "dd if=/dev/zero of=/w/big bs=1M count=256 2>/dev/null && echo ok > /w/ok && exec httpd -f -p 80 -h /w" >/dev/null
  wait_port "$port"
  n=0
  until "${X[@]}" exec anchor wget -qO /dev/null http://web/ok 2>/dev/null; do
    sleep 0.1; n=$((n + 1)); [ "$n" -lt 100 ] || die "$t: the web container never answered"
  done
  : > "$BENCH_TMP/$t.c2c"; : > "$BENCH_TMP/$t.h2c"
done
for _ in $(seq "$TPUT_RUNS"); do
  for t in "${TOOLS[@]}"; do
    tool "$t"
    t0=$(now_ns)
    "${X[@]}" exec anchor sh -c "for i in \$(seq $FETCHES); do wget -qO /dev/null http://web/big; done"
    awk -v mb=$((FETCHES * 256)) -v ns=$(($(now_ns) - t0)) 'BEGIN { printf "%.0f\n", mb / (ns / 1e9) }' >> "$BENCH_TMP/$t.c2c"
    sleep 0.2
    t0=$(now_ns)
    dd if=/dev/zero bs=1M count="$MB" status=none > "/dev/tcp/127.0.0.1/$(cat "$BENCH_TMP/$t.port")"
    awk -v mb="$MB" -v ns=$(($(now_ns) - t0)) 'BEGIN { printf "%.0f\n", mb / (ns / 1e9) }' >> "$BENCH_TMP/$t.h2c"
    sleep 0.2
  done
done

declare -A R
for t in "${TOOLS[@]}"; do
  for m in none app first c2c h2c; do R[$t.$m]=$(median < "$BENCH_TMP/$t.$m"); done
done
vs() { # METRIC: coracle's against podman's, when measured
  [ -n "${R[podman.$1]:-}" ] && printf '  podman %8s  (coracle %s of podman)' "${R[podman.$1]}" "$(ratio "${R[coracle.$1]}" "${R[podman.$1]}")"
  return 0
}
echo "named networks ($MODE), median of $RUNS starts, $TPUT_RUNS transfers of $((FETCHES * 256)) MB"
printf '  %-46s %8s ms' "run -d --network none" "${R[coracle.none]}"; vs none; echo
printf '  %-46s %8s ms' "run -d --network app" "${R[coracle.app]}"; vs app; echo
printf '  %-46s %8s\n' "  app / none" "$(ratio "${R[coracle.app]}" "${R[coracle.none]}")"
printf '  %-46s %8s ms' "network create + 2 containers + first lookup" "${R[coracle.first]}"; vs first; echo
printf '  %-46s %8s MB/s' "container -> container by name (wget)" "${R[coracle.c2c]}"; vs c2c; echo
printf '  %-46s %8s MB/s' "host -> published port on the network" "${R[coracle.h2c]}"; vs h2c; echo
