#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 9, etcd arbiter): SIGSTOP the primary under load from FT_CLIENTS ftkv clients for
# FT_STOP_S seconds (default 15, longer than the failure timeout and the lease), then SIGCONT.  The
# backup takes over meanwhile; the resumed old primary must stop (no guest frames from its host
# once it has had FT_SETTLE_S, default 5 s, to learn of the newer epoch), and no client may ever
# see two diverging answers: the history across all of it is linearizable.  Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
ft_require_etcd_arbiter
FT_ARBITER=etcd
FT_CLIENTS=${FT_CLIENTS:-4}
stop_s=${FT_STOP_S:-15} settle=${FT_SETTLE_S:-5}
echo "seed $FT_SEED, $FT_CLIENTS clients, primary stopped for $stop_s s"
ft_topology
ft_round 1
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 90
ft_sleep_ms "$(ft_random_ms 300 3000)"
at=$(date +%s%N)
ft_kill primary STOP
ft_note "primary SIGSTOPped"
sleep "$stop_s"
took=$(ft_serving $((at / 1000000 + stop_s * 500)))
ft_kill primary CONT
cont=$(ft_now_ms)
ft_note "primary SIGCONTinued; the backup's guest $([ "$took" = b ] && echo "had taken over" || echo "had NOT taken over ('$took')")"
[ "$took" = b ] || ft_fail "the backup did not take over while the primary was stopped"
sleep "$settle"
from=$(ft_now_ms)
sleep 3
serving=$(ft_serving "$from")
[ "$serving" = b ] || { ft_show primary; ft_fail "after SIGCONT '${serving:-nobody}' served, want the backup alone: the old primary must stop"; }
awk -v c="$cont" '$1 >= c && $2 > last && NR > 1 { n++ } { last = $2 } END { printf "old primary: %d samples with new frames after SIGCONT\n", n }' "$FT_RUN/taps.log"
ft_alive primary && ft_note "the old primary still runs; status: $(ft_status primary | tr -d '\n' | cut -c1-200)" ||
	ft_note "the old primary ended: $(tail -n 2 "$FT_RUN/primary.out" | tr '\n' ' ')"
touch "$FT_RUN/stop"
ft_judge_clients load "$at" || exit 1
echo "a stopped and resumed primary stood down; the clients never saw diverging answers"
