# SPDX-License-Identifier: MIT
# failover-tests: the drills (network namespaces, the primary and backup daemons, client histories
# checked for linearizability).  They take minutes each, so `make test` runs only the checker's own
# test; `make failover-tests` runs it, the kit's own test (namespaces, partition, relay, etcd, with no
# daemon), then the drills (as root; each skips with a reason when it cannot run).
# FT_KILLS=N sets the primary-kill drill's number of random points, FT_SEED=S repeats a run.

SYSTEM_TESTS += failover-tests/test_linearizable.py
include failover-tests/sim.mk

FAILOVER_DRILLS := $(sort $(wildcard failover-tests/drill-*.sh))

.PHONY: failover-tests
failover-tests: all domT $(XPORT_TOOL)
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) CACHE=$(CACHE) TEST_LOG_DIR=$(BUILD)/test-logs \
		scripts/run-tests failover-tests/test_linearizable.py failover-tests/kit-selftest.sh $(FAILOVER_DRILLS)

# make bench-pair (part of make bench, as root): FT overhead, added latency, lag, failover times.
BENCHES += bench-pair
.PHONY: bench-pair
bench-pair: all domT
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) failover-tests/bench-pair.sh
