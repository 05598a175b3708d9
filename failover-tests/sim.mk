# SPDX-License-Identifier: MIT
# pair_sim: the pair's protocol state machine (primary/pair_sm.c) under a seeded fault simulator.
# Unit tests: plain C, no hv, no transport; `make test` runs them here and under ASan.
# pair_sim_hist2 is the same with a history table of two epochs, so forgetting old epochs is covered.
$(BUILD)/failover-tests/pair_sim: $(BUILD)/failover-tests/pair_sim.o $(BUILD)/primary/pair_sm.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
$(BUILD)/failover-tests/hist2/%.o: failover-tests/%.c
	$(quiet) CC $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -DPAIR_MAX_EPOCHS=2 $(CFLAGS) -c -o $@ $<
$(BUILD)/failover-tests/hist2/%.o: primary/%.c
	$(quiet) CC $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -DPAIR_MAX_EPOCHS=2 $(CFLAGS) -c -o $@ $<
$(BUILD)/failover-tests/pair_sim_hist2: $(BUILD)/failover-tests/hist2/pair_sim.o $(BUILD)/failover-tests/hist2/pair_sm.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
UNIT_TESTS += $(BUILD)/failover-tests/pair_sim
UNIT_TESTS += $(BUILD)/failover-tests/pair_sim_hist2
