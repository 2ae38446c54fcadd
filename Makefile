# A thin layer over CMake + Ninja + CTest. Every target first makes sure the Debian packages
# are installed (scripts/install-deps.sh does nothing when they are).
#
#   make test       Release build (-O3 -march=native), whole suite through CTest
#   make demo       build and run examples/mlp_toy (a 2-layer MLP learning two moons)
#   make bench      build and run the Google Benchmark programs
#   make sanitize   ASan + UBSan (+ float-cast-overflow) build (-O1) in $(SANITIZE_DIR), whole suite
#   make tsan       ThreadSanitizer build (-O1) in $(TSAN_DIR), the thread, concurrency and engine tests
#   make fuzz       the fuzz test alone in the sanitizer build, FUZZ_CALLS calls (default 20000)
#   make clean      remove the build directories
#
# Knobs: make test XGRAD_NATIVE=OFF BUILD_DIR=build-portable JOBS=4 CMAKE_ARGS="-DBUILD_SHARED_LIBS=OFF"
#        make bench BENCH_ARGS="--benchmark_filter=matmul"
#        make fuzz FUZZ_CALLS=100000 FUZZ_SEED=7   (replay one call: XGRAD_FUZZ_ONLY=<call>, see tests/test_fuzz.cpp)

BUILD_DIR     ?= build
SANITIZE_DIR  ?= build-sanitize
TSAN_DIR      ?= build-tsan
FUZZ_CALLS    ?= 20000
FUZZ_SEED     ?= 1
BUILD_TYPE    ?= Release
XGRAD_NATIVE  ?= ON
JOBS          ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS    ?=
CTEST_ARGS    ?=
BENCH_ARGS    ?=

CMAKE_CONFIGURE = cmake -S . -G Ninja -DXGRAD_NATIVE=$(XGRAD_NATIVE) $(CMAKE_ARGS)
CTEST = ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)
# Sanitizer runs stop at the first error and print where it happened.
SANITIZER_ENV = ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:strict_string_checks=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps configure build test demo bench sanitize tsan fuzz clean help

all: build

help:
	@sed -n '1,15p' Makefile

deps:
	@scripts/install-deps.sh

configure: deps
	$(CMAKE_CONFIGURE) -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	$(CTEST) --test-dir $(BUILD_DIR)

demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target mlp_toy
	$(BUILD_DIR)/examples/mlp_toy

bench: deps
	$(CMAKE_CONFIGURE) -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DXGRAD_BUILD_BENCH=ON
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@found=0; for b in $(BUILD_DIR)/bench/*; do \
	  if [ -f "$$b" ] && [ -x "$$b" ]; then found=1; echo "== $$b"; "$$b" $(BENCH_ARGS) || exit 1; fi; \
	done; [ $$found = 1 ] || echo "bench: no benchmark programs are defined yet (bench/CMakeLists.txt)"

# RelWithDebInfo at -O1: sanitizer reports keep line numbers, and the suite stays fast enough.
# The packaging tests are not registered here (their nested builds are plain Release builds).
sanitize: deps
	$(CMAKE_CONFIGURE) -B $(SANITIZE_DIR) -DXGRAD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DXGRAD_BUILD_BENCH=OFF
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	$(SANITIZER_ENV) $(CTEST) --test-dir $(SANITIZE_DIR)

# ThreadSanitizer over the tests that run threads: CTest names matching TSAN_TESTS (the pool's own
# tests, the concurrent-kernel tests, the engine's, and the kernels' 1-vs-2-thread tests).
# tests/tsan.supp explains its suppressions.
TSAN_TESTS ?= thread|concurren|engine
# The million-op chain has no threads and takes minutes under TSan.
TSAN_EXCLUDE ?= 1,000,000 ops
TSAN_ENV = TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp"
tsan: deps
	$(CMAKE_CONFIGURE) -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
	  -DCMAKE_CXX_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
	  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread -DXGRAD_BUILD_BENCH=OFF -DXGRAD_BUILD_EXAMPLES=OFF
	cmake --build $(TSAN_DIR) -j $(JOBS) --target xgrad_tests
	$(TSAN_ENV) $(CTEST) --test-dir $(TSAN_DIR) -R '$(TSAN_TESTS)' -E '$(TSAN_EXCLUDE)'

# The fuzz test alone, with more calls than the suite runs, in the sanitizer build (which also
# traps out-of-range float -> int conversions). The first crash or UB ends the run naming the
# call; scripts/fuzz-campaign.sh resumes after each crash to list them all.
fuzz: deps
	$(CMAKE_CONFIGURE) -B $(SANITIZE_DIR) -DXGRAD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DXGRAD_BUILD_BENCH=OFF
	cmake --build $(SANITIZE_DIR) -j $(JOBS) --target xgrad_tests
	$(SANITIZER_ENV) XGRAD_FUZZ_CALLS=$(FUZZ_CALLS) XGRAD_FUZZ_SEED=$(FUZZ_SEED) \
	  $(SANITIZE_DIR)/tests/xgrad_tests -tc='fuzz:*'

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR)-package-* $(SANITIZE_DIR) $(TSAN_DIR)
