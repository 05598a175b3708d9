# SPDX-License-Identifier: MIT
# hv/cli: the ftvm command's own objects and tests (included from hv/build.mk).

FTVM_OBJS += hv/cli/version.o
FTVM_OBJS += hv/cli/report.o
FTVM_OBJS += hv/cli/exit.o

# 'ftvm --version' names the commit it was built from, when built from a git checkout.
FTVM_GIT_DESCRIBE := $(shell git describe --always --dirty 2>/dev/null)
$(BUILD)/hv/cli/version.o: CPPFLAGS += -DFTVM_GIT='"$(FTVM_GIT_DESCRIBE)"'
# Rebuilt when the checkout moves, so the commit it names is the one built.
$(BUILD)/hv/cli/version.o: $(wildcard .git/HEAD .git/index)

SYSTEM_TESTS += hv/tests/cli-table.sh

# 'ftvm log dump' writes JSON through args.c: its unit test links that too.
$(BUILD)/hv/tests/test_rr_log: $(BUILD)/hv/cli/args.o
SYSTEM_TESTS += hv/tests/disk-snapshot.sh
SYSTEM_TESTS += transport/tests/certs-twice.sh
SYSTEM_TESTS += hv/tests/disk-host-error.sh
