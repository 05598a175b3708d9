#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: the guest survives failover after failover. Each daemon knows the other role's address
# (--listen on the primary, --peer on the backup), as the units in docs/deploy.md run them.
#   1. Under load, SIGKILL the primary: the backup takes the guest over and goes on as the
#      primary ("primary (took over)"), recording on into its own log.
#   2. After the first failover, SIGKILL the host that took over too, while it runs alone, and
#      start its daemon again: its log alone holds the guest's history, so after its grace it
#      must take the guest back from that log.
#   3. Start the dead host's daemon again with its own command line, as its unit would: the other
#      host owns the epoch, so it starts again as that host's backup; it is served the log and the
#      pair reports itself protected again.
#   4. Stop the host that serves (SIGTERM, as its unit would); then, the third time, cut the
#      replication link silently and SIGKILL the serving host 300 ms later: its log now holds chunks
#      the other never received, and when it comes back it must keep only the items it shares with
#      the other's log (not replay the whole log from step 0). FT_FAILOVERS failovers in all
#      (default 3).
#   Both daemons checkpoint every 2 s: a host that comes back replays from its own checkpoint, which
#   the first one made while it was the primary.
#   5. Last, `ftvm promote` the primary that took over: the pair swaps roles at a step, which needs
#      the log it recorded on to name the same places as its backup's replay of it.
# After each failover exactly the surviving host serves; at the end the clients must have kept
# their connections and lost nothing, with a linearizable history.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
ft_require_nft
FT_CLIENTS=${FT_CLIENTS:-3}
FT_FAILOVERS=${FT_FAILOVERS:-3}
echo "seed $FT_SEED, $FT_CLIENTS clients, $FT_FAILOVERS failovers"
ft_topology
ft_round 1
# Checkpoints every 2 s, so a host that comes back replays from its own (the primary's too).
FT_OTHER_ROLE=1	# each daemon gets the other role's address, as the units run them (lib.sh)
ft_start_backup --checkpoint-s 2
sleep 0.2
ft_start_primary --checkpoint-s 2
ft_wait_kv 120 || { ft_show backup; ft_show primary; ft_fail "the pair did not serve ftkv within 120 s"; }
ft_wait_for 30 ft_protected primary || { ft_show backup; ft_show primary; ft_fail "the pair is not protected"; }
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 1800 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 120

# role_of NAME: the role field of a daemon's status ("" while it does not answer).
role_of() {
	ft_status "$1" | python3 -c '
import json, sys
try:
    print(json.load(sys.stdin).get("role", ""))
except ValueError:
    print("")'
}

# start NAME: start daemon NAME again with its own command line, as its unit would.
start() {
	if [ "$1" = primary ]; then ft_start_primary --checkpoint-s 2; else ft_start_backup --checkpoint-s 2; fi
}
# took_over NAME N: daemon NAME took the guest over (failover N), and its host alone serves.
took_over() {
	local host role who
	ft_wait_for 60 ft_out_has "$1" "took the guest over: live at step" || { ft_show "$1"; ft_fail "failover $2: $1 did not take the guest over"; }
	ft_note "failover $2: $(grep -a -o "live at step.*" "$FT_RUN/$1.out" | tail -n 1 | cut -c1-160)"
	live=$(ft_now_ms)
	host=$([ "$1" = primary ] && echo p || echo b)
	# After a long outage the clients' retransmissions have backed off: give them time to arrive.
	ft_wait_for 20 eval '[ "$(ft_serving "$live")" = "$host" ]' ||
		ft_fail "failover $2: the guest was served by '$(ft_serving "$live")', want host $host"
	role=$(role_of "$1")
	[ "$role" = "primary (took over)" ] || ft_fail "failover $2: $1 says role '$role', want 'primary (took over)'"
}

