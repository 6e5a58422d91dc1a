# Gannet's front door. `make run` and `make test` work on a fresh Debian 12 machine.
.PHONY: deps dashboard-deps streaming-node-deps build run install test test-release test-asan test-tsan static image lint format fuzz bench clean

JOBS ?= 2
FUZZ_SECONDS ?= 60
HTTP_FUZZ_SECONDS ?= 10
# Debian packages the build and the test suite need (the reference server and the official C
# client are test peers; Prometheus' Python parser reads /metrics; chromium shows /dashboard).
DEPS := build-essential cmake g++ pkg-config googletest libgtest-dev libgmock-dev \
        libbenchmark-dev nlohmann-json3-dev libnats-dev nats-server clang libclang-rt-14-dev \
        clang-format clang-tidy libssl-dev openssl libcrypt-dev python3-prometheus-client chromium \
        protobuf-compiler libprotobuf-dev libprotoc-dev buildah umoci ca-certificates python3-yaml \
        python3-kubernetes libpq-dev libmariadb-dev postgresql mariadb-server libraft-dev libuv1-dev \
        liblz4-dev
# Node and npm for the dashboard's browser test, from Debian unless some node is installed.
NODE_DEPS := $(if $(shell command -v node),,nodejs) $(if $(shell command -v npm),,npm)

deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	missing="$$missing $(strip $(NODE_DEPS))"; missing="$${missing% }"; \
	if [ -n "$${missing# }" ]; then \
	  echo "Installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS)

run: build
	./build/release/bin/gannet-server

# Installs gannet-server, gannet, the client library's headers, archive and CMake package
# under PREFIX (default /usr/local).
PREFIX ?= /usr/local
install: build
	cmake --install build/release --prefix $(PREFIX)

# The whole suite: unit, integration and interoperability tests on the release build, then
# the same tests on the asan+ubsan and tsan builds (the server under test is then sanitized too).
test: build test-release test-asan test-tsan

# playwright-core for the dashboard test, as pinned by tests/dashboard/package-lock.json.
dashboard-deps: deps
	@if [ ! -d tests/dashboard/node_modules/playwright-core ] || \
	    [ tests/dashboard/package-lock.json -nt tests/dashboard/node_modules/.package-lock.json ]; then \
	  cd tests/dashboard && npm ci --no-audit --no-fund; \
	fi

# node-nats-streaming for the Streaming interop test, as pinned by tests/streaming/node.
streaming-node-deps: deps
	@if [ ! -d tests/streaming/node/node_modules/node-nats-streaming ] || \
	    [ tests/streaming/node/package-lock.json -nt tests/streaming/node/node_modules/.package-lock.json ]; then \
	  cd tests/streaming/node && npm ci --no-audit --no-fund; \
	fi

test-release: dashboard-deps streaming-node-deps
	ctest --test-dir build/release --output-on-failure -j$(JOBS) --timeout 300

# The sanitizer builds skip the protocol and libnats tests' runs against the reference
# nats-server ("Servers/<test>/nats_server"): there only the test's own harness would be under
# the sanitizer, and the release run already holds the reference to every expectation. The
# client library's runs against the reference ("BothServers/...") stay: they exercise our code.
SANITIZER_SKIP := ^Servers/.*/nats_server

test-asan: deps streaming-node-deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir build/asan --output-on-failure -j$(JOBS) --timeout 600 -E '$(SANITIZER_SKIP)'

test-tsan: deps streaming-node-deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -j$(JOBS) \
	  --timeout 600 -E '$(SANITIZER_SKIP)'

# Static executables (build/static/bin: gannet-server, gannet-streaming, gannet) linked against
# Debian's static libraries, and the test that runs each in an empty root.
static: deps
	cmake --preset static >/dev/null
	cmake --build --preset static -j$(JOBS)
	ctest --test-dir build/static -L static --output-on-failure --timeout 300

# OCI images FROM scratch built with buildah (build/static/images: an OCI layout and one
# oci-archive per image), and the test that unpacks and runs them.
image: static
	cmake --build build/static --target image
	ctest --test-dir build/static -L image --output-on-failure --timeout 300

# Style and static analysis: clang-format must have nothing to change; clang-tidy (.clang-tidy)
# must report nothing on the product's sources.
SOURCES := $(shell find src include tools examples tests bench fuzz -name '*.cc' -o -name '*.h' 2>/dev/null)
lint: build
	clang-format --dry-run -Werror $(SOURCES)
	@out=$$(find src -name '*.cc' | xargs -P$(JOBS) -n4 clang-tidy -p build/release --quiet 2>/dev/null | grep -E 'warning:|error:' || true); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; else echo "clang-tidy: clean"; fi

format:
	clang-format -i $(SOURCES)

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DGANNET_FUZZ=ON -DGANNET_BUILD_TESTS=OFF >/dev/null
	cmake --build build/fuzz -j$(JOBS) --target parser_fuzz route_fuzz client_fuzz http_fuzz \
	  conf_fuzz streaming_fuzz file_store_fuzz sql_fuzz
	@# New inputs go to a scratch directory first, so the seed corpus stays as committed.
	for t in parser:$(FUZZ_SECONDS) route:$(FUZZ_SECONDS) client:$(FUZZ_SECONDS) \
	         http:$(HTTP_FUZZ_SECONDS) conf:$(FUZZ_SECONDS) streaming:$(FUZZ_SECONDS) \
	         file_store:$(FUZZ_SECONDS) sql:$(FUZZ_SECONDS); do \
	  name=$${t%%:*}; secs=$${t##*:}; \
	  scratch=$$(mktemp -d) && ./build/fuzz/bin/$${name}_fuzz -max_total_time=$$secs \
	    $$scratch fuzz/corpus/$$name && rm -rf $$scratch || exit 1; \
	done

bench: build
	bench/compare

clean:
	rm -rf build
