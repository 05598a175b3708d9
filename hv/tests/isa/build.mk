# SPDX-License-Identifier: MIT
# ISA tests: bare-metal RV64GC guest programs run on QEMU and on ftvm as a differential check.

ISA_TESTS += rv64i_alu
ISA_TESTS += rv64i_branch_jump
ISA_TESTS += rv64i_mem
ISA_TESTS += rv64m
ISA_TESTS += rv64a
ISA_TESTS += rv64f
ISA_TESTS += rv64d
ISA_TESTS += rvc
ISA_TESTS += zicsr
ISA_TESTS += traps
ISA_TESTS += plic_seip
ISA_TESTS += interrupts
ISA_TESTS += paging
ISA_TESTS += smp_counter
ISA_TESTS += smc

ISA_ELFS := $(patsubst %,$(BUILD)/isa/%.elf,$(ISA_TESTS))
ISA_CFLAGS := -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -fno-pie -no-pie
ISA_CFLAGS += -mcmodel=medany -static -g -Ihv/tests/isa -Wl,--no-relax -Wl,--build-id=none

$(BUILD)/isa/%.elf: hv/tests/isa/%.S hv/tests/isa/crt.S hv/tests/isa/common.h hv/tests/isa/link.ld
	$(quiet) RVCC $@
	@mkdir -p $(dir $@)
	$(Q)$(RISCV_CC) $(ISA_CFLAGS) -T hv/tests/isa/link.ld -o $@ hv/tests/isa/crt.S $<

.PHONY: isa
isa: $(ISA_ELFS)

SYSTEM_TEST_DEPS += $(ISA_ELFS)
SYSTEM_TESTS += hv/tests/isa/run-qemu.sh
SYSTEM_TESTS += hv/tests/isa/run-ftvm.sh
