#!/bin/sh
# coracle under a real systemd (PID 1 of the test VM's second boot, see
# init.sh): the generator installed by contrib/install.sh turns a
# .container file into a service that systemd starts, restarts after its
# container is killed (Restart=always), stops cleanly, and (Notify=healthy)
# holds in "activating" until the healthcheck passes. Each check prints
# `@@RESULT <name> PASS|FAIL <detail>`; only the checks named in $SD_CHECKS
# (from run.sh, through /mnt/share/env) run.
. /mnt/share/env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
C=/usr/local/bin/coracle

res() { echo "@@RESULT $1 $2 $3"; }
check() {
    case " $SD_CHECKS " in *" $1 "*) ;; *) return 0 ;; esac
    t0=$(cut -d' ' -f1 /proc/uptime)
    out=$("$2" 2>&1); rc=$?
    echo "@@T $1 $t0 $(cut -d' ' -f1 /proc/uptime)"
    detail=$(printf '%s' "$out" | tail -n 1 | tr -s ' \t' ' ')
    if [ $rc = 0 ]; then res "$1" PASS "$detail"; else
        printf '%s\n' "$out" | tail -n 12 | sed "s/^/  $1: /"
        res "$1" FAIL "$detail"
    fi
}
wait_until() {
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
prop() { systemctl show -P "$2" "$1"; }
# busybox's nc: its static wget crashes on some hosts
fetch() { printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 2 127.0.0.1 8080 2>/dev/null | tail -n 1; }
served() { [ "$(fetch)" = "hello from coracle" ]; }
ctr_pid() { $C inspect systemd-web --format '{{.State.Pid}}' 2>/dev/null; }
pid_changed() { p=$(ctr_pid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$1" ]; }

t_boot() {
    pid1=$(readlink /proc/1/exe)
    echo "PID 1 is $pid1, $(systemctl --version | head -1)"
    case $pid1 in */systemd) ;; *) return 1 ;; esac
}
t_generator() {
    sh /mnt/share/install.sh /mnt/share/coracle >/dev/null || return 1
    mkdir -p /etc/containers/systemd /srv/www
    echo "hello from coracle" > /srv/www/index.html
    cat > /etc/containers/systemd/web.container <<'UNIT'
[Unit]
Description=busybox httpd in a coracle container

[Container]
Image=localhost/bb:1
Exec=busybox httpd -f -p 127.0.0.1:8080 -h /www
Network=host
Volume=/srv/www:/www:ro

[Service]
Restart=always
RestartSec=1
UNIT
    systemctl daemon-reload || return 1
    src=$(prop web.service SourcePath)
    load=$(prop web.service LoadState)
    gen=$(prop web.service FragmentPath)
    echo "LoadState $load, SourcePath $src, FragmentPath $gen"
    [ "$load" = loaded ] && [ "$src" = /etc/containers/systemd/web.container ] &&
        [ "$gen" = /run/systemd/generator/web.service ]
}
t_start() {
    systemctl start web.service || {
        journalctl --no-pager -o cat -u web.service | grep -v '^web.service' | tail -8
        return 1
    }
    state=$(systemctl is-active web.service)
    st=$($C inspect systemd-web --format '{{.State.Status}}')
    main=$(prop web.service MainPID)
    echo "web.service $state, container systemd-web $st, MainPID $main"
    [ "$state" = active ] && [ "$st" = running ]
}
t_reachable() {
    wait_until 20 served
    echo "GET / -> '$(fetch)'"
    served
}
t_restart() {
    before=$(ctr_pid)
    [ -n "$before" ] && [ "$before" != 0 ] || { echo "no container pid"; return 1; }
    kill -9 "$before"
    wait_until 60 pid_changed "$before" || { echo "not restarted: $(systemctl is-active web.service)"; return 1; }
    wait_until 60 served
    n=$(prop web.service NRestarts)
    state=$(systemctl is-active web.service)
    echo "killed pid $before; now pid $(ctr_pid), NRestarts $n, $state, GET / -> '$(fetch)'"
    [ "$n" = 1 ] && [ "$state" = active ] && served
}
t_stop() {
    systemctl stop web.service
    state=$(systemctl is-active web.service)
    result=$(prop web.service Result)
    left=$($C ps -a --format '{{.Names}}' | grep -c systemd-web)
    echo "after stop: $state, Result $result, containers named systemd-web: $left"
    [ "$state" = inactive ] && [ "$result" = success ] && [ "$left" = 0 ] && ! served
}
activating() { [ "$(systemctl is-active slow.service)" = activating ]; }
t_notify_healthy() {
    cat > /etc/containers/systemd/slow.container <<'UNIT'
[Container]
Image=localhost/bb:1
Exec=sh -c 'sleep 4; echo ok > /tmp/ready; exec sleep 1000'
Network=none
HealthCmd=cat /tmp/ready
HealthInterval=1s
HealthRetries=30
Notify=healthy
UNIT
    systemctl daemon-reload || return 1
    systemctl start --no-block slow.service
    wait_until 30 sh -c "$C ps --format '{{.Names}}' | grep -q systemd-slow" || {
        journalctl --no-pager -o cat -u slow.service | grep -v '^slow.service' | tail -8
        echo "no container"
        return 1
    }
    early=$(systemctl is-active slow.service)
    health=$($C inspect systemd-slow --format '{{.State.Health.Status}}')
    wait_until 60 sh -c '[ "$(systemctl is-active slow.service)" != activating ]'
    late=$(systemctl is-active slow.service)
    health2=$($C inspect systemd-slow --format '{{.State.Health.Status}}')
    systemctl stop slow.service
    echo "while starting: $early ($health); then $late ($health2)"
    [ "$early" = activating ] && [ "$health" = starting ] && [ "$late" = active ] && [ "$health2" = healthy ]
}

echo "@@INFO systemd boot: kernel $(uname -r)"
cp /mnt/share/coracle /tmp/vm-coracle && chmod 0755 /tmp/vm-coracle
/tmp/vm-coracle import /mnt/share/busybox.tar bb:1 >/dev/null 2>&1 || echo "@@INFO import failed"
check sd_boot t_boot
check sd_generator t_generator
check sd_start t_start
check sd_reachable t_reachable
check sd_restart t_restart
check sd_stop t_stop
check sd_notify_healthy t_notify_healthy
