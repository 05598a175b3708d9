#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 8, output commit without a backup): a plain `ftvm record` on host p under load from
# FT_CLIENTS ftkv clients is SIGKILLed at FT_KILLS random points (default 3); `ftvm replay --then-live`
# of its log on host b (the file stands in for storage both hosts reach) takes over the guest's
# network.  Output may leave only once the log holding its cause is written, so the clients must
# keep their connections and their history must be linearizable, with nothing acknowledged lost.
# Needs no daemon.  Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
FT_KILLS=${FT_KILLS:-3}
FT_CLIENTS=${FT_CLIENTS:-4}
echo "seed $FT_SEED, $FT_KILLS kills, $FT_CLIENTS clients"
ft_topology

for round in $(seq 1 "$FT_KILLS"); do
	ft_round "$round"
	ft_bg recorder p "$FTVM" record --log "$FT_RUN/run.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
		--net tap:tap0 --no-console-input --append "$(ft_append)"
	ft_wait_kv 120 || { ft_show recorder; ft_fail "round $round: the recorded guest did not serve ftkv"; }
	ft_tap_monitor
	kill_after_ms=$(ft_random_ms 300 4000)
	ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30
	ft_sleep_ms "$kill_after_ms"
	at=$(date +%s%N)
	ft_kill recorder KILL
	ft_note "round $round: recorder SIGKILLed ${kill_after_ms} ms into the load"
	ft_bg replay b "$FTVM" replay "$FT_RUN/run.ftlog" --then-live --quiet --net tap:tap0
	ft_wait_for 120 ft_out_has replay "live at step" || { ft_show replay; ft_fail "round $round: the replay did not go live"; }
	ft_note "round $round: $(grep -m1 "live at step" "$FT_RUN/replay.out")"
	sleep 4
	touch "$FT_RUN/stop"
	ft_judge_clients load "$at" || exit 1
	serving=$(ft_serving $(( at / 1000000 + 1000 )))
	[ "$serving" = b ] || ft_fail "round $round: after the takeover '${serving:-nobody}' served, want host b"
	ft_stop_pair replay load
	ft_tap_monitor_stop
	ft_note "round $round: passed"
done
echo "all $FT_KILLS recorder kills passed: nothing acknowledged lost, connections kept"
