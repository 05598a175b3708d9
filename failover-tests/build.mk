# SPDX-License-Identifier: MIT
# failover-tests: the drills (network namespaces, the primary and backup daemons, client histories
# checked for linearizability).  `make failover-tests` runs the checker's own test, the kit's own
# test (namespaces, partition, relay, etcd, with no daemon), then every drill (as root; each skips
# with a reason when it cannot run).
# FT_KILLS=N sets the primary-kill drill's number of random points (20 here, as the issue asks;
# 3 in make test, to keep CI's run short), FT_SEED=S repeats a run. FT_CHAIN=1 (here; 0 in make
# test) has drill-record-takeover take each killed recorder over twice, the first time with
# 'replay --then-record'.
# FT_SWITCHES=N sets the switchover drill's number of promotes (default 10, about 75 s here).

SYSTEM_TESTS += failover-tests/test_linearizable.py
include failover-tests/sim.mk

FAILOVER_DRILLS := $(sort $(wildcard failover-tests/drill-*.sh))
# make test runs the kit's test and the drills that hold the pair to its promises (about ten minutes
# as root; each skips with a reason where it cannot run); the etcd drills run in make failover-tests.
SYSTEM_TESTS += failover-tests/kit-selftest.sh $(filter-out failover-tests/drill-etcd-%,$(FAILOVER_DRILLS))

.PHONY: failover-tests
failover-tests: all domT $(XPORT_TOOL)
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) CACHE=$(CACHE) TEST_LOG_DIR=$(BUILD)/test-logs FT_KILLS=$${FT_KILLS:-20} \
		FT_CHAIN=$${FT_CHAIN:-1} \
		scripts/run-tests failover-tests/test_linearizable.py failover-tests/kit-selftest.sh $(FAILOVER_DRILLS)

# make bench-pair (part of make bench, as root): FT overhead, added latency, lag, failover times.
BENCHES += bench-pair
.PHONY: bench-pair
bench-pair: all domT
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) failover-tests/bench-pair.sh
	$(Q)if command -v etcd >/dev/null; then BUILD=$(BUILD) FTVM=$(FTVM) FT_ARBITER=etcd \
		BENCH_FAILOVERS_ONLY=1 failover-tests/bench-pair.sh; fi
