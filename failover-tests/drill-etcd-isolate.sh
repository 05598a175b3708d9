#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 9, etcd arbiter: three members, each in its own namespace), under load from
# FT_CLIENTS ftkv clients, a fresh pair each:
#  1. the primary cut off from the backup and the arbiter (its guest network stays): the backup
#     takes over, the old primary stops emitting (how long after the cut it sent its last frame
#     is printed), the clients keep their connections and lose nothing;
#  2. the backup cut off from everything: the primary carries on, the backup never goes live.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_nft
ft_require_domT
ft_require_daemons
ft_require_etcd_arbiter
FT_ARBITER=etcd
FT_CLIENTS=${FT_CLIENTS:-4}
settle=${FT_SETTLE_S:-10}	# longer than any sane lease: the old primary must be silent by then
echo "seed $FT_SEED, $FT_CLIENTS clients"
ft_topology

for case in primary backup; do
	ft_round "$case"
	ft_pair_up 120
	ft_tap_monitor
	ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 60
	ft_sleep_ms "$(ft_random_ms 300 3000)"
	at=$(date +%s%N)
	if [ $case = primary ]; then
		ft_partition_replication
		ft_cut_arbiter p
		want=b
	else
		ft_isolate b
		want=p
	fi
	ft_note "$case cut off"
	sleep "$settle"
	from=$(ft_now_ms)
	sleep 3
	serving=$(ft_serving "$from")
	[ "$serving" = "$want" ] || { ft_show primary; ft_show backup; ft_fail "$case cut off: '${serving:-nobody}' served afterwards, want host $want alone"; }
	if [ $case = primary ]; then
		awk -v at=$((at / 1000000)) 'NR > 1 && $2 > last { t = $1 } { last = $2 } END {
			if (t >= at) printf "the old primary sent its last frame %d ms after the cut\n", t - at
			else print "the old primary sent nothing after the cut" }' "$FT_RUN/taps.log"
	fi
	touch "$FT_RUN/stop"
	ft_judge_clients load "$at" || exit 1
	ft_stop_pair load
	ft_tap_monitor_stop
	ft_heal p; ft_heal b
	ft_note "$case cut off: passed"
done
echo "an isolated primary gave way to the backup; an isolated backup left the primary serving; nothing lost"
