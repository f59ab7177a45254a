# vigil: the two commands are `make run` and `make test` (see README.md).
#
#   make deps       install apt packages, models, media, reference runtimes (tools/setup/deps.sh)
#   make build      configure + build into $(BUILD) (RelWithDebInfo, portable: no -march=native)
#   make test       deps + build + ctest (test-ctest) + sanitizer run (test-asan) + fuzz smoke (fuzz-smoke)
#   make run        deps + build + the main job (tools/run-main.sh)
#   make bench      deps + build + `vigil bench` (every bench_*, or BENCH=NAME)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (default 60) each
#   make test-asan  unit and op tests built with ASan+UBSan in $(BUILD_ASAN)
#   make clean      remove $(BUILD), $(BUILD_ASAN), $(BUILD_FUZZ)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
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

.PHONY: all deps build test test-ctest test-asan fuzz fuzz-smoke run bench clean

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
	@$(SUBMAKE) fuzz-smoke

test-ctest:
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan:
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DVIGIL_ASAN=ON -DVIGIL_UBSAN=ON \
	  -DVIGIL_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -L '$(ASAN_LABELS)'

fuzz-smoke:
	@BUILD_FUZZ=$(BUILD_FUZZ) JOBS=$(JOBS) tools/setup/fuzz.sh $(FUZZ_SMOKE_SECONDS)

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
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
