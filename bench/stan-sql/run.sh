#!/bin/sh
# The SQL store's publish rates of docs/PERFORMANCE.md, with the FILE store's in the same run:
# a PostgreSQL and a MariaDB server started here in a temporary directory (their defaults:
# every COMMIT waits for its log flush), then for each store a fresh gannet-streaming and
# async publish, one publisher, 16,384 PubAcks in flight (gannet-stan-pubload), 16 B and 1 KB,
# with the load average before each store's runs (the machine is shared). Then, for
# --sql_max_open_conns, 4 publishers on 4 channels (16 B), the SQL stores with 1 connection and
# with 4 (the batch's channels committed in parallel).
#
#   bench/stan-sql/run.sh [BIN_DIR]    (default build/release/bin; as root: PostgreSQL runs as
#                                       nobody, MariaDB as root)
# Environment: N16, N1K (messages per run), RUNS (runs per size), BULK (sql_bulk_insert_limit
# of the SQL runs, default 1024; 0 for one INSERT per message).
set -eu
BIN=${1:-build/release/bin}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PORT=${STAN_BENCH_PORT:-4341}
PGPORT=${PGPORT:-5499}
MYPORT=${MYPORT:-3399}
URL=nats://127.0.0.1:$PORT
N16=${N16:-200000}
N1K=${N1K:-100000}
RUNS=${RUNS:-3}
BULK=${BULK:-1024}
PGBIN=/usr/lib/postgresql/15/bin
D=$(mktemp -d /tmp/gannet-stan-sql-XXXXXX)
chmod 755 "$D"
AS=""
[ "$(id -u)" = 0 ] && { chown nobody "$D"; AS="runuser -u nobody --"; }

# Stops a process by pid, waiting for it to be gone (at most 20 s).
stop_pid() {
  [ -n "$1" ] || return 0
  kill "-${2:-TERM}" "$1" 2>/dev/null || return 0
  i=0
  # (A child of this shell that exited stays a zombie until waited for: gone too.)
  while kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ] &&
    [ $i -lt 400 ]; do
    i=$((i + 1))
    sleep 0.05
  done
}

cleanup() {
  trap - EXIT INT TERM
  stop_pid "${spid:-}"
  # postgres runs under runuser: signal the postmaster itself ("fast" shutdown).
  [ -f "$D/pg/postmaster.pid" ] && stop_pid "$(head -1 "$D/pg/postmaster.pid")" INT
  [ -f "$D/my.pid" ] && stop_pid "$(cat "$D/my.pid")"
  rm -rf "$D"
}
trap cleanup EXIT INT TERM

# PostgreSQL
$AS $PGBIN/initdb -D "$D/pg" -U gannet --auth=trust -E UTF8 --locale=C >"$D/pg-init.log" 2>&1
$AS $PGBIN/postgres -D "$D/pg" -k "$D" -p $PGPORT -h 127.0.0.1 >"$D/pg.log" 2>&1 &
pgpid=$!
# MariaDB
mkdir -p "$D/my"
mariadb-install-db --no-defaults --datadir="$D/my" --auth-root-authentication-method=normal \
  --skip-test-db --user="$(id -un)" >"$D/my-init.log" 2>&1
mariadbd --no-defaults --datadir="$D/my" --socket="$D/my.sock" --pid-file="$D/my.pid" \
  --port=$MYPORT --bind-address=127.0.0.1 --skip-grant-tables --skip-name-resolve \
  --user="$(id -un)" >"$D/my.log" 2>&1 &
mypid=$!
i=0
until psql -h 127.0.0.1 -p $PGPORT -U gannet -d postgres -qc 'SELECT 1' >/dev/null 2>&1 &&
  mariadb -h 127.0.0.1 -P $MYPORT -u root -e 'SELECT 1' >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -lt 600 ] || { echo "databases did not start"; cat "$D"/*.log; exit 1; }
  sleep 0.05
done
psql -h 127.0.0.1 -p $PGPORT -U gannet -d postgres -qc 'CREATE DATABASE stan'
psql -h 127.0.0.1 -p $PGPORT -U gannet -d stan -q -f "$SRC/tools/sql/postgres.db.sql" >/dev/null
mariadb -h 127.0.0.1 -P $MYPORT -u root -e 'CREATE DATABASE stan'
mariadb -h 127.0.0.1 -P $MYPORT -u root stan <"$SRC/tools/sql/mysql.db.sql"

start_stan() {
  rm -f "$D/stan.log"  # else the wait below may read the last server's "ready"
  "$BIN/gannet-streaming" -a 127.0.0.1 -p "$PORT" "$@" >"$D/stan.log" 2>&1 &
  spid=$!
  i=0
  until grep -q "Streaming Server is ready" "$D/stan.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 400 ] || { echo "server did not start"; cat "$D/stan.log"; exit 1; }
    sleep 0.05
  done
}

stop_stan() {
  stop_pid "$spid"
  spid=""
}

run_multi() {
  name=$1
  shift
  for conns in 1 4; do
    start_stan "$@" --sql_max_open_conns $conns
    echo "== $name, 4 channels, sql_max_open_conns $conns -- $(uptime | sed 's/.*load/load/')"
    r=1
    while [ $r -le "$RUNS" ]; do
      "$BIN/gannet-stan-pubload" -s $URL --msgs "$N16" --size 16 --pubs 4 --window 4096 \
        --per-pub-channel --channel m${conns}r$r
      r=$((r + 1))
    done
    stop_stan
  done
}

run_store() {
  name=$1
  shift
  start_stan "$@"
  echo "== $name -- $(uptime | sed 's/.*load/load/')"
  r=1
  while [ $r -le "$RUNS" ]; do
    "$BIN/gannet-stan-pubload" -s $URL --msgs "$N16" --size 16 --window 16384 --channel a16r$r
    "$BIN/gannet-stan-pubload" -s $URL --msgs "$N1K" --size 1024 --window 16384 --channel a1kr$r
    r=$((r + 1))
  done
  stop_stan
}

mkdir -p "$D/file"
run_store "FILE (file_sync)" -st FILE --dir "$D/file"
run_store "PostgreSQL, sql_bulk_insert_limit $BULK" -st SQL --sql_driver postgres \
  --sql_source "host=127.0.0.1 port=$PGPORT user=gannet dbname=stan sslmode=disable" \
  --sql_bulk_insert_limit "$BULK"
run_store "MariaDB, sql_bulk_insert_limit $BULK" -st SQL --sql_driver mysql \
  --sql_source "root@tcp(127.0.0.1:$MYPORT)/stan" --sql_bulk_insert_limit "$BULK"
PGSRC="host=127.0.0.1 port=$PGPORT user=gannet dbname=stan sslmode=disable"
MYSRC="root@tcp(127.0.0.1:$MYPORT)/stan"
run_multi "PostgreSQL" -st SQL --sql_driver postgres --sql_source "$PGSRC" --sql_bulk_insert_limit "$BULK"
run_multi "MariaDB" -st SQL --sql_driver mysql --sql_source "$MYSRC" --sql_bulk_insert_limit "$BULK"
