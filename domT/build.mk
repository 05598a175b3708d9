# SPDX-License-Identifier: MIT
# domT: the guest kernel Image (content-keyed in $(CACHE)) and the initrd with init and workloads.

DOMT_IMAGE := $(BUILD)/domT/Image
DOMT_INITRD := $(BUILD)/domT/initrd.cpio
DOMT_INITRD_SRCS := $(wildcard domT/init/*.c domT/init/*.h) domT/mkcpio.c domT/build-initrd.sh

domT: $(DOMT_IMAGE) $(DOMT_INITRD)

# A symlink into the cache; if the cache entry goes away the link dangles and make rebuilds it.
$(DOMT_IMAGE): domT/linux.config domT/build-kernel.sh
	$(quiet) KERNEL $@
	@mkdir -p $(dir $@)
	$(Q)img=$$(CACHE=$(CACHE) domT/build-kernel.sh) && ln -sfn "$$img" $@

$(DOMT_INITRD): $(DOMT_INITRD_SRCS)
	$(quiet) INITRD $@
	$(Q)BUILD=$(BUILD) RISCV_CC=$(RISCV_CC) CC=$(CC) domT/build-initrd.sh >/dev/null

SYSTEM_TEST_DEPS += $(DOMT_IMAGE) $(DOMT_INITRD)
SYSTEM_TESTS += domT/tests/qemu-boot.sh
SYSTEM_TESTS += domT/tests/shell.sh
SYSTEM_TESTS += domT/tests/make-run.sh

# ftkv also builds for the host, so its protocol is tested (and sanitized) without QEMU.
$(BUILD)/domT/ftkv-host: $(BUILD)/domT/init/ftkv.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
$(BUILD)/domT/tests/test_ftkv: $(BUILD)/domT/tests/test_ftkv.o $(BUILD)/domT/ftkv-host
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^)
UNIT_TESTS += $(BUILD)/domT/tests/test_ftkv
