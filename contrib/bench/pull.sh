#!/usr/bin/env bash
# Pull benchmark (issue 2): a 3-layer ~100 MB (uncompressed) image from a
# loopback registry into an empty store, beside the serial floor (sha256sum +
# gzip -dc of the same blobs with the standard tools) and podman when present.
# Run as root, or as any user with a subuid range. RUNS=N to change the count.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}

start_registry
python3 "$(dirname "$0")/make-image.py" "$BENCH_TMP/img" 100 3 > "$BENCH_TMP/layers"
skopeo copy -q --dest-tls-verify=false "oci:$BENCH_TMP/img:bench" "docker://$REG/bench/img:1"
IMAGE=$REG/bench/img:1

floor() {
  for h in $(cat "$BENCH_TMP/layers"); do
    sha256sum "$BENCH_TMP/img/blobs/sha256/$h" >/dev/null
    gzip -dc "$BENCH_TMP/img/blobs/sha256/$h" >/dev/null
  done
}
fresh() { rm -rf "$BENCH_TMP/store" "$BENCH_TMP/run"; }
# Rootless stores hold files owned by subordinate ids: remove them from inside.
fresh_coracle() { [ -d "$BENCH_TMP/store" ] && "$CORACLE" --root "$BENCH_TMP/store" --runroot "$BENCH_TMP/run" rmi -a -f >/dev/null 2>&1; fresh; }

floor_ms=$(median_ms "$RUNS" : floor)
coracle_ms=$(median_ms "$RUNS" fresh_coracle "$CORACLE" --root "$BENCH_TMP/store" --runroot "$BENCH_TMP/run" pull -q "$IMAGE")
echo "pull 3 layers, $(du -sh "$BENCH_TMP/img/blobs" | cut -f1) compressed, median of $RUNS"
printf '  %-28s %8s ms\n' "floor (sha256sum + gzip -dc)" "$floor_ms"
printf '  %-28s %8s ms  (%s of floor)\n' "coracle pull" "$coracle_ms" "$(ratio "$coracle_ms" "$floor_ms")"
if command -v podman >/dev/null; then
  podman_ms=$(median_ms "$RUNS" podman_teardown "${P[@]}" pull -q --tls-verify=false "$IMAGE")
  printf '  %-28s %8s ms  (coracle is %s faster)\n' "podman pull" "$podman_ms" "$(ratio "$podman_ms" "$coracle_ms")"
fi
fresh_coracle
