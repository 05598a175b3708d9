#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: the primary dies while it runs alone, and a supervisor starts it again.
#   1. Under load, SIGKILL the backup: the primary wins the arbiter and carries on alone; the
#      clients' writes from then on are in its log only.
#   2. SIGKILL the primary, and start `ftvm primary` again with the same options (as a unit with
#      Restart=on-failure would), without --listen: it owns the epoch and its log holds the guest's
#      history, so it must refuse to start a new guest (exit 10, saying why) and leave the log as
#      it was.
#   3. Start it again with --listen, as the units do: it starts again as the backup of its own log
#      (--handover-epoch E+1 --take-back, as the refusal tells an operator to); the arbiter still
#      holds E for it, so after its grace it takes the guest back from that log. The clients, which kept their connections
#      through the outage, must have lost nothing.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
[ "${FT_ARBITER:-lock}" = lock ] || ft_skip "reads the epoch from the lock file (FT_ARBITER=lock)"
FT_CLIENTS=${FT_CLIENTS:-3}
echo "seed $FT_SEED, $FT_CLIENTS clients"
ft_topology
ft_round 1
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 900 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 120

ft_sleep_ms "$(ft_random_ms 500 2000)"
ft_kill backup KILL
ft_wait_for 20 ft_out_has primary "UNPROTECTED" || { ft_show primary; ft_fail "the primary did not carry on alone"; }
ft_note "backup SIGKILLed; the primary carries on alone"
ft_sleep_ms "$(ft_random_ms 1000 3000)"
primary_killed=$(date +%s%N)
ft_kill primary KILL
epoch=$(awk '{ print $1 }' "$FT_RUN/arbiter.lock" 2>/dev/null)
owner=$(awk '{ print $2 }' "$FT_RUN/arbiter.lock" 2>/dev/null)
[ "$owner" = primary ] || ft_fail "the arbiter says epoch '$epoch' owner '$owner', want the primary alone"
sum=$(sha256sum <"$FT_RUN/primary.ftlog")
ft_note "primary SIGKILLed alone in epoch $epoch; its log holds $(stat -c %s "$FT_RUN/primary.ftlog") bytes"

mv "$FT_RUN/primary.out" "$FT_RUN/primary-first.out"
FT_OTHER_ROLE=0 ft_start_primary
ft_wait primary 30
rc=$?
[ $rc -ne 124 ] || { ft_show primary; ft_fail "the restarted primary still runs after 30 s: it started a guest over its own log"; }
[ $rc -eq 10 ] || { ft_show primary; ft_fail "the restarted primary exited $rc, want 10 (refused)"; }
ft_out_has primary "holds the guest's history" || { ft_show primary; ft_fail "the restarted primary did not say why it refused"; }
[ "$(sha256sum <"$FT_RUN/primary.ftlog")" = "$sum" ] || ft_fail "the refused primary changed its log"
ft_note "the restarted primary refused: $(grep -o "this host owns epoch.*" "$FT_RUN/primary.out" | head -n 1 | cut -c1-160)"

# With --listen (as the units run it), the primary does what the refusal says itself: it starts again
# as the backup of its own log, and takes the guest back from it when no primary connects.
mv "$FT_RUN/primary.out" "$FT_RUN/primary-refused.out"
ft_start_primary --listen "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT"
ft_wait_for 30 ft_out_has primary "starting again as the backup of that log" || { ft_show primary; ft_fail "the restarted primary did not start again as the backup of its log"; }
ft_wait_for 180 ft_out_has primary "live at step" || { ft_show primary; ft_fail "the host did not take the guest back from its log"; }
ft_note "$(grep -o "live at step.*" "$FT_RUN/primary.out" | head -n 1 | cut -c1-160)"
sleep 3
serving=$(ft_serving $(( $(date +%s%N) / 1000000 - 2500 )))
[ "$serving" = p ] || ft_fail "after the take-back the guest was served by '${serving:-nobody}', want host p"
ft_logs_sound "$FT_RUN/primary.ftlog" || ft_fail "the log the host records on into after the take-back is damaged"
touch "$FT_RUN/stop"
ft_judge_clients load "$primary_killed" || exit 1
ft_note "round 1 passed"

# Round 2: the primary was protected, and is started again before its backup noticed it died (the
# replication link is cut silently first). It still owns the epoch and finds its log, so it starts
# again as the backup of that log; but the backup then takes the next epoch and goes live, and the
# restarted host must follow that epoch, never take the guest back over it: exactly one host
# serves, nothing lost.
ft_stop_pair load
ft_round 2
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 900 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 120
ft_sleep_ms "$(ft_random_ms 500 2000)"
ft_partition_replication
primary_killed=$(date +%s%N)
ft_kill primary KILL
mv "$FT_RUN/primary.out" "$FT_RUN/primary-first.out"
ft_start_primary --listen "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT"
ft_wait_for 20 ft_out_has primary "starting again as the backup of that log" || { ft_show primary; ft_fail "round 2: the restarted primary did not start again as the backup of its log"; }
ft_wait_for 20 ft_out_has backup "live at step" || { ft_show backup; ft_show primary; ft_fail "round 2: the backup did not take over"; }
ft_note "round 2: backup $(grep -o "live at step.*" "$FT_RUN/backup.out" | head -n 1 | cut -c1-120)"
# Past the restarted host's grace (ten --dead-ms): it would have taken the guest back by now.
sleep $(( ${FT_DEAD_MS:-150} * 10 / 1000 + 5 ))
ft_heal_replication
! ft_out_has primary "live at step" || { ft_show primary; ft_fail "round 2: the restarted host took the guest back over the backup's epoch"; }
serving=$(ft_serving $(( primary_killed / 1000000 + 2000 )))
[ "$serving" = b ] || ft_fail "round 2: after the restart the guest was served by '${serving:-nobody}', want the backup only"
touch "$FT_RUN/stop"
ft_judge_clients load "$primary_killed" || exit 1
echo "a primary restarted over its own log refused a new guest; with --listen it took the guest back from that log, nothing lost; restarted before its backup took over, it left the guest to the backup"
