# SPDX-License-Identifier: MIT
# ftvm: one non-recursive Makefile; each part adds its objects in its build.mk.

CC ?= gcc
CLANG ?= clang
RISCV_CC ?= riscv64-linux-gnu-gcc
V ?= 0
WERROR ?= 1
# SAN=asan builds everything with AddressSanitizer and UBSan into build-asan/.
SAN ?=

ifeq ($(SAN),)
BUILD ?= build
else
BUILD ?= build-$(SAN)
endif
# Slow artefacts (the guest kernel) live outside the tree, keyed by content.
CACHE ?= $(HOME)/.cache/ftvm

ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-7s %s\n'
endif

WARNINGS += -Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
WARNINGS += -Wshadow -Wpointer-arith -Wcast-qual -Wundef -Wwrite-strings
WARNINGS += -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

PKGS := slirp openssl libprotobuf-c liburcu libcurl libxxhash
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfdt -lpthread -lm
# A library pkg-config does not know stops the build here with its name, not at a missing header.
PKGS_MISSING := $(shell for p in $(PKGS); do pkg-config --exists $$p || echo $$p; done)
ifneq ($(PKGS_MISSING),)
ifeq ($(filter clean,$(MAKECMDGOALS)),)
$(error missing libraries (pkg-config names): $(PKGS_MISSING); scripts/install-deps installs them)
endif
endif

# CFLAGS, CPPFLAGS and LDFLAGS are the user's (make CFLAGS=-O0); what the build needs
# is appended with override, so a command-line value replaces the defaults only.
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -MMD -MP -fno-strict-aliasing $(WARNINGS)
override CPPFLAGS += -I. -I$(BUILD)/gen $(PKG_CFLAGS) -D_GNU_SOURCE
ifeq ($(SAN),asan)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
endif

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the binary lives in
# $(PREFIX)/lib/ftvm beside the domT guest it boots by default (ftvm looks for
# domT/ next to its own resolved path), with $(PREFIX)/bin/ftvm a relative
# symlink to it; documentation, the manual page and bash completion in share/.
PREFIX ?= /usr/local
DESTDIR ?=
FT_LIBDIR = $(DESTDIR)$(PREFIX)/lib/ftvm
FT_BINDIR = $(DESTDIR)$(PREFIX)/bin
FT_DOCDIR = $(DESTDIR)$(PREFIX)/share/doc/ftvm
FT_MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1
FT_BASHDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions

.PHONY: all test bench clean domT fuzz check-unit install uninstall
all:

include proto/build.mk
include transport/build.mk
# The daemons add to FTVM_OBJS before hv/build.mk's ftvm rule expands it.
include primary/build.mk
include backup/build.mk
include cli/build.mk
include hv/build.mk
include hv/tests/isa/build.mk
include domT/build.mk
include failover-tests/build.mk

$(BUILD)/%.o: %.c
	$(quiet) CC $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# clean removes $(BUILD); for the default build also the ASan and fuzz trees beside it.
clean:
	rm -rf $(BUILD) $(if $(filter build,$(BUILD)),build-asan build-fuzz)

install: all domT
	install -d $(FT_LIBDIR)/domT $(FT_BINDIR) $(FT_DOCDIR) $(FT_MANDIR) $(FT_BASHDIR)
	install -m 755 $(FTVM) $(FT_LIBDIR)/ftvm
	install -m 644 $(BUILD)/domT/Image $(BUILD)/domT/initrd.cpio $(FT_LIBDIR)/domT/
	ln -sf ../lib/ftvm/ftvm $(FT_BINDIR)/ftvm
	install -m 644 README.md $(wildcard docs/*.md) $(FT_DOCDIR)/
	$(if $(wildcard docs/ftvm.1),install -m 644 docs/ftvm.1 $(FT_MANDIR)/ftvm.1)
	$(if $(wildcard cli/ftvm.bash),install -m 644 cli/ftvm.bash $(FT_BASHDIR)/ftvm)

uninstall:
	rm -f $(FT_BINDIR)/ftvm $(FT_LIBDIR)/ftvm $(FT_LIBDIR)/domT/Image $(FT_LIBDIR)/domT/initrd.cpio
	rm -f $(FT_MANDIR)/ftvm.1 $(FT_BASHDIR)/ftvm
	rm -f $(addprefix $(FT_DOCDIR)/,README.md $(notdir $(wildcard docs/*.md)))
	-rmdir $(FT_LIBDIR)/domT $(FT_LIBDIR) $(FT_DOCDIR) 2>/dev/null

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Test entry points: UNIT_TESTS are programs, also built and run under ASan +
# UBSan (build-asan/); SYSTEM_TESTS are scripts that boot guests, run QEMU or
# use network namespaces. `make test` runs all of them in one report.
ASAN_UNIT_TESTS = $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_TESTS))
.PHONY: test-unit test-system unit-programs
unit-programs: $(UNIT_TESTS)
test-unit: $(UNIT_TESTS)
	$(Q)scripts/run-tests $(UNIT_TESTS)
test-system: all $(SYSTEM_TEST_DEPS)
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) CACHE=$(CACHE) scripts/run-tests $(SYSTEM_TESTS)
test: all $(UNIT_TESTS) $(SYSTEM_TEST_DEPS)
	$(Q)$(MAKE) --no-print-directory SAN=asan unit-programs all
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) CACHE=$(CACHE) scripts/run-tests $(UNIT_TESTS) $(ASAN_UNIT_TESTS) $(SYSTEM_TESTS)

# Benchmarks print figures; they never fail on a slow result.
.PHONY: bench
bench: all $(BENCH_DEPS)
	$(Q)for b in $(BENCHES); do $(MAKE) --no-print-directory $$b || exit 1; done

# The default guest with its key/value service (ftkv, guest port 7000) reachable from this host.
RUN_KV_PORT ?= 7000
.PHONY: demo
# The protected pair in network namespaces, a client against ftkv, a failover (needs root).
demo: all domT
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) scripts/demo

.PHONY: run
run: all domT
	@printf '%s\n' "ftvm: booting the domT guest; Ctrl-A x quits (Ctrl-A Ctrl-A sends a Ctrl-A)." \
		"ftvm: ftkv will listen on 127.0.0.1:$(RUN_KV_PORT) here (RUN_KV_PORT=N picks another port):" \
		"        printf 'SET a 1\\nGET a\\n' | nc -q1 127.0.0.1 $(RUN_KV_PORT)" \
		"      or, without nc: bash -c 'exec 3<>/dev/tcp/127.0.0.1/$(RUN_KV_PORT); echo GET a >&3; head -n1 <&3'" \
		"ftvm: at the guest's domT# prompt, 'help' lists what it knows."
	$(FTVM) run --net user,hostfwd=tcp:127.0.0.1:$(RUN_KV_PORT)-:7000
