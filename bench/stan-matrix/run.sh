#!/bin/sh
# The Streaming benchmark matrix of docs/PERFORMANCE.md: for each store (MEMORY, FILE without
# sync, FILE with file_sync), a fresh gannet-streaming, then
#   - async publish, one publisher, 16,384 PubAcks in flight (gannet-stan-pubload), 16 B and 1 KB
#   - publish + an acking subscriber, received rate (gannet-stan-pubload --sub), 16 B and 1 KB
#   - 100 synchronous publishers, one connection each (gannet-stan-syncpub), 16 B and 1 KB
#   - gannet stream bench (Gannet's Streaming client): async publish, and with a subscriber
# with the load average before each store's runs (the machine is shared).
#
#   bench/stan-matrix/run.sh [BIN_DIR] [DATA_DIR]    (defaults build/release/bin, build/stan-bench)
set -eu
BIN=${1:-build/release/bin}
DATA=${2:-build/stan-bench}
PORT=${STAN_BENCH_PORT:-4339}
URL=nats://127.0.0.1:$PORT
N16=${N16:-1000000}
N1K=${N1K:-300000}
NSUB16=${NSUB16:-500000}
NSUB1K=${NSUB1K:-200000}
NSYNC=${NSYNC:-100000}

run_store() {
  name=$1
  shift
  rm -rf "$DATA"
  mkdir -p "$DATA"
  "$BIN/gannet-streaming" -a 127.0.0.1 -p "$PORT" "$@" >"$DATA.log" 2>&1 &
  pid=$!
  i=0
  until grep -q "Streaming Server is ready" "$DATA.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 200 ] || { echo "server did not start"; cat "$DATA.log"; kill $pid; exit 1; }
    sleep 0.05
  done
  echo "== $name ($*) -- $(uptime | sed 's/.*load/load/')"
  "$BIN/gannet-stan-pubload" -s $URL --msgs "$N16" --size 16 --window 16384 --channel a16
  "$BIN/gannet-stan-pubload" -s $URL --msgs "$N1K" --size 1024 --window 16384 --channel a1k
  "$BIN/gannet-stan-pubload" -s $URL --msgs "$NSUB16" --size 16 --window 16384 --sub --channel s16
  "$BIN/gannet-stan-pubload" -s $URL --msgs "$NSUB1K" --size 1024 --window 16384 --sub --channel s1k
  "$BIN/gannet-stan-syncpub" -s $URL --msgs "$NSYNC" --size 16 --pubs 100 --channel y16
  "$BIN/gannet-stan-syncpub" -s $URL --msgs "$NSYNC" --size 1024 --pubs 100 --channel y1k
  "$BIN/gannet" stream bench -s $URL --msgs "$N16" --size 16 --no-progress gb16 | grep -E "stats|latency"
  "$BIN/gannet" stream bench -s $URL --msgs "$NSUB16" --size 16 --sub 1 --no-progress gs16 |
    grep -E "stats|latency"
  kill $pid
  wait $pid || true
}

run_store MEMORY -st MEMORY
run_store "FILE, no sync" -st FILE --dir "$DATA" --file_sync=false
run_store "FILE, file_sync" -st FILE --dir "$DATA"
rm -rf "$DATA"
