#!/bin/sh
# coracle's cgroup v2 checks, inside the test VM (tests/vm/run.sh boots it):
# limits really enforced (OOM kill recorded, forks beyond the pids limit
# fail, a busy loop throttled to its cpu.max, cpuset), pause really freezes,
# stats match the cgroup files, update rewrites them; as root and as a user
# owning a delegated subtree (as systemd's user@.service gives one).
# Each check prints `@@RESULT <name> PASS|FAIL <detail>`.
. /mnt/share/env
# a copy in tmpfs: every invocation maps it again
cp /mnt/share/coracle /tmp/vm-coracle && chmod 0755 /tmp/vm-coracle
C=/tmp/vm-coracle
CG=/sys/fs/cgroup
NET="--network none"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

res() { echo "@@RESULT $1 $2 $3"; }
# check NAME FUNCTION: PASS when FUNCTION succeeds; its last line is the detail
check() {
    t0=$(cut -d' ' -f1 /proc/uptime)
    out=$("$2" 2>&1); rc=$?
    echo "@@T $1 $t0 $(cut -d' ' -f1 /proc/uptime)"
    detail=$(printf '%s' "$out" | tail -n 1 | tr -s ' \t' ' ')
    if [ $rc = 0 ]; then res "$1" PASS "$detail"; else
        printf '%s\n' "$out" | tail -n 8 | sed "s/^/  $1: /"
        res "$1" FAIL "$detail"
    fi
}
# wait_until SECONDS COMMAND...: poll until COMMAND succeeds
wait_until() {
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
stat_field() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
periods_at_least() { [ "$(stat_field "$1/cpu.stat" nr_periods)" -ge "$2" ]; }
ticks_above() { [ "$(count_lines)" -gt "$1" ]; }

# as root ($K) or as the test user in its delegated subtree ($K = U)
K=
U() {
    sh -c 'echo $$ > /sys/fs/cgroup/deleg/session/cgroup.procs && exec "$@"' sh \
        setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups \
        env -i PATH="$PATH" HOME=/tmp/uhome XDG_RUNTIME_DIR=/run/user/$TEST_UID "$@"
}
co() { $K $C $DRIVER "$@"; }
cgpath() { echo "$CG$(co inspect "$1" --format '{{.State.CgroupPath}}')"; }

t_oom() {
    # dd's 64 MiB buffer, filled from /dev/zero, cannot fit in 32 MiB
    co run --name oom $NET --memory 32m bb:1 dd if=/dev/zero of=/dev/null bs=64M count=1
    rc=$?
    k=$(co inspect oom --format '{{.State.OOMKilled}} {{.State.ExitCode}}')
    echo "exit $rc, OOMKilled ExitCode: $k"
    [ "$rc" = 137 ] && [ "$k" = "true 137" ]
}
t_oom_cgroup_removed() {
    id=$(co inspect oom --format '{{.Id}}')
    left=$(find $CG -maxdepth 3 -name "coracle-$id")
    echo "cgroup left behind: ${left:-none}"
    [ -z "$left" ]
}
t_pids() {
    out=$(co run --rm $NET --pids-limit 5 bb:1 sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; echo all-forked' 2>&1)
    rc=$?
    ok=$(co run --rm $NET --pids-limit 20 bb:1 sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; echo all-forked' 2>&1)
    echo "limit 5: exit $rc, $(echo "$out" | tail -1); limit 20: $ok"
    [ "$rc" != 0 ] && echo "$out" | grep -q "can't fork" && [ "$ok" = all-forked ]
}
t_cpu() {
    co run -d --name spin $NET --cpus 0.2 bb:1 sh -c 'while :; do :; done' >/dev/null || return 1
    P=$(cgpath spin)
    max=$(cat "$P/cpu.max")
    wait_until 60 periods_at_least "$P" 10
    periods=$(stat_field "$P/cpu.stat" nr_periods)
    throttled=$(stat_field "$P/cpu.stat" nr_throttled)
    usage=$(stat_field "$P/cpu.stat" usage_usec)
    co rm -f -t 0 spin >/dev/null
    echo "cpu.max '$max', periods $periods, throttled $throttled, usage ${usage}us"
    # held near its 20%: far below the 100% a free busy loop takes
    # (emulated CPUs overshoot the quota a little)
    [ "$max" = "20000 100000" ] && [ "$throttled" -ge 5 ] && [ "$usage" -le $((periods * 100000 * 30 / 100)) ]
}
t_cpuset() {
    got=$(co run --rm $NET --cpuset-cpus 1 bb:1 grep Cpus_allowed_list /proc/self/status)
    echo "in the container: $got"
    [ "$(echo "$got" | awk '{ print $2 }')" = 1 ]
}
count_lines() { co logs tick 2>/dev/null | wc -l; }
t_pause() {
    co run -d --name tick $NET bb:1 sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done' >/dev/null || return 1
    wait_until 60 ticks_above 2 || { echo "no output"; return 1; }
    co pause tick >/dev/null || return 1
    P=$(cgpath tick)
    frozen=$(grep frozen "$P/cgroup.events")
    status=$(co inspect tick --format '{{.State.Status}}')
    n1=$(count_lines); sleep 1; n2=$(count_lines)
    co unpause tick >/dev/null || return 1
    wait_until 60 ticks_above $((n2 + 2))
    n3=$(count_lines)
    after=$(co inspect tick --format '{{.State.Status}}')
    co rm -f -t 0 tick >/dev/null
    echo "'$frozen', $status, counter $n1 -> $n2 while paused, $n3 after unpause ($after)"
    [ "$frozen" = "frozen 1" ] && [ "$status" = paused ] && [ "$n1" = "$n2" ] && [ "$n3" -gt "$n2" ] && [ "$after" = running ]
}
t_stats() {
    co run -d --name st $NET --memory 32m bb:1 sh -c 'sleep 300 & sleep 300' >/dev/null || return 1
    P=$(cgpath st)
    wait_until 60 sh -c "[ \$(cat $P/pids.current) = 2 ]"
    line=$(co stats --no-stream --format '{{.MemUsage}}|{{.PIDS}}|{{.UpTime}}' st)
    current=$(cat "$P/memory.current")
    echo "stats '$line', memory.current $current, pids.current $(cat "$P/pids.current")"
    case $line in *" / 33.55MB|2|"*) ;; *) return 1 ;; esac
    [ "$current" -gt 0 ] && [ "$current" -le 33554432 ]
}
t_update() {
    co update --memory 64m --pids-limit 50 --cpus 0.5 st >/dev/null || return 1
    P=$(cgpath st)
    shown=$(co inspect st --format '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}')
    echo "memory.max $(cat "$P/memory.max"), pids.max $(cat "$P/pids.max"), cpu.max '$(cat "$P/cpu.max")', inspect: $shown"
    [ "$(cat "$P/memory.max")" = 67108864 ] && [ "$(cat "$P/pids.max")" = 50 ] && [ "$(cat "$P/cpu.max")" = "50000 100000" ] && [ "$shown" = "67108864 50" ]
}
t_pod_limits() {
    # a pod's limits on its own cgroup, the parent of its members'
    co pod create --name capped --network none --memory 64m --cpus 0.5 >/dev/null || return 1
    co run -d --name pm --pod capped bb:1 sleep 300 >/dev/null || return 1
    P=$CG$(co pod inspect capped --format '{{.CgroupPath}}')
    mm=$(cat "$P/memory.max"); cm=$(cat "$P/cpu.max")
    mine=$(cgpath pm)
    co pod rm -f -t 0 capped >/dev/null
    left=no; [ -d "$P" ] && left=yes
    echo "pod cgroup $P: memory.max $mm, cpu.max '$cm'; member $mine; left after pod rm: $left"
    [ "$mm" = 67108864 ] && [ "$cm" = "50000 100000" ] && [ "${mine#"$P"/coracle-}" != "$mine" ] && [ "$left" = no ]
}
t_cgroup_conf() {
    co run -d --name cc $NET --cgroup-conf memory.high=33554432 bb:1 sleep 300 >/dev/null || return 1
    P=$(cgpath cc)
    got=$(cat "$P/memory.high")
    shown=$(co inspect cc --format '{{.HostConfig.CgroupConf}}')
    co rm -f -t 0 cc >/dev/null
    echo "memory.high $got, inspect: $shown"
    [ "$got" = 33554432 ]
}
t_delegated() {
    co run -d --name ud $NET bb:1 sleep 300 >/dev/null || return 1
    path=$(co inspect ud --format '{{.State.CgroupPath}} {{.HostConfig.PidsLimit}}')
    inside=$(co exec ud cat /proc/self/cgroup)
    co rm -f -t 0 ud >/dev/null
    echo "cgroup: $path; inside: $inside"
    case $path in "/deleg/coracle/coracle-"*" 2048") ;; *) return 1 ;; esac
    [ "$inside" = "0::/" ]
}
t_missing_controller() {
    before=$(co ps -a -q | wc -l)
    out=$(co run --rm $NET --cpuset-cpus 0 bb:1 true 2>&1)
    rc=$?
    left=$(($(co ps -a -q | wc -l) - before))
    echo "exit $rc, containers left $left: $out"
    [ "$rc" = 125 ] && [ "$left" = 0 ] && echo "$out" | grep -q "the cpuset controller is not available: the cgroup subtree delegated to this user (/deleg) has only: cpu memory pids"
}

