#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 9): drill-partition.sh with the etcd arbiter (three members, each in its own
# namespace) and 50 rounds by default (FT_PARTITIONS): a silent partition of the replication link,
# exactly one side serves, the clients' histories are linearizable.  Exit 0 pass, 77 skip, 1 fail.
FT_ARBITER=etcd FT_PARTITIONS=${FT_PARTITIONS:-50} exec "$(dirname "$0")/drill-partition.sh"
