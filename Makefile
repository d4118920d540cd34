# Thin front door over CMake. Every target installs what is missing first.
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20
BUILD = build

.PHONY: all deps build demo run test test-browser sanitize valgrind fuzz bench bench-net bench-crud load install format clean

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# The main job (README): vortexd on http://127.0.0.1:8080 serving the demo app
# (web/demo/) on an embedded SQLite database, created with demo rows on first run.
DEMO_DB ?= demo.db
demo: build
	./$(BUILD)/vortexd --host 127.0.0.1 --port 8080 --db $(DEMO_DB) --demo --static web --echo

# vortexd with only the echo endpoint.
run: build
	./$(BUILD)/vortexd --host 127.0.0.1 --port 8080 --echo

# The test command (README): unit, vector, wire and CLI tests.
# The SQL tests also run against a real PostgreSQL server: scripts/pg-test.sh
# starts the local cluster and prints the test database URL.
test: build
	cd $(BUILD) && VX_TEST_PG_URL=$$(sh ../scripts/pg-test.sh) ctest --output-on-failure -j$(JOBS)

# The demo app in a real browser: Debian's chromium driven by playwright-core
# (tests/browser; screenshots in tests/browser/artifacts/).
test-browser: build
	sh tests/browser/run.sh $(BUILD)

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVX_SANITIZE=ON -DVX_BENCH=OFF >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && VX_TEST_PG_URL=$$(sh ../scripts/pg-test.sh) \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

# The unit tests under valgrind's leak checker (slow; run from .ci/run).
valgrind: build
	VX_TEST_PG_URL=$$(sh scripts/pg-test.sh) sh scripts/valgrind-tests.sh $(BUILD)

# Each libFuzzer target for FUZZ_SECONDS, seeded from tests/vectors.
fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVX_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS)
	sh scripts/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

# Load test: vortexd + 1,000 WebSocket and 200 long-poll clients (tools/vxload),
# 1,000 broadcasts, every client must get every payload once and in order.
load: build
	bash tests/load/run-load.sh $(BUILD)

bench: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVX_TESTS=OFF >/dev/null
	cmake --build build-release -j$(JOBS)
	./build-release/bench_codec

# Network benchmarks: echo, fan-out against a C floor and a Node ws server,
# idle memory per WebSocket (scripts/bench-net.sh; installs npm ws locally).
bench-net:
	sh scripts/deps.sh --bench-net
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVX_TESTS=OFF >/dev/null
	cmake --build build-release -j$(JOBS)
	bash scripts/bench-net.sh build-release

# CRUD benchmark: retrieves/updates through vortexd --db on SQLite and
# PostgreSQL vs the store in-process, push latency to 1,000 subscribers
# (scripts/bench-crud.sh; PostgreSQL from scripts/pg-test.sh).
bench-crud: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVX_TESTS=OFF >/dev/null
	cmake --build build-release -j$(JOBS)
	VX_TEST_PG_URL=$$(sh scripts/pg-test.sh) bash scripts/bench-crud.sh build-release

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-release
