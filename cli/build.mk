# SPDX-License-Identifier: MIT
# cli: the ftvm command, a thin argv layer over hv/ and the daemons: main and one file per
# subcommand. Included before hv/build.mk, whose ftvm rule expands FTVM_OBJS.

FTVM_OBJS += cli/main.o cli/args.o cli/run.o cli/replay.o cli/trace.o cli/log_dump.o cli/log_trim.o cli/snapshot.o
FTVM_OBJS += cli/pair.o cli/status.o
FTVM_OBJS += cli/version.o
FTVM_OBJS += cli/report.o
FTVM_OBJS += cli/exit.o

# 'ftvm --version' names the commit it was built from, when built from a git checkout.
FTVM_GIT_DESCRIBE := $(shell git describe --always --dirty 2>/dev/null)
$(BUILD)/cli/version.o: CPPFLAGS += -DFTVM_GIT='"$(FTVM_GIT_DESCRIBE)"'
# Rebuilt when the checkout moves, so the commit it names is the one built.
$(BUILD)/cli/version.o: $(wildcard .git/HEAD .git/index)

SYSTEM_TESTS += hv/tests/cli-table.sh

# 'ftvm log dump' writes JSON through args.c: its unit test links that too.
$(BUILD)/hv/tests/test_rr_log: $(BUILD)/cli/args.o
SYSTEM_TESTS += hv/tests/disk-snapshot.sh
SYSTEM_TESTS += transport/tests/certs-twice.sh
SYSTEM_TESTS += hv/tests/disk-host-error.sh
