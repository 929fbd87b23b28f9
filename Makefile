# fcpivot — build, test and benchmark entry points.
#
#   make            optimised build: build/fcpivot and build/libfcpivot.a
#   make serve      install deps, build, serve the built-in sample dataset
#   make check      install deps, build, run the test suite twice:
#                   optimised, then under AddressSanitizer+UBSan
#   make valgrind   the test suite under valgrind (leaks are errors)
#   make bench      benchmarks (figures printed, never asserted)
#   make bench-speed  just the speed comparison: grade vs Python, /verify vs nginx
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each
#
# Every library module is one src/NAME.c with its src/NAME.h; src/main.c and
# src/cli_*.c form the command-line program, tests/*.c the Criterion suite.

BUILD    ?= build
SAN      ?= 0
CC       ?= cc
PKGS     := jansson libmicrohttpd libcurl zlib libzstd

WARN     := -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion \
            -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -Isrc
# serve's fallback location of the built-in sample dataset (data/sample.jsonl)
CPPFLAGS += -DFCPIVOT_DATA_DIR='"$(CURDIR)/data"'
ifeq ($(SAN),1)
  BUILD  := build-san
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  LDSAN  := -fsanitize=address,undefined
else ifeq ($(VG),1)
  BUILD  := build-vg
  OPT    := -O1 -g
else
  OPT    ?= -O2 -g
endif
CFLAGS   += -std=c11 $(WARN) $(OPT) -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunistring -lm -pthread
# fcpivot itself is not linked with libcurl or libmicrohttpd: download and eval
# load libcurl when they start (src/cli_curl.h), the HTTP server libmicrohttpd
# (src/http.c), so other commands do not pay for their loading.
BIN_LDLIBS := $(shell pkg-config --libs $(filter-out libcurl libmicrohttpd,$(PKGS)) 2>/dev/null) -lunistring -lm -pthread
LDFLAGS  += $(LDSAN)

LIB_SRC  := $(filter-out src/main.c src/cli_%.c,$(wildcard src/*.c))
CLI_SRC  := src/main.c $(wildcard src/cli_*.c)
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:tests/%.c=$(BUILD)/tobj/%.o)
BENCH_SRC:= $(wildcard bench/*.c)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

LIB      := $(BUILD)/libfcpivot.a
BIN      := $(BUILD)/fcpivot
TESTBIN  := $(BUILD)/fcpivot-tests

.PHONY: all deps serve check test valgrind test-valgrind bench bench-speed fuzz layers clean
all: $(BIN)

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tobj/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIB) $(BIN_LDLIBS) -o $@

# The tests link the CLI's shared argument helpers too (test_cli_common).
$(TESTBIN): $(TEST_OBJ) $(BUILD)/obj/cli_common.o $(LIB) $(BIN)
	$(CC) $(LDFLAGS) $(TEST_OBJ) $(BUILD)/obj/cli_common.o $(LIB) $(LDLIBS) -lcriterion -o $@

# Each bench/NAME.c is a stand-alone program linked with the library.
$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# The README's run command.
serve: deps
	@$(MAKE) --no-print-directory -j2 all
	$(BIN) serve $(SERVE_ARGS)

# The README's test command: the whole suite, optimised and sanitized.
check: deps
	@$(MAKE) --no-print-directory layers
	@$(MAKE) --no-print-directory -j2 test
	@$(MAKE) --no-print-directory -j2 test SAN=1

# One run of the suite in the current build mode. Tests find the binary and
# the repository through the environment; ../shared is optional.
test: $(TESTBIN)
	FCPIVOT_BIN=$(abspath $(BIN)) FCPIVOT_ROOT=$(CURDIR) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(TESTBIN) --jobs 2 $(TEST_ARGS)

valgrind: deps
	@$(MAKE) --no-print-directory -j2 VG=1 test-valgrind

# Valgrind wants lightly optimised code with debug info: its own build dir.
# Interpreters, HAProxy, Chromium and deploy/run-local (with its replicas) run untraced:
# they are not ours to leak-check, and the replicas are checked by the serve tests.
test-valgrind: $(TESTBIN)
	FCPIVOT_BIN=$(abspath $(BIN)) FCPIVOT_ROOT=$(CURDIR) FCPIVOT_VALGRIND=1 \
	  valgrind --quiet --trace-children=yes \
	  --trace-children-skip='*python3*,*/bash,*/sh,*haproxy*,*wrk*,*curl,*/deploy/run-local,*/timeout,*chromium*,*/rm' \
	  --leak-check=full --show-leak-kinds=definite,indirect \
	  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	  $(TESTBIN) --jobs 1 $(TEST_ARGS)

# Lower layers never include upper ones (see README, "Architecture").
layers:
	@scripts/check-layers

bench: deps
	@$(MAKE) --no-print-directory -j2 all $(BENCH_BIN)
	@FCPIVOT_BIN=$(abspath $(BIN)) FCPIVOT_BUILD=$(abspath $(BUILD)) bench/run

bench-speed: deps
	@$(MAKE) --no-print-directory -j2 all $(BUILD)/bench/bench_grade
	@mkdir -p bench/out
	@FCPIVOT_BIN=$(abspath $(BIN)) FCPIVOT_BUILD=$(abspath $(BUILD)) bash bench/15-speed.sh

fuzz: deps
	@scripts/fuzz $(or $(FUZZ_SECONDS),60)

# libFuzzer targets: fuzz/NAME.c -> build-fuzz/fuzz/NAME, linked with the
# library compiled by clang with coverage instrumentation and ASan+UBSan.
# scripts/fuzz builds them (make fuzz-build) and runs each on its corpus.
# Warnings stay on but not fatal: gcc (make check) is the -Werror gate, and
# clang warns about some things gcc accepts.
FUZZ_BUILD  := build-fuzz
FUZZ_CC     ?= clang
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 $(WARN) -Wno-error -Wno-missing-prototypes -O1 -g -fno-omit-frame-pointer \
               -pthread $(FUZZ_SAN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_SRC    := $(wildcard fuzz/*.c)
FUZZ_BIN    := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/fuzz/%)
FUZZ_OBJ    := $(LIB_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BIN)

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libfcpivot.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz/%: fuzz/%.c fuzz/fuzzutil.h $(FUZZ_BUILD)/libfcpivot.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_BUILD)/libfcpivot.a \
	  $(LDLIBS) -o $@

-include $(FUZZ_OBJ:.o=.d)

clean:
	rm -rf build build-san build-vg build-fuzz
