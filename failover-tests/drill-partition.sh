#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: a silent partition of the replication link (nftables drops everything on both ends; the
# link stays up, so each side sees only silence) under load, FT_PARTITIONS times (default 3), a
# fresh pair each time.  Exactly one side may serve afterwards, judged from the wire and the
# clients: after the failure timeout only one host's TAP carries guest frames, the clients keep
# their connections, their history is linearizable; and healing the link brings no second server.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_nft
ft_require_domT
ft_require_daemons
if [ "${FT_ARBITER:-lock}" = etcd ]; then ft_require_etcd_arbiter; fi
FT_PARTITIONS=${FT_PARTITIONS:-3}
FT_CLIENTS=${FT_CLIENTS:-4}
echo "seed $FT_SEED, $FT_PARTITIONS partitions, $FT_CLIENTS clients"
ft_topology

for round in $(seq 1 "$FT_PARTITIONS"); do
	ft_round "$round"
	ft_pair_up 120
	ft_tap_monitor
	ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30
	ft_sleep_ms "$(ft_random_ms 300 4000)"
	at=$(date +%s%N)
	ft_partition_replication
	ft_note "round $round: replication link silently partitioned"
	ft_reachable p "$FT_BACKUP_REPL_IP" && ft_fail "the partition lets traffic through"
	# Well past the failure timeout (3 x 50 ms heartbeats by default) and a go-live.
	sleep 3
	settled=$(ft_now_ms)
	sleep 3
	serving=$(ft_serving "$settled")
	case $serving in
	p|b) ft_note "round $round: only host $serving serves after the partition";;
	*) ft_show primary; ft_show backup; ft_fail "round $round: after the partition '${serving:-nobody}' served, want exactly one side";;
	esac
	ft_heal_replication
	healed=$(ft_now_ms)
	sleep 3
	after_heal=$(ft_serving "$healed")
	[ "$after_heal" = "$serving" ] || {
		ft_show primary; ft_show backup
		ft_fail "round $round: after healing the link '${after_heal:-nobody}' served, want only $serving"
	}
	touch "$FT_RUN/stop"
	ft_judge_clients load "$at" || exit 1
	for side in primary backup; do
		ft_alive "$side" && ft_note "$side runs; status: $(ft_status "$side" | tr -d '\n' | cut -c1-200)" ||
			ft_note "$side ended: $(tail -n 2 "$FT_RUN/$side.out" | tr '\n' ' ')"
	done
	ft_stop_pair load
	ft_tap_monitor_stop
	ft_note "round $round: passed"
done
echo "all $FT_PARTITIONS partitions passed: one side served, clients kept their connections and lost nothing"
