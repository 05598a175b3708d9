# SPDX-License-Identifier: MIT
# hv/cpu: the RISC-V -> x86-64 block translator (--cpu jit), its differential tests and benchmark.

HV_OBJS += hv/cpu/jit.o
HV_OBJS += hv/cpu/jit_emit_x86.o

SYSTEM_TESTS += hv/cpu/tests/isa-jit.sh

# Differential fuzzer: random RV64GC programs, interpreter against translator after every slice.
UNIT_TESTS += $(BUILD)/hv/cpu/tests/test_jit_diff
$(BUILD)/hv/cpu/tests/test_jit_diff: $(BUILD)/hv/cpu/tests/test_jit_diff.o $(BUILD)/libhv.a
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
# Code a virtio-blk read lays over translated code runs new, with no FENCE.I, as under the interpreter.
UNIT_TESTS += $(BUILD)/hv/cpu/tests/test_jit_dma
$(BUILD)/hv/cpu/tests/test_jit_dma: $(BUILD)/hv/cpu/tests/test_jit_dma.o $(BUILD)/libhv.a
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
# Record under one --cpu, replay under the other, both ways, every digest matching.
SYSTEM_TESTS += hv/cpu/tests/jit-rr.sh

# `make bench`: loop MIPS, boot and cpubench for --cpu jit beside interp and QEMU, with ratios.
BENCHES += bench-jit
.PHONY: bench-jit
bench-jit: $(BUILD)/ftvm $(BUILD)/bench/loop.elf
	$(Q)BUILD=$(BUILD) FTVM=$(BUILD)/ftvm python3 hv/cpu/bench_jit.py
# hv's Linux system tests again with --cpu jit on every run, record and replay.
SYSTEM_TESTS += hv/cpu/tests/linux-jit.sh
