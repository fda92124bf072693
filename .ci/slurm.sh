#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for tests/slurm (CI, root).
#
#   bash .ci/slurm.sh start   # install (once) munge + slurmctld + slurmd + client,
#                             # write /etc/slurm/slurm.conf, start the daemons
#                             # (no systemd), wait until the node is idle
#   bash .ci/slurm.sh stop    # cancel our jobs, stop the daemons by PID file; idempotent
#   bash .ci/slurm.sh status  # sinfo + daemon PIDs
#
# State (PID files, logs, spool, controller state) lives in $SLURM_CI_STATE
# (default /tmp/langneurons-slurm). Debian 12 ships Slurm 22.05. The node has
# NodeAddr=127.0.0.1 and all of this machine's CPUs; no accounting database
# (AccountingStorageType=accounting_storage/none), so `sacct` does not work and
# the tests use `squeue` (MinJobAge=600 keeps finished jobs visible for 10 min).
set -euo pipefail

STATE=${SLURM_CI_STATE:-/tmp/langneurons-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# written by langneurons .ci/slurm.sh"
PARTITION=${SLURM_CI_PARTITION:-debug}
DAEMONS=(slurmd slurmctld munged)   # stop order

log() { echo "[slurm.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# ----------------------------------------------------------------- install
have_packages() {
    local p
    for p in munge slurmctld slurmd slurm-client; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
    done
}

install_packages() {
    have_packages && return 0
    export DEBIAN_FRONTEND=noninteractive
    local pkgs=(munge slurmctld slurmd slurm-client)
    # apt-get update only when the lists know no candidate (or are stale: retry after update).
    if apt-cache policy slurmctld 2>/dev/null | grep -q "Candidate: (none)" ||
        [ -z "$(apt-cache policy slurmctld 2>/dev/null)" ]; then
        log "apt-get update (package lists lack slurmctld)"
        apt-get update -qq
    fi
    # Keep apt from starting the daemons (no systemd here anyway; we start them
    # ourselves). Only add a policy-rc.d if the machine has none, and remove it after.
    local own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    local rc=0
    log "apt-get install ${pkgs[*]}"
    if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; then
        log "install failed; apt-get update and retry"
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null || rc=$?
    fi
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || die "apt-get install failed ($rc)"
}

# ------------------------------------------------------------------ config
write_config() {
    local host cpus mem_total_mb real_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_total_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    # a bit under the machine's memory, or slurmd drains the node ("Low RealMemory")
    real_mb=$((mem_total_mb * 90 / 100))

    mkdir -p "$STATE"/{ctld,spool,log,munge} /etc/slurm
    if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
        log "backing up existing $CONF to $STATE/slurm.conf.orig"
        cp -p "$CONF" "$STATE/slurm.conf.orig"
    fi
    cat >"$CONF" <<EOF
$MARKER (test cluster; restored/removed by 'stop')
ClusterName=langneurons-ci
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MinJobAge=600
InactiveLimit=0
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${real_mb} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF
    log "wrote $CONF (node ${host}: CPUs=${cpus} RealMemory=${real_mb} MB, partition ${PARTITION})"
}

# ----------------------------------------------------------------- daemons
pid_of() { # live PID from $STATE/<name>.pid, or nothing
    local f="$STATE/$1.pid" pid
    [ -s "$f" ] || return 1
    pid=$(tr -dc 0-9 <"$f")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # guard against a reused PID: the process must be the daemon we started
    [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$1" ] || return 1
    echo "$pid"
}

wait_for_pidfile() { # name, seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        pid_of "$1" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

start_munged() {
    pid_of munged >/dev/null && { log "munged already running"; return 0; }
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "using the munged that is already running (not ours: 'stop' leaves it alone)"
        return 0
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating /etc/munge/munge.key"
        mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge "$STATE/munge"
    chmod 755 /run/munge
    runuser -u munge -- /usr/sbin/munged \
        --pid-file="$STATE/munge/munged.pid" \
        --log-file="$STATE/munge/munged.log" \
        --seed-file="$STATE/munge/munged.seed"
    ln -sf "$STATE/munge/munged.pid" "$STATE/munged.pid"
    wait_for_pidfile munged 10 || die "munged did not start (see $STATE/munge/munged.log)"
    munge -n | unmunge >/dev/null || die "munge round trip failed"
}

start_slurm() {
    if ! pid_of slurmctld >/dev/null; then
        # -c: clear saved state (jobs of an earlier run)
        /usr/sbin/slurmctld -c
        wait_for_pidfile slurmctld 20 || die "slurmctld did not start: $(tail -n 20 "$STATE/log/slurmctld.log" 2>/dev/null)"
    fi
    if ! pid_of slurmd >/dev/null; then
        /usr/sbin/slurmd
        wait_for_pidfile slurmd 20 || die "slurmd did not start: $(tail -n 20 "$STATE/log/slurmd.log" 2>/dev/null)"
    fi
}

wait_idle() {
    local i state
    for ((i = 0; i < 60; i++)); do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
        case "$state" in
        idle*) log "node is idle"; sinfo; return 0 ;;
        down* | drain* | fail*)
            # e.g. after a hard restart: tell slurmctld the node is back
            scontrol update NodeName="$(hostname -s)" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 1
    done
    sinfo -N -l || true
    tail -n 30 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
    die "node did not become idle within 60 s (last state: ${state:-none})"
}

cmd_start() {
    need_root
    local t0=$SECONDS
    install_packages
    write_config
    start_munged
    start_slurm
    wait_idle
    log "cluster up in $((SECONDS - t0)) s (state in $STATE; stop with: bash .ci/slurm.sh stop)"
}

stop_daemon() {
    local name=$1 pid i
    pid=$(pid_of "$name") || { rm -f "$STATE/$name.pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name ($pid) ignored SIGTERM; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name ($pid)"
    rm -f "$STATE/$name.pid"
}

cmd_stop() {
    # cancel what is still queued or running on our cluster (only if our controller is up)
    if pid_of slurmctld >/dev/null && command -v scancel >/dev/null; then
        local ids
        ids=$(squeue -h -o '%i' 2>/dev/null || true)
        if [ -n "$ids" ]; then
            log "cancelling jobs: $(echo $ids)"
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null || true
            sleep 1
        fi
    fi
    local d
    for d in "${DAEMONS[@]}"; do
        stop_daemon "$d"
    done
    if [ -e "$CONF" ] && grep -qF "$MARKER" "$CONF"; then
        if [ -e "$STATE/slurm.conf.orig" ]; then
            mv -f "$STATE/slurm.conf.orig" "$CONF"
        else
            rm -f "$CONF"
        fi
    fi
    return 0
}

cmd_status() {
    local d
    for d in munged slurmctld slurmd; do
        echo "$d: $(pid_of "$d" || echo 'not running')"
    done
    sinfo 2>/dev/null || echo "sinfo: no answer"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