echo "@@INFO kernel $(uname -r), cgroup.controllers: $(cat $CG/cgroup.controllers)"
$C import /mnt/share/busybox.tar bb:1 >/dev/null 2>&1 || echo "@@INFO root import failed"
check root_oom t_oom
check root_oom_cgroup_removed t_oom_cgroup_removed
check root_pids t_pids
check root_cpu t_cpu
check root_cpuset t_cpuset
check root_pause t_pause
check root_stats t_stats
check root_update t_update
check root_pod_limits t_pod_limits
check root_cgroup_conf t_cgroup_conf
$C rm -a -f -t 0 >/dev/null 2>&1
rmdir $CG/coracle 2>/dev/null

# A subtree for the user, as systemd delegates user@.service: the user owns
# the directory and its procs/subtree_control/threads files; its own
# processes live in a child (no processes in an inner node).
echo "-cpuset -io" > $CG/cgroup.subtree_control 2>/dev/null
echo "+cpu +memory +pids" > $CG/cgroup.subtree_control
mkdir -p $CG/deleg/session /tmp/uhome /run/user/$TEST_UID
chown "$TEST_UID:$TEST_GID" $CG/deleg $CG/deleg/cgroup.procs $CG/deleg/cgroup.subtree_control $CG/deleg/cgroup.threads /tmp/uhome /run/user/$TEST_UID
chown -R "$TEST_UID:$TEST_GID" $CG/deleg/session
chmod 0700 /run/user/$TEST_UID
K=U
# user xattrs on tmpfs came with 6.6: rootless overlay upper dirs on this
# kernel's tmpfs do not work, so the user's store copies (vfs)
DRIVER="--storage-driver vfs"
co import /mnt/share/busybox.tar bb:1 >/dev/null 2>&1 || echo "@@INFO user import failed: $(co import /mnt/share/busybox.tar bb:1 2>&1 | tail -1)"
check user_delegated t_delegated
check user_oom t_oom
check user_pids t_pids
check user_cpu t_cpu
check user_pause t_pause
check user_missing_controller t_missing_controller
check user_pod_limits t_pod_limits
co rm -a -f -t 0 >/dev/null 2>&1
