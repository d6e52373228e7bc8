# capstan — build, test, demo, install.
#
#   make                 build/capstan, build/libcapstan.a and build/libcapstan.so
#   make test            unit tests (cmocka) + end-to-end tests (prove), then the same
#                        again under ASan + UBSan (make sanitized), then each fuzz
#                        target for 10 s (make fuzz)
#   make demo            bootstrap dev/staging/prod in a throwaway home
#   make SANITIZE=1 ...  the same tree with ASan + UBSan, in build-san/
#   make valgrind        the end-to-end suite under valgrind memcheck (slow)
#   make e2e-pg          the end-to-end suite with the inventory on PostgreSQL (throwaway server)
#   make fuzz FUZZ_SECONDS=N  each libFuzzer target (tests/fuzz/) for N seconds
#   make install PREFIX=/usr/local DESTDIR=
#   make completion      refresh dist/bash-completion/capstan from the command table

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libcrypto libssl sqlite3 jansson yaml-0.1 libarchive libevent_openssl libevent_pthreads libcurl libpq
LIB_PKGS := libcrypto libssl sqlite3 jansson yaml-0.1 libarchive libevent_openssl libevent_pthreads libcurl libpq
# The shared library's version: its soname changes when the ABI breaks.
VERSION := $(shell sed -n 's/^\#define CAPSTAN_VERSION "\(.*\)"/\1/p' include/capstan/common.h)
SOMAJOR := 0
SONAME  := libcapstan.so.$(SOMAJOR)
REALNAME := libcapstan.so.$(VERSION)

ifeq ($(FUZZ),1)
# libFuzzer targets (tests/fuzz/) need the library built by clang with coverage.
BUILD   ?= build-fuzz
CC      := clang-14
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
           -fno-sanitize-recover=all
SANLD   := -fsanitize=address,undefined
else ifeq ($(SANITIZE),1)
BUILD   ?= build-san
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=all
SANLD   := -fsanitize=address,undefined
# libfaketime (time-travel tests) is an LD_PRELOAD library that loads before ASan.
# Reports also go to files, so that one from a command a test expected to fail
# (any nonzero exit would do) still fails the run: see `make sanitized`.
SAN_REPORTS := $(CURDIR)/build-san/reports
export ASAN_OPTIONS := verify_asan_link_order=0:detect_leaks=1:log_path=$(SAN_REPORTS)/asan
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1:log_path=$(SAN_REPORTS)/ubsan
else
BUILD   ?= build
OPT     := -O2 -g -D_FORTIFY_SOURCE=2
SANLD   :=
endif

CFLAGS  ?=
CFLAGS  += -std=c11 -Wall -Wextra -Werror $(OPT) -fstack-protector-strong \
           -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
           -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcrypto -lssl -lsqlite3 -ljansson -lyaml -larchive -levent_openssl -levent_pthreads -levent -lcurl -lpq) \
           -lpthread
LIB_LDLIBS := $(shell pkg-config --libs $(LIB_PKGS) 2>/dev/null || echo -lcrypto -lssl -lsqlite3 -ljansson -lyaml -larchive -levent_openssl -levent_pthreads -levent -lcurl -lpq) -lpthread
LDFLAGS += $(SANLD)

