# importq - the two commands a newcomer needs are `make run` and `make test`.
# Everything else wraps CMake (build/, build-asan/, build-tsan/).

BUILD      ?= build
PARALLEL   ?= $(shell nproc 2>/dev/null || echo 2)
DB         ?= sqlite:var/importq.db
LISTEN     ?= 127.0.0.1:8080
PREFIX     ?= /usr/local
DESTDIR    ?=
CMAKE_ARGS ?=

.PHONY: all deps build run test test-unit test-asan test-tsan install bench bench-import bench-engine bench-api bench-scheduler fuzz format clean

all: build

deps:
	@scripts/deps.sh all

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(PARALLEL)

# Build, migrate the SQLite database, load the demo, serve (grows per issue).
run: build
	@scripts/run.sh "$(BUILD)/importq" "$(DB)" "$(LISTEN)"

# Everything: unit and store tests on SQLite and a throwaway PostgreSQL,
# then the same under ASan+UBSan and the concurrency tests under TSan.
test: build
	@scripts/test.sh

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit

test-asan: deps
	@SANITIZE=address,undefined scripts/test.sh sanitizer

test-tsan: deps
	@SANITIZE=thread scripts/test.sh sanitizer

# The binary, its man page (share/man/man1/importq.1) and its bash and zsh
# completions, under PREFIX; DESTDIR=DIR stages the whole tree in DIR.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

bench: bench-import bench-engine

bench-import: build
	@scripts/deps.sh bench
	@bench/import.sh $(ROWS)

# Engine: jobs/s (vs graphile-worker and the pgbench SQL floor), claim and
# submit-to-start latency.
bench-engine: build
	@scripts/deps.sh bench
	@BUILD=$(BUILD) bench/engine.sh $(ENGINE_JOBS)

bench-api: build
	@scripts/deps.sh bench
	@bench/api.sh $(API_JOBS)

# Scheduler: next fire times vs croniter, idle and full ticks with many schedules.
bench-scheduler: build
	@scripts/deps.sh bench
	@BUILD=$(BUILD) bench/scheduler.sh $(SCHEDULES)

# libFuzzer on the API's request path and the cron parser (clang), FUZZ_SECONDS per target.
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan
