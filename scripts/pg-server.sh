#!/usr/bin/env bash
# A single throw-away PostgreSQL 15 server on loopback, for tests and demos.
#
#   scripts/pg-server.sh start DIR PORT   initdb (first time only) and start; prints one line
#                                         "postgres ready on 127.0.0.1:PORT"
#   scripts/pg-server.sh stop DIR         stop it (pg_ctl -m immediate); removes nothing
#
# Everything lives in DIR: PGDATA is DIR/data, the Unix socket is in DIR, the server log is
# DIR/postgres.log. It listens on 127.0.0.1:PORT only. Role qcall (password qcall) owns the
# database qcall; TCP logins of qcall from 127.0.0.1 need the password (scram-sha-256), every
# other local/127.0.0.1 connection is trusted (superuser: -h DIR -p PORT -U postgres).
#   URL: postgresql://qcall:qcall@127.0.0.1:PORT/qcall
#
# The machine runs as root and PostgreSQL refuses root, so every server command runs as the
# OS user postgres (runuser); DIR is chowned to postgres and must be reachable by it (its
# parents need o+x; /tmp/xxx from mktemp -d is fine). Needs the Debian package postgresql-15.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

die() { echo "pg-server.sh: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

# run a command as postgres, from a directory postgres can enter
as_pg() { (cd "$DIR" && runuser -u postgres -- "$@"); }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd=${1:-}
[ $# -ge 2 ] || usage
[ "$(id -u)" -eq 0 ] || die "run as root (PostgreSQL runs as the OS user postgres via runuser)"
DIR=$2
[ -x "$PGBIN/pg_ctl" ] || die "no $PGBIN/pg_ctl (apt-get install postgresql-15)"
id postgres >/dev/null 2>&1 || die "no OS user postgres"

case "$cmd" in
start)
  [ $# -eq 3 ] || usage
  PORT=$3
  [[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -gt 0 ] && [ "$PORT" -lt 65536 ] || die "bad port: $PORT"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  # a Unix socket path is limited to 107 bytes: DIR/.s.PGSQL.PORT
  [ ${#DIR} -le 90 ] || die "DIR path too long for a Unix socket (max 90 chars): $DIR"
  chown postgres:postgres "$DIR"
  chmod 0750 "$DIR"
  runuser -u postgres -- test -w "$DIR" -a -x "$DIR" \
    || die "user postgres cannot reach $DIR (a parent directory is not traversable?)"
  PGDATA=$DIR/data
  if as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    echo "postgres ready on 127.0.0.1:$PORT"
    exit 0
  fi
  port_in_use "$PORT" && die "port $PORT on 127.0.0.1 is already in use"
  fresh=0
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    fresh=1
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=trust >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
    cat >>"$PGDATA/postgresql.conf" <<EOF

# --- scripts/pg-server.sh ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = on
synchronous_commit = on
password_encryption = 'scram-sha-256'
EOF
    # first match wins: qcall over TCP must give its password, the rest is trusted
    cat >"$PGDATA/pg_hba.conf" <<'EOF'
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             qcall           127.0.0.1/32            scram-sha-256
host    all             all             127.0.0.1/32            trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
EOF
    chown postgres:postgres "$PGDATA/pg_hba.conf"
  else
    # reuse an existing cluster, on the port asked for this time
    sed -i "s/^port = [0-9]*\$/port = $PORT/" "$PGDATA/postgresql.conf"
  fi
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$DIR/postgres.log" -w -t 60 -s start >/dev/null \
    || { tail -n 20 "$DIR/postgres.log" >&2 || true; die "pg_ctl start failed"; }
  if [ $fresh -eq 1 ]; then
    psql_su() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d postgres "$@"; }
    psql_su -c "CREATE ROLE qcall LOGIN PASSWORD 'qcall'" >/dev/null
    psql_su -c "CREATE DATABASE qcall OWNER qcall" >/dev/null
  fi
  echo "postgres ready on 127.0.0.1:$PORT"
  ;;
stop)
  [ $# -eq 2 ] || usage
  [ -d "$DIR/data" ] || exit 0
  if as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w -t 60 -s stop >/dev/null
  fi
  ;;
*) usage ;;
esac