LIB_SRC := $(wildcard lib/*/*.c)
CMD_SRC := $(wildcard cmd/capstan/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
E2E_TESTS := $(sort $(wildcard tests/e2e/t[0-9]*.sh))

# Built-in templates become C data (scripts/embed-templates.sh).
TEMPLATE_FILES := $(shell find templates -type f 2>/dev/null)
GEN_TEMPLATES := $(BUILD)/gen/templates_data.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/templates_data.o
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

COMPLETION := $(BUILD)/bash-completion/capstan

.PHONY: print-lib-cflags all test unit e2e e2e-pg sanitized valgrind fuzz fuzz-build demo bench install clean deps completion
all: $(BUILD)/capstan $(BUILD)/libcapstan.a $(BUILD)/$(SONAME) $(BUILD)/capstan.pc $(COMPLETION)

# The library's layers include each other's interface as "layer/layer.h". Its
# objects serve both libraries: position-independent, and hidden unless a public
# header declares them (CAPSTAN_BEGIN_API in include/capstan/common.h).
$(LIB_OBJ): CFLAGS += -Ilib -fPIC -fvisibility=hidden

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(GEN_TEMPLATES): $(TEMPLATE_FILES) scripts/embed-templates.sh
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@bash scripts/embed-templates.sh templates > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/templates_data.o: $(GEN_TEMPLATES)
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libcapstan.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/$(SONAME): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,-z,relro,-z,now,-z,defs $(LDFLAGS) -o $(BUILD)/$(REALNAME) $^ $(LIB_LDLIBS)
	ln -sf $(REALNAME) $@
	ln -sf $(SONAME) $(BUILD)/libcapstan.so

PC_SED := sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@PKGS@|$(LIB_PKGS)|'
$(BUILD)/capstan.pc: dist/pkgconfig/capstan.pc.in include/capstan/common.h Makefile
	@mkdir -p $(dir $@)
	@$(PC_SED) $< > $@

# The tool links the static library (one file to install); the shared one
# serves other programs.
$(BUILD)/capstan: $(CMD_OBJ) $(BUILD)/libcapstan.a
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libcapstan.a $(LDLIBS)

# The bash completion is what the binary says its commands are (t0050 checks
# that dist/ holds the same; make completion copies it there).
$(COMPLETION): $(BUILD)/capstan
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@$(BUILD)/capstan completion bash > $@.tmp && mv $@.tmp $@

completion: $(COMPLETION)
	cp $(COMPLETION) dist/bash-completion/capstan

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/libcapstan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib -MMD -MP $(LDFLAGS) -o $@ $< $(BUILD)/libcapstan.a $(LDLIBS) -lcmocka

# issue --batch's reader is the tool's: its target links the tool's objects
# (all but main.o, whose main is libFuzzer's) from an archive of their own.
CLI_LIB := $(BUILD)/libcapstan-cli.a
$(CLI_LIB): $(filter-out %/main.o,$(CMD_OBJ))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_batch: tests/fuzz/fuzz_batch.c tests/fuzz/fuzz.h $(CLI_LIB) $(BUILD)/libcapstan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icmd/capstan -MMD -MP -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(CLI_LIB) $(BUILD)/libcapstan.a $(LDLIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(BUILD)/libcapstan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib -MMD -MP -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(BUILD)/libcapstan.a $(LDLIBS)

# deps.sh installs what is missing when run as root; otherwise it only checks.
deps:
	@bash scripts/deps.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "# $$t"; $$t; done

e2e: all
	CAPSTAN_BIN=$(CURDIR)/$(BUILD)/capstan prove -j2 $(E2E_TESTS)

# The same scripts with the inventory on PostgreSQL (a throwaway server,
# each home's inventory a database of its own; scripts/e2e-pg.sh).
e2e-pg: all
	CAPSTAN_BIN=$(CURDIR)/$(BUILD)/capstan scripts/e2e-pg.sh $(E2E_TESTS)

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory e2e-pg
	@$(MAKE) --no-print-directory sanitized
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# The whole suite on the ASan + UBSan build; any report at all fails it.
sanitized:
	@rm -rf build-san/reports && mkdir -p build-san/reports
	@$(MAKE) --no-print-directory SANITIZE=1 all
	@$(MAKE) --no-print-directory SANITIZE=1 unit
	@$(MAKE) --no-print-directory SANITIZE=1 e2e
	@bash scripts/sanitizer-verdict.sh build-san/reports

# Every fuzz target for FUZZ_SECONDS each, after replaying its seeds and the
# crashers kept in tests/fuzz/regressions/. Fails on any crash, leak or report.
FUZZ_SECONDS ?= 60
fuzz-build: $(FUZZ_BIN)
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@bash scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# The end-to-end suite with every capstan run under valgrind memcheck (~20x
# slower: not part of make test). Fails on any error log.
VALGRIND_TESTS ?= $(E2E_TESTS)
valgrind: all
	@rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	CAPSTAN_VALGRIND_BIN=$(CURDIR)/$(BUILD)/capstan CAPSTAN_VALGRIND_LOGS=$(CURDIR)/$(BUILD)/valgrind \
		CAPSTAN_BIN=$(CURDIR)/scripts/valgrind-capstan.sh prove -j2 $(VALGRIND_TESTS)
	@find $(BUILD)/valgrind -type f -empty -delete
	@bash scripts/sanitizer-verdict.sh $(BUILD)/valgrind

demo: deps
	@$(MAKE) --no-print-directory all
	@CAPSTAN_BIN=$(CURDIR)/$(BUILD)/capstan bash scripts/demo.sh

# A benchmark, not a test: figures for the README, no assertion on time.
bench: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/deps.sh bench
	@CAPSTAN_BIN=$(CURDIR)/$(BUILD)/capstan bash scripts/bench/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/include/capstan $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/capstan $(DESTDIR)$(PREFIX)/bin/capstan
	install -m 0644 $(BUILD)/libcapstan.a $(DESTDIR)$(PREFIX)/lib/libcapstan.a
	install -m 0755 $(BUILD)/$(REALNAME) $(DESTDIR)$(PREFIX)/lib/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libcapstan.so
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	$(PC_SED) dist/pkgconfig/capstan.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/capstan.pc
	install -m 0644 include/capstan/*.h $(DESTDIR)$(PREFIX)/include/capstan/
	install -m 0644 docs/capstan.1 $(DESTDIR)$(PREFIX)/share/man/man1/capstan.1
	install -D -m 0644 dist/cron/capstan.cron $(DESTDIR)$(PREFIX)/share/capstan/examples/cron.d/capstan
	install -D -m 0644 $(COMPLETION) $(DESTDIR)$(PREFIX)/share/bash-completion/completions/capstan
	install -D -m 0644 dist/systemd/capstan-renew.service $(DESTDIR)$(PREFIX)/lib/systemd/system/capstan-renew.service
	install -D -m 0644 dist/systemd/capstan-renew.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/capstan-renew.timer
	install -D -m 0644 dist/systemd/capstan-serve.service $(DESTDIR)$(PREFIX)/lib/systemd/system/capstan-serve.service
	install -D -m 0644 dist/systemd/capstan-fetch@.service '$(DESTDIR)$(PREFIX)/lib/systemd/system/capstan-fetch@.service'
	install -D -m 0644 dist/systemd/capstan-fetch@.timer '$(DESTDIR)$(PREFIX)/lib/systemd/system/capstan-fetch@.timer'
	install -D -m 0644 dist/systemd/capstan-fetch.env.example $(DESTDIR)$(PREFIX)/share/capstan/examples/capstan-fetch.env
	install -D -m 0644 dist/cron/capstan-fetch.cron $(DESTDIR)$(PREFIX)/share/capstan/examples/cron.d/capstan-fetch
	cd templates && find . -type f | while read -r f; do \
		install -D -m 0644 "$$f" "$(DESTDIR)$(PREFIX)/share/capstan/templates/$$f"; done

# The flags a library object is compiled with (t0900 checks what they forbid).
print-lib-cflags:
	@echo $(CFLAGS) -Ilib -fPIC -fvisibility=hidden

clean:
	rm -rf build build-san build-fuzz

# A changed flag rebuilds every object (target-specific flags above included).
$(LIB_OBJ) $(CMD_OBJ): Makefile

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_BIN:=.d)
