#!/usr/bin/env bash
# Scale (issue 18): with N images (default 5000) `images` must stay under
# 100 ms and a `tag` or `rmi` among them under 20 ms; with N containers
# `ps -a` under 100 ms. Builds such stores with coracle itself (`import`
# of tiny distinct layers, `create`), then times each verb beside the same
# verb on a store holding one image (the floor: what does not grow).
# Run as root, or rootless as any user with a subuid range (CORACLE=...).
# N=5000 RUNS=15 JOBS=4 by default.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
N=${N:-5000}
RUNS=${RUNS:-15}
JOBS=${JOBS:-4}

# BENCH_STORE=DIR keeps the two big stores there: built on the first run,
# reused by later ones (building them is most of a run's time).
STORES=${BENCH_STORE:-$BENCH_TMP}
mkdir -p "$STORES"
big=(--root "$STORES/big" --runroot "$STORES/bigrun")
ctrs=(--root "$STORES/ctrs" --runroot "$STORES/ctrsrun")
small=(--root "$BENCH_TMP/small" --runroot "$BENCH_TMP/smallrun")

# One tar per image: a file holding its number, so every image differs.
mkdir -p "$BENCH_TMP/tars"
mk_tar() {
  local d="$BENCH_TMP/tars/$1"
  mkdir -p "$d/t" && echo "$1" > "$d/t/n" && tar -C "$d/t" -cf "$d.tar" . && rm -rf "$d"
}
export -f mk_tar
export BENCH_TMP
mk_tar 0

if [ -e "$STORES/built-$N" ]; then
  echo "reusing the stores of $N images and $N containers in $STORES"
else
  seq 1 "$N" | xargs -P "$JOBS" -I{} bash -c 'mk_tar {}'
  echo "building a store of $N images and one of $N containers ($JOBS at a time)..."
  t0=$(now_ns)
  seq 1 "$N" | xargs -P "$JOBS" -I{} \
    "$CORACLE" "${big[@]}" import -q "$BENCH_TMP/tars/{}.tar" "localhost/img{}" >/dev/null
  t1=$(now_ns)
  "$CORACLE" "${ctrs[@]}" import -q "$BENCH_TMP/tars/0.tar" localhost/base >/dev/null
  seq 1 "$N" | xargs -P "$JOBS" -I{} \
    "$CORACLE" "${ctrs[@]}" create -q --name "c{}" localhost/base true >/dev/null
  t2=$(now_ns)
  have=$("$CORACLE" "${big[@]}" images -q | wc -l)
  [ "$have" -ge "$N" ] || die "only $have images were made"
  echo "  made in $(( (t1 - t0) / 1000000 )) ms and $(( (t2 - t1) / 1000000 )) ms"
  touch "$STORES/built-$N"
fi
"$CORACLE" "${small[@]}" import -q "$BENCH_TMP/tars/0.tar" localhost/img1 >/dev/null
"$CORACLE" "${small[@]}" create -q --name c1 localhost/img1 true >/dev/null

i=0
# Each timed tag gives a new name; each timed rmi removes a real image, a
# fresh one imported (untimed) before it.
tag_in() { local -n st=$1; i=$((i + 1)); "$CORACLE" "${st[@]}" tag localhost/img1 "localhost/tagged$i"; }
fresh_in() { local -n st=$1; i=$((i + 1)); mk_tar "d$i"; "$CORACLE" "${st[@]}" import -q "$BENCH_TMP/tars/d$i.tar" "localhost/doomed$i" >/dev/null; }
rmi_in() { local -n st=$1; "$CORACLE" "${st[@]}" rmi "localhost/doomed$i"; }

over=0
row() {  # label, big-store ms, floor ms, budget ms
  local verdict=pass
  awk -v a="$2" -v b="$4" 'BEGIN { exit !(a > b) }' && { verdict=OVER; over=$((over + 1)); }
  printf '  %-28s %8s ms  floor %6s ms  (%s of floor)  budget %s ms: %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "$4" "$verdict"
}

echo "median of $RUNS runs, $([ "$(id -u)" = 0 ] && echo root || echo rootless)"
a=$(median_ms "$RUNS" : "$CORACLE" "${big[@]}" images)
b=$(median_ms "$RUNS" : "$CORACLE" "${small[@]}" images)
row "images ($N images)" "$a" "$b" 100
a=$(median_ms "$RUNS" : tag_in big)
b=$(median_ms "$RUNS" : tag_in small)
row "tag ($N images)" "$a" "$b" 20
a=$(median_ms "$RUNS" : "$CORACLE" "${big[@]}" image inspect --format '{{.Id}}' localhost/img1)
b=$(median_ms "$RUNS" : "$CORACLE" "${small[@]}" image inspect --format '{{.Id}}' localhost/img1)
row "image inspect NAME ($N images)" "$a" "$b" 20
a=$(median_ms "$RUNS" "fresh_in big" rmi_in big)
b=$(median_ms "$RUNS" "fresh_in small" rmi_in small)
row "rmi ($N images)" "$a" "$b" 20
a=$(median_ms "$RUNS" : "$CORACLE" "${ctrs[@]}" ps -a)
b=$(median_ms "$RUNS" : "$CORACLE" "${small[@]}" ps -a)
row "ps -a ($N containers)" "$a" "$b" 100
[ "$over" = 0 ] && echo "all within budget" || echo "$over over budget"
