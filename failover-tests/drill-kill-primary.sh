#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: SIGKILL the primary at FT_KILLS random points (default 3; the issue asks 20) under load from
# FT_CLIENTS ftkv clients (default 4), a fresh pair each time; in round 1 before any client
# connects, so the switch must learn the guest's new port from the backup's announcement alone.
# Judged from the clients' side: every client keeps its TCP connection, operations complete after
# the kill, the history (with a final read of every key) is linearizable, so no acknowledged write
# was lost; and the backup's TAP, not the dead primary's, carries the guest afterwards.  Exit 0
# pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
FT_KILLS=${FT_KILLS:-3}
FT_CLIENTS=${FT_CLIENTS:-4}
echo "seed $FT_SEED (FT_SEED=$FT_SEED repeats these kill points), $FT_KILLS kills, $FT_CLIENTS clients"
ft_topology

for round in $(seq 1 "$FT_KILLS"); do
	ft_round "$round"
	ft_pair_up 120
	ft_tap_monitor
	if [ "$round" = 1 ]; then
		# An idle guest: the clients connect only after the kill, so nothing the guest sends
		# on its own teaches the switch its new port: the backup's announcement must.
		at=$(date +%s%N)
		ft_kill primary KILL
		ft_note "round $round: primary SIGKILLed with no client connected"
		if ! ft_wait_for 5 eval '[ "$(ft_guest_port)" = b ]'; then
			ft_show backup 12
			ft_fail "round $round: 5 s after the kill the switch still sends the guest's frames to" \
				"'$(ft_guest_port)', want b: the backup's announcement did not reach it"
		fi
		ft_clients load --clients "$FT_CLIENTS" --duration 4 --keys 5 --final-read --timeout 30
	else
		kill_after_ms=$(ft_random_ms 300 4000)
		ft_clients load --clients "$FT_CLIENTS" --duration $((kill_after_ms / 1000 + 6)) --keys 5 --final-read --timeout 30
		ft_sleep_ms "$kill_after_ms"
		at=$(date +%s%N)
		ft_kill primary KILL
		ft_note "round $round: primary SIGKILLed ${kill_after_ms} ms into the load"
	fi
	ft_judge_clients load "$at" || exit 1
	ft_alive backup || { ft_show backup; ft_fail "round $round: the backup exited after the failover"; }
	serving=$(ft_serving $(( at / 1000000 + 1000 )))
	[ "$serving" = b ] || { ft_show backup; ft_fail "round $round: after the kill the guest was served by '${serving:-nobody}', want the backup"; }
	ft_note "round $round: passed; backup status: $(ft_status backup | tr -d '\n' | cut -c1-300)"
	ft_stop_pair load
	ft_tap_monitor_stop
done
echo "all $FT_KILLS primary kills passed: no acknowledged write lost, connections kept, histories linearizable"
