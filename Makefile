# vigil: the two commands are `make run` and `make test` (see README.md).
#
#   make deps       install apt packages, models, media, reference runtimes (tools/setup/deps.sh)
#   make build      configure + build into $(BUILD) (RelWithDebInfo, portable: no -march=native)
#   make test       deps + build + ctest (test-ctest) + sanitizer run (test-asan) + fuzz smoke (fuzz-smoke)
#   make run        deps + build + the main job (tools/run-main.sh)
#   make bench      deps + build + `vigil bench` (every bench_*, or BENCH=NAME)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (default 60) each
#   make test-asan  unit and op tests built with ASan+UBSan in $(BUILD_ASAN)
#   make test-tsan  the zoo manager's threaded tests (stress included) under ThreadSanitizer
#   make clean      remove $(BUILD), $(BUILD_ASAN), $(BUILD_FUZZ)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_TSAN ?= build-tsan
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= OFF
CMAKE_FLAGS ?=
ASAN_LABELS ?= unit|ops
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
VIGIL_HOME ?= $(HOME)/.cache/vigil
export VIGIL_HOME

SUBMAKE = $(MAKE) --no-print-directory
# The sanitizer stages build only what they run.
ASAN_TARGETS := $(sort $(basename $(notdir $(wildcard tests/unit/test_*.c tests/ops/test_*.c))))
TSAN_TESTS := test_zoo test_zoo_stress test_zoo_http test_yolo_world

.PHONY: all deps build test test-ctest test-asan test-tsan fuzz fuzz-smoke run bench clean

all: build

deps:
	@tools/setup/deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DVIGIL_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The stages run in order, each only if the one before passed.
test:
	@$(SUBMAKE) deps
	@$(SUBMAKE) build
	@$(SUBMAKE) test-ctest
	@$(SUBMAKE) test-asan
	@$(SUBMAKE) test-tsan
	@$(SUBMAKE) fuzz-smoke

test-ctest:
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan:
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DVIGIL_ASAN=ON -DVIGIL_UBSAN=ON \
	  -DVIGIL_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS) --target vigil $(ASAN_TARGETS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -L '$(ASAN_LABELS)'

test-tsan:
	@cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DVIGIL_TSAN=ON -DVIGIL_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_TSAN) -j$(JOBS) --target $(TSAN_TESTS)
	cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j$(JOBS) -R 'unit/($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

fuzz-smoke:
	@FUZZ_SEED=1 BUILD_FUZZ=$(BUILD_FUZZ) JOBS=$(JOBS) tools/setup/fuzz.sh $(FUZZ_SMOKE_SECONDS)

fuzz:
	@BUILD_FUZZ=$(BUILD_FUZZ) JOBS=$(JOBS) tools/setup/fuzz.sh $(FUZZ_SECONDS)

run:
	@$(SUBMAKE) deps
	@$(SUBMAKE) build
	@BUILD=$(BUILD) tools/run-main.sh

# BENCH=NAME runs only bench_NAME (see `build/vigil bench --help`).
bench:
	@$(SUBMAKE) deps
	@$(SUBMAKE) build
	@$(BUILD)/vigil bench $(BENCH)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_TSAN)
