#!/usr/bin/env bash
# A real pg_auto_failover formation on loopback, for tests and demos.
#
#   scripts/pg-formation.sh start DIR BASEPORT [--tuned]
#       monitor on BASEPORT, node1 (first primary) on BASEPORT+1, node2 (synchronous standby)
#       on BASEPORT+2, all on 127.0.0.1 only. Waits until one node is primary and the other
#       secondary, synchronous_standby_names is set on the primary and user qcall can log in
#       with its password on both nodes. Last line printed (stdout):
#         postgresql://qcall:qcall@127.0.0.1:P1,127.0.0.1:P2/qcall?target_session_attrs=read-write
#       --tuned shortens the monitor's health checks and failover timeouts (see TUNED below).
#   scripts/pg-formation.sh primary DIR
#       prints "<keeper_pid> <postmaster_pid> <port>" of the current primary. The keeper
#       (pg_autoctl run) leads its own process group holding its sub-processes and the
#       postmaster, so "kill -KILL -- -<keeper_pid>; kill -KILL <postmaster_pid>" kills the
#       primary's whole tree (backends exit on their own once the postmaster is gone).
#   scripts/pg-formation.sh state DIR
#       prints the monitor's view: "name port reported_state goal_state health" per node.
#   scripts/pg-formation.sh stop DIR
#       stops every keeper and postgres of the formation (SIGTERM, then SIGKILL) and waits for
#       them to be gone; removes nothing.
#
# Layout: DIR/{monitor,node1,node2} PGDATAs, DIR/*.log keeper logs (DIR/*.create.log for the
# creation steps), DIR/xdg the pg_autoctl config/state/pid files (XDG_* point there), Unix
# sockets in DIR. Every PostgreSQL/pg_autoctl command runs as the OS user postgres (runuser),
# so DIR is chowned to postgres and must be reachable by it. Needs the Debian packages
# postgresql-15, postgresql-15-auto-failover and pg-auto-failover-cli.
# Env: PG_FORMATION_TIMEOUT (seconds, default 180) bounds the wait in start.
set -euo pipefail
# The formation is the bureau's database machines: they run on the real clock even when the
# test suite runs its own processes under a fake date (scripts/test-dates.sh).
unset LD_PRELOAD FAKETIME FAKETIME_DONT_FAKE_MONOTONIC

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
TIMEOUT=${PG_FORMATION_TIMEOUT:-180}

# --tuned: monitor GUCs (postgresql.conf of the monitor, read at start) ...
TUNED_MONITOR="
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 2000
pgautofailover.health_check_max_retries = 2
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 5000
pgautofailover.startup_grace_period = 3000
"
# ... and keeper settings (pg_autoctl config set, per node, before it runs). A primary that
# loses both the monitor and its standby demotes itself after network_partition_timeout, so
# that stays below primary_demote_timeout above (the monitor promotes the standby only after
# that): no two writable primaries even in a real partition.
TUNED_KEEPER="
timeout.network_partition_timeout 3
timeout.postgresql_restart_failure_timeout 5
timeout.postgresql_restart_failure_max_retries 2
"

die() { echo "pg-formation.sh: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# alive PID: the process exists and is not a zombie
alive() {
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# as postgres, from DIR, with pg_autoctl's files kept under DIR/xdg
as_pg() {
  (cd "$DIR" && runuser -u postgres -- env \
    XDG_CONFIG_HOME="$DIR/xdg/config" XDG_DATA_HOME="$DIR/xdg/data" \
    XDG_RUNTIME_DIR="$DIR/xdg/run" PGHOST="$DIR" PATH="$PGBIN:/usr/bin:/bin" "$@")
}

# psql as the superuser over the Unix socket in DIR: psql_at PORT DB args...
psql_at() {
  local port=$1 db=$2; shift 2
  "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U postgres -d "$db" "$@"
}

mon_sql() { psql_at "$MPORT" pg_auto_failover -c "$1" 2>/dev/null; }

keeper_pidfile() { echo "$DIR/xdg/run/pg_autoctl$DIR/$1/pg_autoctl.pid"; }
keeper_pid() { local f; f=$(keeper_pidfile "$1"); [ -r "$f" ] && head -n1 "$f" | tr -dc 0-9; }
# the keeper pid as pg_autoctl's pid file has it now and as recorded at start
keeper_pids() { { keeper_pid "$1" || true; echo; cat "$DIR/$1.keeper.pid" 2>/dev/null || true; } | grep . | sort -u; }
postmaster_pid() { [ -r "$DIR/$1/postmaster.pid" ] && head -n1 "$DIR/$1/postmaster.pid" | tr -dc 0-9; }

load_ports() {
  [ -r "$DIR/formation.env" ] || die "no formation in $DIR (formation.env missing)"
  # shellcheck disable=SC1091
  . "$DIR/formation.env"
}

# pg_autoctl guards its log with a SysV semaphore that only a clean exit removes: note its
# id (passed to the sub-processes as PG_AUTOCTL_LOG_SEMAPHORE) so that stop can remove it
# after a SIGKILL
record_semaphore() {
  local name=$1 pid=$2 i c sem
  for i in $(seq 1 50); do
    for c in $(pgrep -P "$pid" 2>/dev/null || true); do
      sem=$(tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | sed -n 's/^PG_AUTOCTL_LOG_SEMAPHORE=//p')
      if [ -n "$sem" ]; then echo "$sem" >>"$DIR/$name.sem"; return 0; fi
    done
    sleep 0.1
  done
  return 0
}

remove_leaked_semaphores() {
  local uid sem f
  uid=$(id -u postgres)
  for f in "$DIR"/*.sem; do
    [ -r "$f" ] || continue
    for sem in $(cat "$f"); do
      # /proc/sysvipc/sem: key semid perms nsems uid ...
      if awk -v s="$sem" -v u="$uid" '$2 == s && $5 == u {found=1} END {exit !found}' /proc/sysvipc/sem; then
        ipcrm -s "$sem" 2>/dev/null || true
      fi
    done
    rm -f "$f"
  done
}

# start_keeper NAME: pg_autoctl run in the background, in its own session / process group
start_keeper() {
  local name=$1 pid="" i
  # runuser forks; its child execs setsid, which (not being a group leader) makes
  # pg_autoctl the leader of a new session and process group without forking again
  # (no fd of the caller may stay open in the background: stdout may be a pipe that the
  # caller reads to its end)
  (
    cd "$DIR" || exit 1
    exec </dev/null >>"$DIR/$name.log" 2>&1
    nohup runuser -u postgres -- env \
      XDG_CONFIG_HOME="$DIR/xdg/config" XDG_DATA_HOME="$DIR/xdg/data" \
      XDG_RUNTIME_DIR="$DIR/xdg/run" PGHOST="$DIR" PATH="$PGBIN:/usr/bin:/bin" \
      setsid pg_autoctl run --pgdata "$DIR/$name" &
    echo $! >"$DIR/$name.runuser.pid"
  )
  for i in $(seq 1 100); do
    pid=$(keeper_pid "$name" || true)
    if [ -n "$pid" ] && alive "$pid"; then
      echo "$pid" >"$DIR/$name.keeper.pid"
      record_semaphore "$name" "$pid"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$DIR/$name.log" >&2 || true
  die "pg_autoctl run for $name did not start"
}

# wait_for DESC CMD...: poll CMD until it succeeds, within the overall deadline
wait_for() {
  local desc=$1; shift
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$DEADLINE" ]; then
      echo "pg-formation.sh: timed out waiting for $desc" >&2
      for f in monitor node1 node2; do
        [ -f "$DIR/$f.log" ] && { echo "--- $f.log" >&2; tail -n 15 "$DIR/$f.log" >&2; }
      done
      mon_sql "SELECT nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

node_state() { mon_sql "SELECT reportedstate || '/' || goalstate FROM pgautofailover.node WHERE nodeport = $1"; }
node_is() { [ "$(node_state "$1")" = "$2/$2" ]; }

formation_ready() {
  local s1 s2 p
  s1=$(node_state "$P1") || return 1
  s2=$(node_state "$P2") || return 1
  case "$s1 $s2" in
    "primary/primary secondary/secondary") p=$P1 ;;
    "secondary/secondary primary/primary") p=$P2 ;;
    *) return 1 ;;
  esac
  [ -n "$(psql_at "$p" postgres -c 'SHOW synchronous_standby_names' 2>/dev/null)" ]
}

qcall_login() {
  PGCONNECT_TIMEOUT=3 "$PGBIN/psql" -X -A -t -q \
    "postgresql://qcall:qcall@127.0.0.1:$1/qcall" -c 'SELECT 1' >/dev/null 2>&1
}

# write our own settings and HBA into a fresh initdb'd PGDATA (pg_autoctl keeps both: it
# prepends its include line to postgresql.conf, so what we append wins, and appends its own
# HBA rules after ours; a standby's pg_basebackup copies both from the primary)
init_pgdata() {
  local pgdata=$1
  as_pg "$PGBIN/initdb" -D "$pgdata" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=trust >"$pgdata.initdb.log" 2>&1 \
    || { cat "$pgdata.initdb.log" >&2; die "initdb $pgdata failed"; }
  cat >>"$pgdata/postgresql.conf" <<EOF

# --- scripts/pg-formation.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = on
synchronous_commit = on
password_encryption = 'scram-sha-256'
shared_buffers = 64MB
EOF
  # first match wins: qcall over TCP must give its password, the rest of loopback is trusted
  cat >"$pgdata/pg_hba.conf" <<'EOF'
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             qcall           127.0.0.1/32            scram-sha-256
host    all             all             127.0.0.1/32            trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
EOF
  chown postgres:postgres "$pgdata/pg_hba.conf"
}

create_node() {
  local name=$1 port=$2
  as_pg timeout 120 pg_autoctl create postgres --pgctl "$PGBIN/pg_ctl" --pgdata "$DIR/$name" \
    --pghost "$DIR" --pgport "$port" --listen 127.0.0.1 --hostname 127.0.0.1 --name "$name" \
    --dbname qcall --monitor "$MONITOR_URI" --auth trust --no-ssl \
    >"$DIR/$name.create.log" 2>&1 \
    || { tail -n 30 "$DIR/$name.create.log" >&2; die "pg_autoctl create postgres $name failed"; }
  if [ "$TUNED" = 1 ]; then
    local k v
    while read -r k v; do
      [ -n "$k" ] || continue
      as_pg pg_autoctl config set --pgdata "$DIR/$name" "$k" "$v" >/dev/null
    done <<<"$TUNED_KEEPER"
  fi
}

cmd_start() {
  local base=$1
  [[ "$base" =~ ^[0-9]+$ ]] && [ "$base" -gt 0 ] && [ "$base" -lt 65533 ] || die "bad base port: $base"
  MPORT=$base P1=$((base + 1)) P2=$((base + 2))
  DEADLINE=$(( $(date +%s) + TIMEOUT ))
  [ -x "$PGBIN/pg_ctl" ] || die "no $PGBIN/pg_ctl (apt-get install postgresql-15)"
  command -v pg_autoctl >/dev/null \
    || die "no pg_autoctl (apt-get install postgresql-15-auto-failover pg-auto-failover-cli)"
  id postgres >/dev/null 2>&1 || die "no OS user postgres"

  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  [ ${#DIR} -le 90 ] || die "DIR path too long for a Unix socket (max 90 chars): $DIR"
  [ ! -e "$DIR/monitor" ] && [ ! -e "$DIR/node1" ] && [ ! -e "$DIR/node2" ] \
    || die "$DIR already holds a formation: stop it and use an empty directory"
  local p
  for p in "$MPORT" "$P1" "$P2"; do
    port_in_use "$p" && die "port $p on 127.0.0.1 is already in use"
  done
  chown postgres:postgres "$DIR"
  chmod 0750 "$DIR"
  runuser -u postgres -- test -w "$DIR" -a -x "$DIR" \
    || die "user postgres cannot reach $DIR (a parent directory is not traversable?)"
  printf 'MPORT=%s\nP1=%s\nP2=%s\nTUNED=%s\n' "$MPORT" "$P1" "$P2" "$TUNED" >"$DIR/formation.env"
  as_pg mkdir -p "$DIR/xdg/config" "$DIR/xdg/data" "$DIR/xdg/run" "$DIR/backup"
  chmod 0700 "$DIR/xdg/run"

  # from here on, a failure tears down what was started
  STARTED=0
  trap 'rc=$?; if [ "$STARTED" != 1 ]; then echo "pg-formation.sh: start failed, stopping what was started (logs in $DIR)" >&2; cmd_stop >/dev/null 2>&1 || true; fi; exit $rc' EXIT

  # monitor: our own initdb (socket dir, listen address), then pg_autoctl installs itself
  init_pgdata "$DIR/monitor"
  if [ "$TUNED" = 1 ]; then
    printf '\n# --- pg-formation.sh --tuned ---%s' "$TUNED_MONITOR" >>"$DIR/monitor/postgresql.conf"
  fi
  as_pg timeout 60 pg_autoctl create monitor --pgctl "$PGBIN/pg_ctl" --pgdata "$DIR/monitor" \
    --pgport "$MPORT" --listen 127.0.0.1 --hostname 127.0.0.1 --auth trust --no-ssl \
    >"$DIR/monitor.create.log" 2>&1 \
    || { tail -n 30 "$DIR/monitor.create.log" >&2; die "pg_autoctl create monitor failed"; }
  start_keeper monitor
  wait_for "the monitor" mon_sql "SELECT 1 FROM pgautofailover.formation LIMIT 1"
  MONITOR_URI="postgres://autoctl_node@127.0.0.1:$MPORT/pg_auto_failover?sslmode=prefer"

  # node1: becomes the primary (state single until node2 joins)
  init_pgdata "$DIR/node1"
  create_node node1 "$P1"
  start_keeper node1
  wait_for "node1 to be single" node_is "$P1" single
  wait_for "node1 to accept connections" psql_at "$P1" postgres -c 'SELECT 1'
  psql_at "$P1" postgres >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qcall') THEN
    CREATE ROLE qcall LOGIN PASSWORD 'qcall';
  ELSE
    ALTER ROLE qcall LOGIN PASSWORD 'qcall';
  END IF;
END $$;
SQL
  if [ -z "$(psql_at "$P1" postgres -c "SELECT 1 FROM pg_database WHERE datname = 'qcall'")" ]; then
    psql_at "$P1" postgres -c "CREATE DATABASE qcall OWNER qcall" >/dev/null
  else
    psql_at "$P1" postgres -c "ALTER DATABASE qcall OWNER TO qcall" >/dev/null
  fi
  psql_at "$P1" qcall -c "GRANT ALL ON SCHEMA public TO qcall" >/dev/null

  # node2: pg_basebackup from node1 (copies our postgresql.conf and pg_hba.conf)
  create_node node2 "$P2"
  start_keeper node2
  wait_for "primary + synchronous secondary" formation_ready
  wait_for "qcall password login on node1" qcall_login "$P1"
  wait_for "qcall password login on node2" qcall_login "$P2"

  STARTED=1
  echo "postgresql://qcall:qcall@127.0.0.1:$P1,127.0.0.1:$P2/qcall?target_session_attrs=read-write"
}

cmd_primary() {
  load_ports
  local port name kp pp
  port=$(mon_sql "SELECT nodeport FROM pgautofailover.node
                  WHERE goalstate IN ('primary','wait_primary','single','join_primary','apply_settings')
                    AND reportedstate = goalstate ORDER BY nodeid LIMIT 1" || true)
  if [ -z "$port" ]; then
    # monitor unreachable or in transition: ask the nodes themselves
    for p in "$P1" "$P2"; do
      if [ "$(psql_at "$p" postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; then
        port=$p; break
      fi
    done
  fi
  [ -n "$port" ] || die "no primary found"
  case "$port" in "$P1") name=node1 ;; "$P2") name=node2 ;; *) die "unknown primary port $port" ;; esac
  kp=$(keeper_pid "$name" || true)
  pp=$(postmaster_pid "$name" || true)
  alive "$kp" || die "keeper of $name (port $port) is not running"
  alive "$pp" || die "postmaster of $name (port $port) is not running"
  echo "$kp $pp $port"
}

cmd_state() {
  load_ports
  mon_sql "SELECT nodename, nodeport, reportedstate, goalstate,
                  CASE health WHEN 1 THEN 'good' WHEN 0 THEN 'bad' ELSE 'unknown' END
             FROM pgautofailover.node ORDER BY nodeid" | tr '|' ' ' \
    || die "monitor on port $MPORT not reachable"
}

# all live processes of the formation: every process of user postgres whose working
# directory is DIR (keepers) or inside it (postmasters and backends, cwd = PGDATA), which
# also finds backends orphaned by an earlier SIGKILL of their postmaster
formation_pids() {
  local c cwd
  for c in $(pgrep -u postgres 2>/dev/null || true); do
    cwd=$(readlink "/proc/$c/cwd" 2>/dev/null) || continue
    case "$cwd" in
      "$DIR"|"$DIR"/*) alive "$c" && echo "$c" ;;
    esac
  done
  return 0
}

# group_is_ours PGID: some process of that process group works in DIR (the keeper's group
# outlives the keeper while its sub-processes or postmaster live on)
group_is_ours() {
  local c
  [ -n "${1:-}" ] || return 1
  for c in $(pgrep -g "$1" 2>/dev/null || true); do
    case "$(readlink "/proc/$c/cwd" 2>/dev/null)" in
      "$DIR"|"$DIR"/*) return 0 ;;
    esac
  done
  return 1
}

cmd_stop() {
  [ -r "$DIR/formation.env" ] || return 0
  local name kp pp i pids
  # graceful: pg_autoctl stops its postgres (fast) on SIGTERM; a postmaster whose keeper is
  # gone gets SIGINT (fast shutdown) directly
  for name in node2 node1 monitor; do
    for kp in $(keeper_pids "$name"); do
      group_is_ours "$kp" && kill -TERM -- "-$kp" 2>/dev/null || true
    done
    kp=$(keeper_pid "$name" || true)
    if ! alive "$kp"; then
      pp=$(postmaster_pid "$name" || true)
      alive "$pp" && kill -INT "$pp" 2>/dev/null || true
    fi
  done
  for i in $(seq 1 100); do
    pids=$(formation_pids)
    [ -z "$pids" ] && break
    sleep 0.1
  done
  pids=$(formation_pids)
  if [ -n "$pids" ]; then
    for name in node2 node1 monitor; do
      for kp in $(keeper_pids "$name"); do
        group_is_ours "$kp" && kill -KILL -- "-$kp" 2>/dev/null || true
      done
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    for i in $(seq 1 100); do
      pids=$(formation_pids)
      [ -z "$pids" ] && break
      sleep 0.1
    done
    [ -z "$(formation_pids)" ] || die "processes still alive: $(formation_pids | tr '\n' ' ')"
  fi
  # the runuser wrappers exit with their child; make sure (if the pid is still theirs)
  for name in node2 node1 monitor; do
    i=$(cat "$DIR/$name.runuser.pid" 2>/dev/null || true)
    if alive "$i" && tr '\0' ' ' <"/proc/$i/cmdline" 2>/dev/null | grep -qF -- "--pgdata $DIR/$name"; then
      kill -KILL "$i" 2>/dev/null || true
    fi
  done
  remove_leaked_semaphores
  return 0
}

cmd=${1:-}
[ $# -ge 2 ] || usage
[ "$(id -u)" -eq 0 ] || die "run as root (PostgreSQL runs as the OS user postgres via runuser)"
DIR=$2
TUNED=0
case "$cmd" in
start)
  [ $# -ge 3 ] && [ $# -le 4 ] || usage
  if [ $# -eq 4 ]; then [ "$4" = --tuned ] && TUNED=1 || usage; fi
  cmd_start "$3"
  ;;
primary) [ $# -eq 2 ] || usage; DIR=$(cd "$DIR" && pwd -P); cmd_primary ;;
state) [ $# -eq 2 ] || usage; DIR=$(cd "$DIR" && pwd -P); cmd_state ;;
stop)
  [ $# -eq 2 ] || usage
  [ -d "$DIR" ] || exit 0
  DIR=$(cd "$DIR" && pwd -P)
  cmd_stop
  ;;
*) usage ;;
esac
