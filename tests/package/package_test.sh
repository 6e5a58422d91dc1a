#!/usr/bin/env bash
# The client library as another project uses it: installed and found with find_package, and
# included with add_subdirectory. Both builds of examples/hello then run against gannet-server,
# and so does examples/nrpc built against the installed nRPC plugin and runtime, and
# examples/streaming (the Streaming client, found with find_package) against
# gannet-streaming.
#
#   package_test.sh BUILD_DIR SOURCE_DIR GANNET_SERVER GANNET_STREAMING
set -euo pipefail
BUILD=$1 SRC=$2 SERVER=$3 STREAMING=$4
TMP=$(mktemp -d)
SERVER_PID=""
STREAMING_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [[ -n "$STREAMING_PID" ]] && kill "$STREAMING_PID" 2>/dev/null && wait "$STREAMING_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "== install, then find_package(gannet)"
cmake --install "$BUILD" --prefix "$TMP/prefix" >"$TMP/install.log"
test -f "$TMP/prefix/include/gannet/client.h"
test -f "$TMP/prefix/lib/cmake/gannet/gannetConfig.cmake"
cmake -S "$SRC/examples/hello" -B "$TMP/found" -DCMAKE_PREFIX_PATH="$TMP/prefix" >"$TMP/found.log"
cmake --build "$TMP/found" -j2 >>"$TMP/found.log"
test -x "$TMP/prefix/bin/protoc-gen-gannet-nrpc"
test -f "$TMP/prefix/share/gannet/proto/nrpc.proto"
cmake -S "$SRC/examples/nrpc" -B "$TMP/nrpc" -DCMAKE_PREFIX_PATH="$TMP/prefix" >"$TMP/nrpc.log"
cmake --build "$TMP/nrpc" -j2 >>"$TMP/nrpc.log"
cmake -S "$SRC/examples/streaming" -B "$TMP/found-stan" -DCMAKE_PREFIX_PATH="$TMP/prefix" \
  >"$TMP/found-stan.log"
cmake --build "$TMP/found-stan" -j2 >>"$TMP/found-stan.log"

echo "== add_subdirectory(gannet)"
mkdir -p "$TMP/consumer"
cat >"$TMP/consumer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(consumer LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
add_subdirectory("$SRC" gannet EXCLUDE_FROM_ALL)
add_executable(consumer "$SRC/examples/hello/hello.cc")
target_link_libraries(consumer PRIVATE gannet::client)
CMAKE
cmake -S "$TMP/consumer" -B "$TMP/consumer/build" >"$TMP/consumer.log"
cmake --build "$TMP/consumer/build" -j2 --target consumer >>"$TMP/consumer.log"

echo "== run both against gannet-server"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SERVER" -a 127.0.0.1 -p "$PORT" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 500); do  # wait for the port (a condition, bounded at ~5 s)
  (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
  sleep 0.01
done
for bin in "$TMP/found/gannet-hello" "$TMP/consumer/build/consumer"; do
  out=$("$bin" "nats://127.0.0.1:$PORT")
  echo "$out"
  grep -q "^reply: hello, world$" <<<"$out"
  grep -q "^event from gannet-hello: {\"id\":1}$" <<<"$out"
done
"$TMP/nrpc/greeter_server" "nats://127.0.0.1:$PORT" >"$TMP/greeter.log" &
GREETER_PID=$!
for _ in $(seq 1 500); do  # wait for "serving ..." (a condition, bounded at ~5 s)
  grep -q "^serving" "$TMP/greeter.log" && break
  sleep 0.01
done
out=$("$TMP/nrpc/greeter_client" Ada fr "nats://127.0.0.1:$PORT")
kill "$GREETER_PID"
wait "$GREETER_PID" || true
echo "$out"
grep -q "^Bonjour Ada$" <<<"$out"

echo "== the Streaming example against gannet-streaming"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$STREAMING" -a 127.0.0.1 -p "$PORT" >"$TMP/streaming.log" 2>&1 &
STREAMING_PID=$!
for _ in $(seq 1 500); do  # wait for the server to be ready (a condition, bounded at ~5 s)
  grep -q "Streaming Server is ready" "$TMP/streaming.log" && break
  sleep 0.01
done
out=$("$TMP/found-stan/gannet-stan-hello" "nats://127.0.0.1:$PORT")
echo "$out"
grep -q "^\[1\] hello$" <<<"$out"
grep -q "^\[4\] hello again 2$" <<<"$out"
echo "package test: ok"
