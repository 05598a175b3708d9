#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 8, output commit without a backup): a plain `ftvm record` on host p under load from
# FT_CLIENTS ftkv clients is SIGKILLed at FT_KILLS random points (default 3); `ftvm replay
# --then-live` of its log on host b (the file stands in for storage both hosts reach) takes over
# the guest's network.  With FT_CHAIN=1 (make failover-tests) the takeover on host b is `replay
# --then-record`, which records on into the same log; that is SIGKILLed too, and `replay
# --then-live` of the whole log on host p takes over again: the continued log must replay exactly.
# Output may leave only once the log holding its cause is written, so the clients must keep their
# connections and their history must be linearizable, with nothing acknowledged lost.
# Needs no daemon.  Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
FT_KILLS=${FT_KILLS:-3}
FT_CLIENTS=${FT_CLIENTS:-4}
FT_CHAIN=${FT_CHAIN:-0}
echo "seed $FT_SEED, $FT_KILLS kills, $FT_CLIENTS clients$([ "$FT_CHAIN" = 1 ] && echo ", each taken over twice")"
ft_topology

for round in $(seq 1 "$FT_KILLS"); do
	ft_round "$round"
	ft_bg recorder p "$FTVM" record --log "$FT_RUN/run.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
		--net tap:tap0 --no-console-input --append "$(ft_append)"
	ft_wait_kv 120 || { ft_show recorder; ft_fail "round $round: the recorded guest did not serve ftkv"; }
	ft_tap_monitor
	kill_after_ms=$(ft_random_ms 300 4000)
	ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30
	# Into the load, not into the clients' start (a kill before their first reply judges nothing).
	ft_wait_for 30 eval '[ "$(ft_ops_done load)" -gt 0 ]' || { ft_show recorder; ft_fail "round $round: no client was answered"; }
	ft_sleep_ms "$kill_after_ms"
	at=$(date +%s%N)
	ft_kill recorder KILL
	ft_note "round $round: recorder SIGKILLed ${kill_after_ms} ms into the load"
	ft_bg replay b "$FTVM" replay "$FT_RUN/run.ftlog" "$([ "$FT_CHAIN" = 1 ] && echo --then-record || echo --then-live)" \
		--quiet --net tap:tap0
	ft_wait_for 120 ft_out_has replay "live at step" || { ft_show replay; ft_fail "round $round: the replay did not go live"; }
	ft_note "round $round: $(grep -m1 "live at step" "$FT_RUN/replay.out")"
	live_ops=$(ft_ops_done load)
	last=replay host=b
	if [ "$FT_CHAIN" = 1 ]; then
		live=$(ft_now_ms) done_ops=$(ft_ops_done load)
		# The clients' retransmissions back off while the log replays: give them time to reach host
		# b, and kill it only once a client was answered by it (else this is one longer outage).
		ft_wait_for 60 eval '[ "$(ft_ops_done load)" -gt "$done_ops" ]' ||
			{ ft_show replay; ft_fail "round $round: host b recorded on but answered no client in 60 s"; }
		ft_note "round $round: host b answered a client $(( $(ft_now_ms) - live )) ms after going live"
		ft_wait_for 15 eval '[ "$(ft_serving "$live")" = b ]' ||
			ft_fail "round $round: after the takeover '$(ft_serving "$live")' served, want host b"
		ft_sleep_ms "$(ft_random_ms 500 3000)"
		ft_kill replay KILL
		ft_note "round $round: the replay that recorded on SIGKILLed too; replaying the whole log on host p"
		ft_bg replay2 p "$FTVM" replay "$FT_RUN/run.ftlog" --then-live --quiet --net tap:tap0
		ft_wait_for 120 ft_out_has replay2 "live at step" || { ft_show replay2; ft_fail "round $round: the second replay did not go live"; }
		ft_note "round $round: $(grep -m1 "live at step" "$FT_RUN/replay2.out")"
		live_ops=$(ft_ops_done load)
		last=replay2 host=p
	fi
	# The clients' retransmissions backed off while the log replayed: wait for one to be answered.
	ft_wait_for 60 eval '[ "$(ft_ops_done load)" -gt "$live_ops" ]' ||
		{ ft_show "$last"; ft_fail "round $round: no client was answered in 60 s after the takeover"; }
	sleep 3
	touch "$FT_RUN/stop"
	ft_judge_clients load "$at" || exit 1
	serving=$(ft_serving $(( $(date +%s%N) / 1000000 - 3000 )))
	[ "$serving" = "$host" ] || ft_fail "round $round: after the takeover '${serving:-nobody}' served, want host $host"
	ft_stop_pair replay "$last" load
	ft_tap_monitor_stop
	ft_note "round $round: passed"
done
echo "all $FT_KILLS recorder kills$([ "$FT_CHAIN" = 1 ] && echo ", each taken over twice,") passed: nothing acknowledged lost, connections kept"
