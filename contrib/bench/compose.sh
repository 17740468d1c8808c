#!/usr/bin/env bash
# Compose benchmark (issue 16): `compose up -d` of a 5-service project
# (images present) until every container runs, and `compose down` of it,
# beside podman-compose (from the Python registry, in a venv here)
# driving podman with a private store. Prints the medians and ratios.
# Run as root (podman 4.3's crun needs the hugetlb controller on cgroup v1
# on this kind of host: mounted for the run and unmounted after).
# RUNS=N (default 5).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || die "run as root (podman-compose runs rootful podman here)"

busybox_store
APP=$BENCH_TMP/app
mkdir -p "$APP"
{
  echo "services:"
  for s in web api worker cache db; do
    printf '  %s:\n    image: %s\n    command: sleep 600\n    stop_signal: SIGKILL\n' "$s" "$IMAGE"
  done
  # A subnet of our own, so that nothing else on the host is touched.
  printf 'networks:\n  default:\n    ipam:\n      config:\n        - subnet: %s\n' "${SUBNET:-10.89.231.0/24}"
} > "$APP/compose.yaml"

up_c() { "${C[@]}" compose -p bench -f "$APP/compose.yaml" up -d; }
down_c() { "${C[@]}" compose -p bench -f "$APP/compose.yaml" down -t 0 >/dev/null 2>&1 || true; }
down_c_timed() { "${C[@]}" compose -p bench -f "$APP/compose.yaml" down -t 0; }
up_c_quiet() { up_c >/dev/null 2>&1; }
running_c() { [ "$("${C[@]}" ps -q | wc -l)" = 5 ] || die "coracle: not 5 containers running"; }

up_c >/dev/null 2>&1; running_c; down_c  # warm up
c_ms=$(median_ms "$RUNS" down_c up_c)
running_c; down_c
cd_ms=$(median_ms "$RUNS" up_c_quiet down_c_timed)
echo "compose up -d of 5 services to all running, then down; medians of $RUNS (root)"
printf '  %-28s up %8s ms   down %8s ms\n' "coracle compose" "$c_ms" "$cd_ms"

command -v podman >/dev/null || { echo "  (podman not installed: no comparison)"; exit 0; }
python3 -m venv "$BENCH_TMP/venv" >/dev/null
"$BENCH_TMP/venv/bin/pip" install -q podman-compose >/dev/null
HUGETLB_MOUNTED=
if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
  HUGETLB_MOUNTED=1
fi
cleanup_compose() {
  "$BENCH_TMP/venv/bin/podman-compose" --podman-args "${P[*]:1}" -p bench -f "$APP/compose.yaml" down -t 0 >/dev/null 2>&1 || true
  # coracle's cgroup handling needs the controller back on cgroup v2
  [ -n "$HUGETLB_MOUNTED" ] && umount /sys/fs/cgroup/hugetlb
  cleanup
}
trap cleanup_compose EXIT
"${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
PC=("$BENCH_TMP/venv/bin/podman-compose" --podman-args "${P[*]:1}" -p bench -f "$APP/compose.yaml")
up_p() { "${PC[@]}" up -d; }
down_p() { "${PC[@]}" down -t 0 >/dev/null 2>&1 || true; }
down_p_timed() { "${PC[@]}" down -t 0; }
up_p_quiet() { up_p >/dev/null 2>&1; }
running_p() { [ "$("${P[@]}" ps -q | wc -l)" = 5 ] || die "podman-compose: not 5 containers running"; }
up_p >/dev/null 2>&1; running_p; down_p  # warm up
p_ms=$(median_ms "$RUNS" down_p up_p)
running_p; down_p
pd_ms=$(median_ms "$RUNS" up_p_quiet down_p_timed)
printf '  %-28s up %8s ms   down %8s ms\n' "podman-compose + podman 4.3" "$p_ms" "$pd_ms"
printf '  coracle is %s faster up, %s faster down\n' "$(ratio "$p_ms" "$c_ms")" "$(ratio "$pd_ms" "$cd_ms")"