# The daemons keep their names across roles: "primary" runs on host p, "backup" on host b.
serving=primary standby=backup
first_kill=
for n in $(seq 1 "$FT_FAILOVERS"); do
	# The first kill comes after the primary's first checkpoint (2 s), most times.
	ft_sleep_ms "$(if [ "$n" = 1 ]; then ft_random_ms 2500 4500; else ft_random_ms 1000 4000; fi)"
	killed=$(date +%s%N)
	[ -n "$first_kill" ] || first_kill=$killed
	# The second failover is a daemon stopped as its unit stops it: its guest has not ended.
	sig=$([ "$n" = 2 ] && echo TERM || echo KILL)
	cut=$([ "$n" = 3 ] && echo 1 || echo 0)
	if [ "$cut" = 1 ]; then
		ft_partition_replication
		ft_sleep_ms 300
	fi
	ft_kill "$serving" "$sig"
	ft_note "failover $n: SIG$sig to the daemon that served ($serving)$([ "$cut" = 1 ] && echo ", 300 ms after the replication link was cut")"
	[ "$sig" = KILL ] || { ft_wait "$serving" 30; ft_note "failover $n: $serving exited $?"; }
	took_over "$standby" "$n"
	[ "$cut" = 0 ] || ft_heal_replication
	if [ "$n" = 1 ]; then
		ft_sleep_ms "$(ft_random_ms 500 2000)"
		ft_kill "$standby" KILL
		mv "$FT_RUN/$standby.out" "$FT_RUN/$standby-alone.out"
		ft_note "failover $n: SIGKILLed $standby too, while it ran alone; starting it again"
		start "$standby"
		took_over "$standby" "$n (taken back from its own log)"
	fi

	# The dead host comes back with its own command line and must protect the guest again.
	mv "$FT_RUN/$serving.out" "$FT_RUN/$serving-$n.out"
	restarted=$(date +%s%N)
	start "$serving"
	ft_wait_for 300 ft_protected "$standby" || {
		ft_show "$serving"; ft_show "$standby" 12
		ft_fail "failover $n: the restarted $serving did not make the guest protected again within 300 s"; }
	ft_note "failover $n: protected again $(( ($(date +%s%N) - restarted) / 1000000 )) ms after $serving restarted; status: $(ft_status "$standby" | tr -d '\n' | cut -c1-240)"
	from=$(grep -a -o -E "the replay starts from the checkpoint at step [0-9]+|checkpoint .* not used \([^)]*\)" "$FT_RUN/$serving.out" | head -n 1)
	ft_note "failover $n: the restarted $serving: ${from:-replayed from step 0}"
	# Host p checkpointed as the primary before the first kill: when its log was continued (not set
	# aside for the other's), it must have replayed from its checkpoint.
	if [ "$n" = 1 ] && ft_out_has primary-1 "primary: checkpoint at step [0-9]+ saved" &&
		ft_out_has "$serving" "resumed from item" && ! grep -q "starts from the checkpoint" <<<"$from"; then
		ft_fail "failover 1: the primary that came back did not replay from the checkpoint it made as the primary"
	fi
	if [ "$cut" = 1 ]; then
		kept=$(grep -a -o "its first [0-9]* items.*are the primary's too, the [0-9]* after them are not" "$FT_RUN/$serving.out" | head -n 1)
		[ -n "$kept" ] || { ft_show "$serving" 20
			ft_fail "failover $n: the host whose log went on past the other's did not keep the items they share"; }
		ft_note "failover $n: the restarted $serving: $kept"
	fi
	tmp=$serving serving=$standby standby=$tmp
done

# switched NEW OLD: daemon NEW is the protected primary, OLD its backup.
switched() { [ "$(role_of "$1")" = primary ] && ft_protected "$1" && [ "$(role_of "$2")" = backup ]; }
out=$(ft_in "$([ "$serving" = primary ] && echo p || echo b)" timeout 30 "$FTVM" promote --control "$FT_RUN/$serving.sock" 2>&1)
[ "${out#ok}" != "$out" ] || ft_fail "promote of the primary that took over was not accepted: '$out'"
ft_wait_for 120 switched "$standby" "$serving" || {
	ft_show "$serving" 12; ft_show "$standby" 12
	ft_fail "after promote ('$out') $standby is not the protected primary with $serving its backup within 120 s"; }
ft_note "promote: $out; $standby is the protected primary, $serving its backup"
sleep 2
touch "$FT_RUN/stop"
ft_judge_clients load "$first_kill" || exit 1
ft_logs_sound "$FT_RUN/primary.ftlog" "$FT_RUN/backup.ftlog" || ft_fail "after the failovers a log is damaged"
python3 "$FT_DIR/histstats.py" "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "$killed" ||
	ft_fail "no client operation completed after the last failover"
echo "$FT_FAILOVERS failovers under load, each dead host back as the backup, then a switchover: the clients kept their connections and lost nothing"
