# vigil: the two commands are `make run` and `make test` (see README.md).
BUILD ?= build
JOBS ?= 2

.PHONY: build test
build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
