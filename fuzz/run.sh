#!/bin/bash
# Run every fuzz target for SECONDS each (default 10), one after the
# other, on one core, at the lowest priority: `fuzz/run.sh 600` is the
# recorded long run, tests/run.sh calls it with a few seconds in CI.
# Needs the nightly toolchain and cargo-fuzz (`cargo +nightly install
# cargo-fuzz`). As root the targets run as the unprivileged test user
# (tests/run.sh creates `cotest`): the layer target unpacks what the
# fuzzer makes up, and a bug there must not write as root.
# Each target starts from fuzz/seeds/TARGET; what it finds goes to
# fuzz/corpus/TARGET (not committed); `fuzz/run.sh --merge` minimizes that
# into fuzz/seeds/ (committed; tests/fuzz_corpora.rs replays it).
# A crash leaves its input in fuzz/artifacts/TARGET/ and fails the run.
# FUZZ_FLAGS adds libFuzzer flags (e.g. `-fork=1 -ignore_crashes=1`).
set -euo pipefail
cd "$(dirname "$0")"
merge=0
if [ "${1:-}" = --merge ]; then merge=1; shift; fi
secs=${1:-10}
targets=${TARGETS:-"containerfile reference manifest image_config layer_tar template filter quadlet compose"}
# FUZZ_PROFILE=dev builds without optimization: a third of the release
# build's time, for CI's few seconds per target (the long runs want the
# release build's speed).
profile=${FUZZ_PROFILE:-release}
build_flags=()
[ "$profile" = release ] || build_flags=(--dev)
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
    CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} nice -n 19 cargo +nightly fuzz build "${build_flags[@]}" >/dev/null
fi
bin=target/x86_64-unknown-linux-gnu/$profile
[ "$profile" = release ] || bin=target/x86_64-unknown-linux-gnu/debug
work=${FUZZ_WORK:-/tmp/coracle-fuzz-work}
as_user=()
if [ "$(id -u)" = 0 ] && id cotest >/dev/null 2>&1; then
    as_user=(runuser -u cotest --)
fi
status=0
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    # a copy the test user can write: the corpus grows while it runs
    rm -rf "${work:?}/$t"
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    cp -r "corpus/$t/." "seeds/$t/." "$work/$t/corpus/" 2>/dev/null || true
    chmod 0755 "$work"
    [ ${#as_user[@]} -eq 0 ] || chown -R cotest: "$work/$t"
    cp "$bin/$t" "$work/$t/bin"
    log="$work/$t/log"
    start=$(date +%s)
    set +e
    (cd "$work/$t" && nice -n 19 "${as_user[@]}" ./bin corpus \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
        -artifact_prefix=artifacts/ -print_final_stats=1 ${FUZZ_FLAGS:-}) >"$log" 2>&1
    rc=$?
    set -e
    took=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz $t: ${took}s, ${runs:-?} runs, exit $rc"
    cp -r "$work/$t/corpus/." "corpus/$t/"
    if ls "$work/$t/artifacts/"* >/dev/null 2>&1; then
        cp "$work/$t/artifacts/"* "artifacts/$t/"
        echo "fuzz $t: crash inputs in fuzz/artifacts/$t/:" >&2
        grep -m3 -E "panicked|ERROR: libFuzzer|SUMMARY" "$log" >&2 || true
        status=1
    elif [ $rc -ne 0 ]; then
        tail -5 "$log" >&2
        status=1
    fi
    if [ $merge = 1 ]; then
        mkdir -p "$work/$t/min"
        [ ${#as_user[@]} -eq 0 ] || chown cotest: "$work/$t/min"
        (cd "$work/$t" && nice -n 19 "${as_user[@]}" ./bin -merge=1 -timeout=10 \
            -rss_limit_mb=2048 -max_len=262144 min corpus) >"$log.merge" 2>&1
        find "$work/$t/min" -type f -size +64k -delete
        cp -n "$work/$t/min/"* "seeds/$t/" 2>/dev/null || true
        echo "fuzz $t: seeds now $(ls "seeds/$t" | wc -l) files"
    fi
done
exit $status
