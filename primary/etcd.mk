# SPDX-License-Identifier: MIT
# The arbiter's kinds behind pair.h (arbiter.c picks one from the spec): lock:PATH and etcd://
# (libcurl to etcd's v3 JSON gateway), and the etcd arbiter's test against a real 3-member cluster.
FTVM_OBJS += primary/arbiter.o
FTVM_OBJS += primary/arbiter_etcd.o
FT_ARBITER_OBJS := $(BUILD)/primary/arbiter.o $(BUILD)/primary/arbiter_lock.o $(BUILD)/primary/arbiter_etcd.o

# test_arbiter (primary/build.mk) opens its lock through arbiter.c, which links the etcd kind too;
# its rule puts LDFLAGS before the objects, hence --no-as-needed.
$(BUILD)/primary/tests/test_arbiter: $(BUILD)/primary/arbiter.o $(BUILD)/primary/arbiter_etcd.o
$(BUILD)/primary/tests/test_arbiter: LDFLAGS += -Wl,--no-as-needed -lcurl -lcrypto

$(BUILD)/primary/tests/test_arbiter_etcd: $(BUILD)/primary/tests/test_arbiter_etcd.o $(FT_ARBITER_OBJS)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
SYSTEM_TEST_DEPS += $(BUILD)/primary/tests/test_arbiter_etcd
SYSTEM_TESTS += primary/tests/test_arbiter_etcd.sh
