#!/usr/bin/env bash
# cgroup v2 tests of coracle in a throwaway VM, for hosts whose own cgroup v2
# has no controllers (hybrid v1 hosts like the CI machines). QEMU boots
# Debian's stock kernel with a busybox initramfs; the host's root is shared
# read-only over 9p and becomes (under a tmpfs overlay) the VM's root, so
# the coracle under test, newuidmap and the shell tools are the host's own.
# tests/vm/suite.sh runs there, as root and as a user with a delegated cgroup
# subtree, and prints `@@RESULT <check> PASS|FAIL <detail>`; this script
# fails when a check failed or did not report.
#
#   sudo tests/vm/run.sh [path/to/coracle]     (default: target/debug/coracle)
#   env: CORACLE_VM_DIR (cache and work dir, default target/vm),
#        ACCEL=auto|kvm|tcg, QEMU_TIMEOUT (seconds, default 300)
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=$(readlink -f "${1:-${CORACLE_BIN:-$REPO/target/debug/coracle}}")
WORK=${CORACLE_VM_DIR:-$REPO/target/vm}
ACCEL=${ACCEL:-auto}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-300}
TEST_USER=${TEST_USER:-cotest}
# Two boots: `cgroup` (suite.sh, busybox's sh as PID 1) and `systemd` (the
# host's systemd as PID 1 running systemd-suite.sh: Quadlet units started,
# restarted and stopped by a real systemd). CORACLE_VM_BOOTS picks them.
BOOTS=${CORACLE_VM_BOOTS:-cgroup systemd}
# checks each boot must report (a missing one is a failure too)
EXPECTED_cgroup="root_oom root_oom_cgroup_removed root_pids root_cpu root_cpuset root_pause root_stats root_update root_cgroup_conf user_delegated user_oom user_pids user_cpu user_pause user_missing_controller root_pod_limits user_pod_limits"
# Only the checks named here run in the systemd boot. To add once run has
# --replace, --cgroups=split, --sdnotify and the healthchecks: sd_start
# sd_reachable sd_restart sd_stop sd_notify_healthy.
EXPECTED_systemd="sd_boot sd_generator sd_start sd_reachable sd_restart sd_stop sd_notify_healthy"

[ "$(id -u)" = 0 ] || { echo "tests/vm/run.sh: run as root" >&2; exit 1; }
[ -x "$BIN" ] || { echo "tests/vm/run.sh: no coracle binary at $BIN" >&2; exit 1; }
for t in qemu-system-x86_64 cpio depmod busybox xz; do
    command -v "$t" >/dev/null || { echo "tests/vm/run.sh: $t is missing (apt-get install qemu-system-x86 cpio kmod busybox-static xz-utils)" >&2; exit 1; }
done
id "$TEST_USER" >/dev/null 2>&1 && grep -q "^$TEST_USER:" /etc/subuid || {
    echo "tests/vm/run.sh: the user $TEST_USER with a subordinate id range is needed (tests/run.sh makes it)" >&2; exit 1; }
