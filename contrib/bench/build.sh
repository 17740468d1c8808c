#!/usr/bin/env bash
# Build benchmark (issue 4): a 10-step Containerfile built cold (--no-cache)
# and then fully cached, beside `podman build` of the same context when
# podman is installed; and what one cold RUN step costs beyond its command
# (11 x `RUN true` minus 1 x, over 10).
# Run as root, or rootless as any user with a subuid range (copy the
# release binary somewhere that user can read and set CORACLE=...).
# RUNS=N (default 10).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-10}

busybox_store

CTX=$BENCH_TMP/ctx
mkdir -p "$CTX/src"
head -c 1048576 /dev/urandom > "$CTX/src/blob"
for i in $(seq 20); do echo "file $i" > "$CTX/src/f$i.txt"; done
cat > "$CTX/Containerfile" <<CF
FROM $IMAGE
ARG VERSION=1
ENV APP_HOME=/app VERSION=\$VERSION
LABEL org.example.bench=build
WORKDIR /app
COPY src/ /app/src/
RUN mkdir -p /app/out && cp /app/src/f1.txt /app/out/
RUN echo "\$VERSION" > /app/version
USER 0:0
EXPOSE 8080
CMD ["cat", "/app/version"]
CF
# 11 x RUN true and 1 x: the difference is ten RUN steps.
{ echo "FROM $IMAGE"; for i in $(seq 11); do echo "RUN true $i"; done; } > "$CTX/Runs11"
printf 'FROM %s\nRUN true 1\n' "$IMAGE" > "$CTX/Runs1"

"${C[@]}" build -q "$CTX" >/dev/null  # warm the page cache and the cache
cold_ms=$(median_ms "$RUNS" : "${C[@]}" build -q --no-cache "$CTX")
cached_ms=$(median_ms "$RUNS" : "${C[@]}" build -q "$CTX")
r11=$(median_ms "$RUNS" : "${C[@]}" build -q --no-cache -f "$CTX/Runs11" "$CTX")
r1=$(median_ms "$RUNS" : "${C[@]}" build -q --no-cache -f "$CTX/Runs1" "$CTX")
per_run=$(awk -v a="$r11" -v b="$r1" 'BEGIN { printf "%.1f", (a - b) / 10 }')

echo "build of a 10-step Containerfile, median of $RUNS ($([ "$(id -u)" = 0 ] && echo root || echo rootless))"
printf '  %-36s %8s ms\n' "coracle build, cold (--no-cache)" "$cold_ms"
printf '  %-36s %8s ms\n' "coracle build, fully cached" "$cached_ms"
printf '  %-36s %8s ms\n' "one cold RUN true step" "$per_run"
if command -v podman >/dev/null; then
  "${P[@]}" pull -q --tls-verify=false "$IMAGE" >/dev/null
  "${P[@]}" build -q "$CTX" >/dev/null
  p_cold=$(median_ms "$RUNS" : "${P[@]}" build -q --no-cache "$CTX")
  p_cached=$(median_ms "$RUNS" : "${P[@]}" build -q "$CTX")
  p11=$(median_ms 3 : "${P[@]}" build -q --no-cache -f "$CTX/Runs11" "$CTX")
  p1=$(median_ms 3 : "${P[@]}" build -q --no-cache -f "$CTX/Runs1" "$CTX")
  p_run=$(awk -v a="$p11" -v b="$p1" 'BEGIN { printf "%.1f", (a - b) / 10 }')
  printf '  %-36s %8s ms  (coracle is %s faster)\n' "podman build, cold (--no-cache)" "$p_cold" "$(ratio "$p_cold" "$cold_ms")"
  printf '  %-36s %8s ms  (coracle is %s faster)\n' "podman build, fully cached" "$p_cached" "$(ratio "$p_cached" "$cached_ms")"
  printf '  %-36s %8s ms  (coracle is %s faster)\n' "podman: one cold RUN true step" "$p_run" "$(ratio "$p_run" "$per_run")"
fi
