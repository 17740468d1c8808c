#!/bin/sh
# PID 1 of the test VM (busybox initramfs): mount the host's root read-only
# over 9p under a tmpfs overlay, give it a real cgroup v2 hierarchy, and make
# it the root to run the suite in. Results go to the console (@@RESULT lines).
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 tmpfs /tmp
for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe "$m" || echo "@@RESULT boot FAIL modprobe $m"; done
mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "@@RESULT boot FAIL mounting cgroup2"
mkdir -p /mnt/hostroot /mnt/share /tmp/ovl/u /tmp/ovl/w
# cache=loose: pages read once stay cached (both shares are not changed
# by the host while the VM runs), else every exec reads through 9p again
opts=trans=virtio,version=9p2000.L,msize=524288,cache=loose
mount -t 9p -o "$opts,ro" hostroot /mnt/hostroot || echo "@@RESULT boot FAIL 9p hostroot"
mount -t 9p -o "$opts" share /mnt/share || echo "@@RESULT boot FAIL 9p share"
R=/tmp/root
mkdir -p $R
mount -t overlay overlay -o lowerdir=/mnt/hostroot,upperdir=/tmp/ovl/u,workdir=/tmp/ovl/w $R || echo "@@RESULT boot FAIL overlay root"
for d in proc sys dev; do mount --rbind /$d $R/$d; done
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts 2>/dev/null
# stores and runtime dirs on tmpfs: an overlay cannot be an overlay's upper
for d in tmp run var/lib/coracle; do mkdir -p $R/$d; mount -t tmpfs -o mode=0755 tmpfs $R/$d; done
chmod 1777 $R/tmp
mkdir -p $R/mnt/share && mount --bind /mnt/share $R/mnt/share
# busybox stays reachable for the final poweroff
cp /bin/busybox $R/run/busybox
# switch_root, not chroot: a chrooted process may not create user
# namespaces (EPERM), and rootless containers need them
echo "@@T suite_start $(cut -d' ' -f1 /proc/uptime)"
if grep -q 'coracle.boot=systemd' /proc/cmdline; then
    # The second boot: the host's systemd as PID 1, starting only the
    # suite's target: no fstab, no udev, no getty; the suite powers the VM
    # off when done.
    S=$R/etc/systemd/system
    mkdir -p $S
    : > $R/etc/fstab
    cat > $S/coracle-vm.target <<'EOF'
[Unit]
Description=coracle's checks under systemd
DefaultDependencies=no
Requires=coracle-suite.service
After=coracle-suite.service
AllowIsolate=yes
EOF
    cat > $S/coracle-suite.service <<'EOF'
[Unit]
DefaultDependencies=no
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/bin/sh /mnt/share/systemd-suite.sh 2>&1; echo "@@T suite_end $(cut -d" " -f1 /proc/uptime)"; sync; /run/busybox poweroff -f'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
EOF
    # the host may be a container (/.dockerenv): systemd would then ignore
    # the kernel command line and skip what it skips in containers
    rm -f $R/.dockerenv
    exec switch_root $R /lib/systemd/systemd --unit=coracle-vm.target --show-status=false
fi
exec switch_root $R /bin/sh -c '/bin/sh /mnt/share/suite.sh 2>&1; echo "@@T suite_end $(cut -d" " -f1 /proc/uptime)"; sync; /run/busybox poweroff -f'
