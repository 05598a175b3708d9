#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 9, etcd arbiter): losing etcd members under load from FT_CLIENTS ftkv clients.
#  1. One member of three lost: nothing changes; a SIGKILL of the primary still fails over.
#  2. Two members lost (no majority): the protected primary keeps serving while it has its backup;
#     a SIGKILL of the primary then leaves nobody live (no guest frames, clients wait) until a
#     member returns, when the backup wins and goes live with nothing lost.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
ft_require_etcd_arbiter
FT_ARBITER=etcd
FT_CLIENTS=${FT_CLIENTS:-4}
echo "seed $FT_SEED, $FT_CLIENTS clients"
ft_topology

# 1. A minority outage.
ft_round minority
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 60
sleep 1
lost=$(date +%s%N)
ft_etcd_kill 3
sleep 3
[ "$(ft_serving $((lost / 1000000)))" = p ] || ft_fail "with one etcd member lost '$(ft_serving $((lost / 1000000)))' served, want the primary"
killed=$(date +%s%N)
ft_kill primary KILL
sleep 4
[ "$(ft_serving $((killed / 1000000 + 1000)))" = b ] || { ft_show backup; ft_fail "with one etcd member lost the backup did not take over"; }
touch "$FT_RUN/stop"
ft_judge_clients load "$killed" || exit 1
ft_stop_pair load
ft_tap_monitor_stop
ft_etcd_restart 3
ft_wait_for 30 ft_etcd_healthy 3 || ft_fail "etcd member 3 did not come back"
ft_note "minority outage: passed"

# 2. A majority outage.
ft_round majority
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 60
sleep 1
lost=$(date +%s%N)
ft_etcd_kill 2
ft_etcd_kill 3
sleep 4
[ "$(ft_serving $((lost / 1000000)))" = p ] || ft_fail "without an etcd majority the protected primary stopped serving"
killed=$(date +%s%N)
ft_kill primary KILL
ft_note "primary SIGKILLed with no etcd majority"
sleep 2
from=$(ft_now_ms)
sleep 4
[ -z "$(ft_serving "$from")" ] || ft_fail "'$(ft_serving "$from")' went live without an etcd majority"
ft_alive backup || { ft_show backup; ft_fail "the backup gave up while the arbiter was unreachable; it should wait and retry"; }
back=$(ft_now_ms)
ft_etcd_restart 2
ft_note "etcd member 2 back: a majority again"
ft_wait_for 30 eval '[ "$(ft_serving "$back")" = b ]' || { ft_show backup; ft_fail "the backup did not go live once etcd had a majority"; }
sleep 3
touch "$FT_RUN/stop"
ft_judge_clients load "$killed" || exit 1
echo "a minority etcd outage changed nothing; without a majority nobody new went live, and the backup took over once it returned"
