# SPDX-License-Identifier: MIT
# pair_sim: the pair's protocol state machine (primary/pair_sm.c) under a seeded fault simulator.
# Unit tests: plain C, no hv, no transport; `make test` runs them here and under ASan.
# pair_sim_hist2 is the same with a history table of two epochs, so forgetting old epochs is covered.
PAIR_SIM_SRCS := failover-tests/pair_sim.c failover-tests/pair_sim_world.c primary/pair_sm.c

$(BUILD)/failover-tests/pair_sim: $(patsubst %.c,$(BUILD)/%.o,$(PAIR_SIM_SRCS))
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
$(BUILD)/failover-tests/hist2/%.o: %.c
	$(quiet) CC $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -DPAIR_MAX_EPOCHS=2 $(CFLAGS) -c -o $@ $<
$(BUILD)/failover-tests/pair_sim_hist2: $(patsubst %.c,$(BUILD)/failover-tests/hist2/%.o,$(PAIR_SIM_SRCS))
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
UNIT_TESTS += $(BUILD)/failover-tests/pair_sim
UNIT_TESTS += $(BUILD)/failover-tests/pair_sim_hist2