mkdir -p "$WORK"
cd "$WORK"
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- the kernel: Debian's, unpacked here (the host's boot is untouched) ----
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$KPKG" ] || { echo "tests/vm/run.sh: cannot find Debian's kernel package (apt-get update?)" >&2; exit 1; }
KVER=${KPKG#linux-image-}
if [ ! -f "kpkg/boot/vmlinuz-$KVER" ]; then
    rm -rf kpkg ./*.deb
    apt-get download -q -o APT::Sandbox::User=root "$KPKG" >/dev/null
    dpkg-deb -x "${KPKG}"_*.deb kpkg
    rm -f ./*.deb
fi
MODSRC=$WORK/kpkg/lib/modules/$KVER
[ -f "$MODSRC/modules.dep" ] || depmod -b "$WORK/kpkg" "$KVER"
# The uncompressed ELF boots through its PVH entry with qboot: no
# decompression and no SeaBIOS, which halves boot time under emulation.
if [ ! -s "vmlinux-$KVER" ]; then
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "kpkg/boot/vmlinuz-$KVER" | head -1 | cut -d: -f1)
    if [ -n "$off" ]; then
        tail -c +$((off + 1)) "kpkg/boot/vmlinuz-$KVER" | xz -dc --single-stream > "vmlinux-$KVER" 2>/dev/null || rm -f "vmlinux-$KVER"
    fi
fi
if [ -s "vmlinux-$KVER" ] && [ -f /usr/share/qemu/qboot.rom ]; then
    BOOT=(-bios /usr/share/qemu/qboot.rom -kernel "$WORK/vmlinux-$KVER")
else
    BOOT=(-kernel "$WORK/kpkg/boot/vmlinuz-$KVER")
fi

# --- initramfs: busybox, the modules for 9p and overlay, our /init ---------
IR=$WORK/initramfs
rm -rf "$IR"
mkdir -p "$IR"/{bin,proc,sys,dev,tmp,mnt,lib/modules/$KVER}
cp "$(command -v busybox)" "$IR/bin/busybox"
for a in $("$IR/bin/busybox" --list); do [ -e "$IR/bin/$a" ] || ln -s busybox "$IR/bin/$a"; done
ln -s bin "$IR/sbin"
for m in virtio_pci 9pnet_virtio 9p overlay; do
    # the module's line in modules.dep: itself, then what it needs
    for f in $(awk -v a="/$m.ko:" -v b="/$m.ko.xz:" 'index($0, a) || index($0, b) { sub(":", ""); print; exit }' "$MODSRC/modules.dep"); do
        mkdir -p "$IR/lib/modules/$KVER/$(dirname "$f")"
        cp "$MODSRC/$f" "$IR/lib/modules/$KVER/$f"
    done
done
cp "$MODSRC"/modules.{order,builtin,builtin.modinfo} "$IR/lib/modules/$KVER/" 2>/dev/null || true
depmod -b "$IR" "$KVER"
install -m 0755 "$HERE/init.sh" "$IR/init"
(cd "$IR" && find . | cpio -o -H newc --quiet | gzip -1) > initramfs.cpio.gz

# --- the share: the binary under test, the suite, a busybox image ----------
rm -rf share && mkdir -p share/rootfs/bin share/rootfs/tmp
if command -v strip >/dev/null; then strip -o share/coracle "$BIN"; else cp "$BIN" share/coracle; fi
chmod 0755 share share/coracle
install -m 0755 "$HERE/suite.sh" share/suite.sh
install -m 0755 "$HERE/systemd-suite.sh" share/systemd-suite.sh
install -m 0755 "$REPO/contrib/install.sh" share/install.sh
# install.sh puts the restart unit beside the binary: it reads it next to itself
install -d share/systemd && install -m 0644 "$REPO/contrib/systemd/coracle-restart.service" share/systemd/
cp "$(command -v busybox)" share/rootfs/bin/busybox
for a in sh sleep cat echo true yes head seq grep awk sed cut tr wc ls dd; do ln -s busybox "share/rootfs/bin/$a"; done
chmod 1777 share/rootfs/tmp
tar -C share/rootfs -cf share/busybox.tar . && rm -rf share/rootfs
printf 'TEST_USER=%s\nTEST_UID=%s\nTEST_GID=%s\nSD_CHECKS="%s"\n' "$TEST_USER" "$(id -u "$TEST_USER")" "$(id -g "$TEST_USER")" "$EXPECTED_systemd" > share/env
echo "tests/vm: prepared in $(elapsed) s (kernel $KVER)"

# --- boot -------------------------------------------------------------------
if [ "$ACCEL" = auto ]; then
    # A PVM-only /dev/kvm (this kind of host) cannot run a stock kernel.
    if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
    kvm) ACC=(-accel kvm -cpu host) ;;
    *) ACC=(-accel tcg,thread=multi -cpu max) ;;
esac
# boot MODE: run that boot's suite; its verdict from the console log
boot() {
    local mode=$1 log=$WORK/console-$1.log expected fail=0 qrc line c b0
    expected=$(eval echo "\$EXPECTED_$mode")
    b0=$(date +%s.%N)
    set +e
    timeout "$QEMU_TIMEOUT" qemu-system-x86_64 "${ACC[@]}" -m 1G -smp 2 -nodefaults -no-user-config \
        -display none -serial stdio -no-reboot "${BOOT[@]}" -initrd initramfs.cpio.gz \
        -append "console=ttyS0 quiet panic=-1 rdinit=/init coracle.boot=$mode" \
        -virtfs local,path="$WORK/share",mount_tag=share,security_model=none,id=share \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot \
        </dev/null 2>&1 | tr -d '\r' > "$log"
    qrc=${PIPESTATUS[0]}
    set -e
    grep -v '^@@' "$log" | grep -v '^\s*$' | sed "s/^/  vm($mode): /" | tail -n 60 || true
    for c in $expected; do
        line=$(grep -m1 "^@@RESULT $c " "$log" || true)
        case $line in
            "@@RESULT $c PASS"*) echo "tests/vm: PASS $c${line#"@@RESULT $c PASS"}" ;;
            "") echo "tests/vm: FAIL $c (no result: the suite stopped before it)"; fail=1 ;;
            *) echo "tests/vm: FAIL $c${line#"@@RESULT $c FAIL"}"; fail=1 ;;
        esac
    done
    grep '^@@RESULT' "$log" | grep -q ' FAIL' && fail=1
    echo "tests/vm: $mode boot: qemu exit $qrc, $(awk -v a="$b0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    if [ "$fail" != 0 ] || [ "$qrc" != 0 ]; then
        echo "tests/vm: $mode boot FAILED (console log: $log)"
        return 1
    fi
    echo "tests/vm: $mode boot: all $(echo "$expected" | wc -w) checks passed"
}
status=0
for mode in $BOOTS; do
    boot "$mode" || status=1
done
echo "tests/vm: accel $ACCEL, $(elapsed) s in all"
exit "$status"
