# SPDX-License-Identifier: MIT
# primary: 'ftvm primary', and what both daemons share (options, arbiter, control socket, status).
# Included before hv/build.mk, whose ftvm rule expands FTVM_OBJS.
FTVM_OBJS += primary/pair_image.o
FTVM_OBJS += primary/pair_switch.o
FTVM_OBJS += primary/pair_ckpt.o
FTVM_OBJS += primary/pair_log.o
FTVM_OBJS += primary/pair_note.o
FTVM_OBJS += primary/pair_sm.o
FTVM_OBJS += primary/pair_drive.o
FTVM_OBJS += primary/arbiter_lock.o
FTVM_OBJS += primary/control.o
FTVM_OBJS += primary/primary.o
include primary/etcd.mk

# Unit tests (also run under ASan/UBSan).
UNIT_TESTS += $(BUILD)/primary/tests/test_arbiter
$(BUILD)/primary/tests/test_arbiter: $(BUILD)/primary/tests/test_arbiter.o $(BUILD)/primary/arbiter_lock.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# The daemons' driver of pair_sm, against a real lock-file arbiter.
UNIT_TESTS += $(BUILD)/primary/tests/test_pair_drive
$(BUILD)/primary/tests/test_pair_drive: $(BUILD)/primary/tests/test_pair_drive.o $(BUILD)/primary/pair_drive.o \
		$(BUILD)/primary/pair_sm.o $(FT_ARBITER_OBJS) $(BUILD)/transport/evloop.o $(BUILD)/transport/log.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcurl -lcrypto

# A checkpoint sent in pieces over the log channel, and what the receiver takes.
UNIT_TESTS += $(BUILD)/primary/tests/test_ckpt_transfer
$(BUILD)/primary/tests/test_ckpt_transfer: $(BUILD)/primary/tests/test_ckpt_transfer.o $(BUILD)/primary/pair_ckpt.o \
		$(BUILD)/primary/pair_note.o $(BUILD)/transport/log.o $(BUILD)/libhv.a
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# What a Hello tells of a log, whole or trimmed, and the check of it.
UNIT_TESTS += $(BUILD)/primary/tests/test_pair_log
$(BUILD)/primary/tests/test_pair_log: $(BUILD)/primary/tests/test_pair_log.o $(BUILD)/primary/pair_log.o $(BUILD)/libhv.a
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The receiver of checkpoint pieces: libFuzzer target (run by hv/fuzz/fuzz-smoke.sh).
FUZZ_CKPT_SRCS := primary/fuzz/fuzz_ckpt_piece.c primary/pair_ckpt.c
FUZZ_CKPT_GCC := $(BUILD)/primary/pair_note.o $(BUILD)/transport/log.o $(BUILD)/libhv.a
fuzz: $(BUILD)/fuzz/fuzz_ckpt_piece
$(BUILD)/fuzz/fuzz_ckpt_piece: $(FUZZ_CKPT_SRCS) $(FUZZ_CKPT_GCC) primary/pair.h
	$(quiet) FUZZ $@
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(WARNINGS) $(CPPFLAGS) -o $@ $(FUZZ_CKPT_SRCS) $(FUZZ_CKPT_GCC) $(PKG_LIBS)

UNIT_TESTS += $(BUILD)/hv/tests/test_output_commit
$(BUILD)/hv/tests/test_output_commit: $(BUILD)/hv/tests/test_output_commit.o $(BUILD)/hv/rr/output_commit.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lpthread
