# SPDX-License-Identifier: MIT
# pair_sim: the pair's protocol state machine (primary/pair_sm.c) under a seeded fault simulator.
# A unit test: plain C, no hv, no transport; `make test` runs it here and under ASan.
$(BUILD)/failover-tests/pair_sim: $(BUILD)/failover-tests/pair_sim.o $(BUILD)/primary/pair_sm.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
UNIT_TESTS += $(BUILD)/failover-tests/pair_sim
