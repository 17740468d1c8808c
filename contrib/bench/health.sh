#!/usr/bin/env bash
# Healthchecks (issue 14): what one check costs and what a monitor that
# runs one every second weighs. coracle's monitor runs checks itself (a
# fork + exec into the container); podman runs a whole `podman
# healthcheck run` process from a systemd timer, so its cost per check is
# that command's. Run as root, or rootless as any user with a subuid
# range (CORACLE=...). RUNS=N (default 30), SECONDS_OF_CHECKS (default 20).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-30}
WATCH=${SECONDS_OF_CHECKS:-20}
mode=$([ "$(id -u)" = 0 ] && echo root || echo rootless)

busybox_store
ctr=$("${C[@]}" run -d --network none --health-cmd true --health-interval 1s "$IMAGE" sleep 600)
# the monitor's own measure of a check: End - Start of each log entry
sleep "$WATCH"
in_monitor_ms=$("${C[@]}" inspect "$ctr" --format '{{json .State.Health.Log}}' | python3 -c '
import json, sys, datetime
def t(s):
    s = s.rstrip("Z"); base, _, frac = s.partition(".")
    return datetime.datetime.fromisoformat(base).timestamp() + float("0." + (frac or "0"))
d = sorted((t(e["End"]) - t(e["Start"])) * 1000 for e in json.load(sys.stdin))
print("%.1f" % d[len(d) // 2])')
monitor=$("${C[@]}" inspect "$ctr" --format '{{.State.ConmonPid}}')
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$monitor/status")
pss_kb=$(awk '/^Pss:/ {print $2}' "/proc/$monitor/smaps_rollup")
cli_ms=$(median_ms "$RUNS" : "${C[@]}" healthcheck run "$ctr")
echo "healthchecks, median of $RUNS ($mode)"
printf '  %-44s %8s ms\n' "one check in the monitor (log End-Start)" "$in_monitor_ms"
printf '  %-44s %8s ms\n' "coracle healthcheck run (whole command)" "$cli_ms"
printf '  %-44s %8s KiB RSS, %s KiB PSS\n' "monitor after ${WATCH}s of 1 s checks" "$rss_kb" "$pss_kb"
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  pctr=$("${P[@]}" run -d --network none --health-cmd true --health-interval 1s "$IMAGE" sleep 600)
  p_ms=$(median_ms "$RUNS" : "${P[@]}" healthcheck run "$pctr")
  conmon=$("${P[@]}" inspect "$pctr" --format '{{.State.ConmonPid}}')
  c_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$conmon/status")
  printf '  %-44s %8s ms  (coracle monitor: %s less)\n' "podman healthcheck run (what its timer runs)" "$p_ms" "$(ratio "$p_ms" "$in_monitor_ms")"
  printf '  %-44s %8s KiB RSS (conmon, no checks of its own)\n' "podman's conmon" "$c_rss"
  "${P[@]}" rm -f -t 0 "$pctr" >/dev/null 2>&1 || true
fi
"${C[@]}" rm -f -t 0 "$ctr" >/dev/null
