#!/usr/bin/env bash
# THE test command: sets up a Debian machine (idempotent; fast on reruns),
# builds coracle, and runs every test (unit and integration, as root and as
# the unprivileged user `cotest`). Extra arguments go to `cargo test`,
# e.g. `sudo tests/run.sh --test pull -- layers`.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: run as root (sudo tests/run.sh): tests also run coracle as the user cotest" >&2
    exit 1
fi

cd "$(dirname "$(readlink -f "$0")")/.."
export DEBIAN_FRONTEND=noninteractive

# cargo may live in root's home (CI) and not be on sudo's PATH
for d in "${CARGO_HOME:-}/bin" "$HOME/.cargo/bin" /root/.cargo/bin; do
    if [ -x "$d/cargo" ]; then PATH="$d:$PATH"; break; fi
done
command -v cargo >/dev/null || { echo "tests/run.sh: cargo not found" >&2; exit 1; }

# --- packages (only when one is missing) ------------------------------------
PKGS="uidmap cpp busybox-static docker-registry skopeo apache2-utils jq passt slirp4netns nftables iproute2 fuse-overlayfs gcc libc6-dev xz-utils bzip2 systemd openssh-client"
# libseccomp compiles the seccomp profiles (the libseccomp crate links it)
PKGS="$PKGS libseccomp-dev pkg-config"
# man pages and completions (tests/docs.rs): man renders them, the shells load them
PKGS="$PKGS man-db groff-base zsh fish"
# the cgroup v2 VM (tests/vm/run.sh)
PKGS="$PKGS qemu-system-x86 cpio kmod"
# Python tools the tests run (in a venv, below)
PKGS="$PKGS python3-venv"
# external OCI runtimes for `--runtime` (tests/oci_runtime.rs)
PKGS="$PKGS crun runc"
# simple signing (tests/sign.rs): gpg signs and verifies
PKGS="$PKGS gpg gpg-agent gpgconf"
# a TLS server with its own CA for --cert-dir (tests/runres.rs)
PKGS="$PKGS openssl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "tests/run.sh: installing$missing"
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
# --- CRIU for tests/checkpoint.rs: Debian 12's criu 3.17 fails `criu check`
# on recent kernels; build 4.1.1 from Debian's source tarball into
# /usr/local/sbin (coracle prefers it), once.
CRIU_URL=http://deb.debian.org/debian/pool/main/c/criu/criu_4.1.1.orig.tar.xz
CRIU_SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
if ! /usr/local/sbin/criu check >/dev/null 2>&1; then
    echo "tests/run.sh: building criu 4.1.1 into /usr/local/sbin"
    apt-get install -y -q --no-install-recommends curl make libprotobuf-c-dev protobuf-c-compiler \
        libprotobuf-dev protobuf-compiler libcap-dev libnl-3-dev libnet1-dev pkg-config \
        python3-protobuf libbsd-dev libgnutls28-dev libnftables-dev libaio-dev uuid-dev
    CRIU_BUILD=$(mktemp -d)
    curl -fsSL -o "$CRIU_BUILD/criu.tar.xz" "$CRIU_URL"
    echo "$CRIU_SHA256  $CRIU_BUILD/criu.tar.xz" | sha256sum -c -
    tar -C "$CRIU_BUILD" -xJf "$CRIU_BUILD/criu.tar.xz"
    make -C "$CRIU_BUILD/criu-4.1.1" -j2 criu >/dev/null
    install -m 0755 "$CRIU_BUILD/criu-4.1.1/criu/criu" /usr/local/sbin/criu
    rm -rf "$CRIU_BUILD"
    /usr/local/sbin/criu check
fi
# --- Python tools: kubernetes-validate checks kube generate's output against
# Kubernetes' schemas (tests/kube.rs), in a venv of its own
KUBE_VENV=/opt/coracle-venv
if [ ! -x "$KUBE_VENV/bin/kubernetes-validate" ]; then
    echo "tests/run.sh: installing kubernetes-validate in $KUBE_VENV"
    /usr/bin/python3 -m venv "$KUBE_VENV"
    "$KUBE_VENV/bin/pip" install -q kubernetes-validate
fi
export CORACLE_KUBE_VALIDATE="$KUBE_VENV/bin/kubernetes-validate"
# cryptography + PyNaCl: tests/fixtures/sigstore_keys.py, an independent
# maker and checker of cosign keys and signatures (tests/sigstore.rs)
if ! "$KUBE_VENV/bin/python" -c 'import cryptography, nacl' 2>/dev/null; then
    echo "tests/run.sh: installing cryptography and pynacl in $KUBE_VENV"
    "$KUBE_VENV/bin/pip" install -q cryptography pynacl
