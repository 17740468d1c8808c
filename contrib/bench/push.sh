#!/usr/bin/env bash
# Push benchmark (issue 5): the 3-layer ~100 MB (uncompressed) image, pulled
# from a source registry into the store, pushed to an EMPTY second loopback
# registry (wiped before every run: every layer is made from its directory,
# compressed and sent), then re-pushed (the registry has every blob: nothing
# may be sent). Beside `podman push` of the same image when podman is there.
# Run as root, or as any user with a subuid range. RUNS=N to change the count.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}

start_registry
python3 "$(dirname "$0")/make-image.py" "$BENCH_TMP/img" 100 3 > "$BENCH_TMP/layers"
skopeo copy -q --dest-tls-verify=false "oci:$BENCH_TMP/img:bench" "docker://$REG/bench/img:1"
IMAGE=$REG/bench/img:1

# The destination: a second registry whose storage is wiped between runs.
DEST_PORT=$(shuf -i 30000-60000 -n 1)
DEST=127.0.0.1:$DEST_PORT
mkdir -p "$BENCH_TMP/dest"
cat > "$BENCH_TMP/dest.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $BENCH_TMP/dest}, delete: {enabled: true}}
http: {addr: $DEST}
YML
docker-registry serve "$BENCH_TMP/dest.yml" >"$BENCH_TMP/dest.log" 2>&1 &
DEST_PID=$!
trap 'kill "$DEST_PID" 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do curl -fs "http://$DEST/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
empty_dest() { rm -rf "${BENCH_TMP:?}/dest/docker"; }
# Bytes the destination stores: a re-push must not add any.
dest_bytes() { du -sb "$BENCH_TMP/dest" | cut -f1; }

C=("$CORACLE" --root "$BENCH_TMP/store" --runroot "$BENCH_TMP/run")
"${C[@]}" pull -q "$IMAGE" >/dev/null

first_ms=$(median_ms "$RUNS" empty_dest "${C[@]}" push -q "$IMAGE" "$DEST/bench/img:1")
before=$(dest_bytes)
again_ms=$(median_ms "$RUNS" : "${C[@]}" push -q "$IMAGE" "$DEST/bench/img:1")
after=$(dest_bytes)
[ "$before" = "$after" ] || die "a re-push changed the destination's storage ($before -> $after bytes)"

echo "push 3 layers, $(du -sh "$BENCH_TMP/img/blobs" | cut -f1) compressed source, median of $RUNS"
printf '  %-34s %8s ms\n' "coracle push (empty registry)" "$first_ms"
printf '  %-34s %8s ms  (destination unchanged: %s bytes)\n' "coracle re-push" "$again_ms" "$after"
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  pfirst_ms=$(median_ms "$RUNS" empty_dest "${P[@]}" push -q --tls-verify=false "$IMAGE" "$DEST/bench/img:1")
  pagain_ms=$(median_ms "$RUNS" : "${P[@]}" push -q --tls-verify=false "$IMAGE" "$DEST/bench/img:1")
  printf '  %-34s %8s ms  (coracle is %s faster)\n' "podman push (empty registry)" "$pfirst_ms" "$(ratio "$pfirst_ms" "$first_ms")"
  printf '  %-34s %8s ms  (coracle is %s faster)\n' "podman re-push" "$pagain_ms" "$(ratio "$pagain_ms" "$again_ms")"
fi
"${C[@]}" rmi -a -f >/dev/null 2>&1 || true