fi
export CORACLE_PYTHON="$KUBE_VENV/bin/python"
# --- the unprivileged test user ----------------------------------------------
TEST_USER=cotest
id "$TEST_USER" >/dev/null 2>&1 || useradd -m -s /bin/sh "$TEST_USER"
grep -q "^$TEST_USER:" /etc/subuid || echo "$TEST_USER:200000:65536" >> /etc/subuid
grep -q "^$TEST_USER:" /etc/subgid || echo "$TEST_USER:200000:65536" >> /etc/subgid
# --userns=auto as root takes ids from the ranges of the user
# `containers` (storage.conf's root-auto-userns-user), as podman's.
grep -q "^containers:" /etc/subuid || echo "containers:1000000:1000000" >> /etc/subuid
grep -q "^containers:" /etc/subgid || echo "containers:1000000:1000000" >> /etc/subgid
TEST_UID=$(id -u "$TEST_USER")
# no login manager here to make the runtime dir
install -d -m 0755 /run/user
install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "/run/user/$TEST_UID"
# 0600 on some hosts; standard distributions have 0666 (rootless networking)
if [ -e /dev/net/tun ]; then chmod 0666 /dev/net/tun; fi
# A hybrid cgroup host whose v2 tree holds a controller no v1 hierarchy
# took (hugetlb here, after some boots): crun refuses to run there ("cgroups
# in hybrid mode not supported"). Distributions mount every v1 controller;
# do that for the ones left over, which moves them out of the v2 tree.
UNIFIED=/sys/fs/cgroup/unified
if [ "$(stat -f -c %T "$UNIFIED" 2>/dev/null)" = cgroup2fs ]; then
    for c in $(cat "$UNIFIED/cgroup.controllers"); do
        install -d "/sys/fs/cgroup/$c"
        mountpoint -q "/sys/fs/cgroup/$c" || mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" || true
    done
fi

# --- hygiene: formatting and lints fail the run -----------------------------
# (clippy also denies an unsafe block without a SAFETY comment: Cargo.toml)
cargo fmt --check || { echo "tests/run.sh: cargo fmt --check failed: run cargo fmt" >&2; exit 1; }
cargo clippy --all-targets -q -- -D warnings || { echo "tests/run.sh: cargo clippy found problems" >&2; exit 1; }

# --- build, and put the binary where the test user can read it ---------------
# A debug build: `cargo test` builds the same binary anyway, so nothing is
# compiled twice (a release build would double CI time for no test value).
cargo build --bins --examples
# Where the unprivileged user can reach the binary (the toolchain and the
# checkout may sit under a 0700 home). CORACLE_CI_DIR lets parallel
# checkouts keep their own copy.
CI_DIR=${CORACLE_CI_DIR:-/tmp/coracle-ci}
BIN_DIR=$CI_DIR/bin
install -d -m 0755 "$CI_DIR" "$BIN_DIR"
install -m 0755 target/debug/coracle "$BIN_DIR/coracle.new"
mv -f "$BIN_DIR/coracle.new" "$BIN_DIR/coracle"
export CORACLE_BIN="$BIN_DIR/coracle"

# --- run ---------------------------------------------------------------------
echo "tests/run.sh: CORACLE_BIN=$CORACLE_BIN, $(nproc) cpus"
# Doc tests are not used (there are none): --all-targets leaves them out,
# so the last result line is a real suite. Then one plain total line.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
if [ $# -eq 0 ]; then set -- --all-targets; fi
cargo test --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"

# cgroup v2 in a VM: this kind of host's own cgroup v2 has no controllers.
# Part of a full run (no arguments), or asked for with CORACLE_VM=1;
# CORACLE_VM=0 leaves it out.
if [ "${CORACLE_VM:-}" = 1 ] || { [ "${CORACLE_VM:-}" != 0 ] && [ "$*" = --all-targets ]; }; then
    if command -v qemu-system-x86_64 >/dev/null; then
        tests/vm/run.sh "$CORACLE_BIN" || status=1
    else
        echo "tests/run.sh: qemu-system-x86_64 missing: the cgroup v2 VM tests did not run" >&2
        status=1
    fi
fi
# A short cargo-fuzz run of every target (CORACLE_FUZZ_SECONDS each, 5 by
# default; 0 leaves it out), part of a full run or asked for with
# CORACLE_FUZZ=1. It needs the nightly toolchain and cargo-fuzz, which
# this script does not install (building the instrumented targets alone
# takes minutes): where they are missing it says so and the saved corpora
# still run, through the same entry points, in tests/fuzz_corpora.rs.
fuzz_secs=${CORACLE_FUZZ_SECONDS:-5}
if [ "$fuzz_secs" != 0 ] && { [ "${CORACLE_FUZZ:-}" = 1 ] || [ "$*" = --all-targets ]; }; then
    if cargo +nightly fuzz --version >/dev/null 2>&1; then
        # Seconds per target want no optimized build (10 of CI's minutes
        # went to it); a minute or more does.
        fuzz_profile=release
        [ "$fuzz_secs" -ge 60 ] || fuzz_profile=dev
        FUZZ_PROFILE=$fuzz_profile CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-$(nproc)} \
            fuzz/run.sh "$fuzz_secs" || status=1
    else
        echo "tests/run.sh: cargo-fuzz or the nightly toolchain missing: no cargo-fuzz run (the corpora ran in tests/fuzz_corpora.rs)" >&2
    fi
fi
exit "$status"
