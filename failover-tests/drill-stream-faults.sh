#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: a damaged replication stream.  A relay of our own sits on the replication link and, under
# load from FT_CLIENTS ftkv clients, flips a bit in the stream, truncates it mid-record, sends bytes
# again that were already delivered, or resets the connection (FT_FAULTS, default all four; a fresh
# pair each).  Each must be refused or recovered from with a clear error and nothing lost: judged
# from the clients (connections kept, history linearizable) and the wire (exactly one host serves);
# if the pair survived, a SIGKILL of the primary then fails over with nothing lost, so whatever was
# resumed had no gap.  Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
FT_FAULTS=${FT_FAULTS:-corrupt truncate replay cut}
FT_CLIENTS=${FT_CLIENTS:-4}
errors='lost|dropp|refus|mac|eof|decrypt|closed|reset|error|fail'
echo "seed $FT_SEED, faults: $FT_FAULTS"
ft_topology

round=0
for fault in $FT_FAULTS; do
	round=$((round + 1))
	ft_round "$round"
	ft_relay_start
	ft_pair_up 120
	ft_tap_monitor
	ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30
	ft_sleep_ms "$(ft_random_ms 300 3000)"
	lines_p=$(wc -l <"$FT_RUN/primary.out") lines_b=$(wc -l <"$FT_RUN/backup.out")
	at=$(date +%s%N)
	ft_relay "$fault"
	ft_note "$fault: $(tail -n 1 "$FT_RUN/relay/log" | cut -d' ' -f2-)"
	grep "command $fault" "$FT_RUN/relay/log" | grep -q "(0 open" && ft_fail "$fault: the primary was not connected through the relay"
	sleep 3
	settled=$(ft_now_ms)
	sleep 3
	serving=$(ft_serving "$settled")
	case $serving in
	p|b) ;;
	*) ft_show primary; ft_show backup; ft_fail "$fault: afterwards '${serving:-nobody}' served, want exactly one side";;
	esac
	said=$( { tail -n +$((lines_p + 1)) "$FT_RUN/primary.out" | sed 's/^/primary: /'
		tail -n +$((lines_b + 1)) "$FT_RUN/backup.out" | sed 's/^/backup: /'; } | grep -i -E "$errors" | head -n 3)
	[ -n "$said" ] || { ft_show primary; ft_show backup; ft_fail "$fault: neither side reported the damaged stream"; }
	echo "$said"
	if [ "$serving" = p ] && ft_alive backup; then
		ft_note "$fault: the pair carried on; SIGKILL the primary to check the backup has everything"
		killed=$(date +%s%N)
		ft_kill primary KILL
		sleep 4
		[ "$(ft_serving $(( killed / 1000000 + 1000 )))" = b ] || { ft_show backup; ft_fail "$fault: the backup did not take over after the primary was killed"; }
	else
		ft_note "$fault: host $serving serves alone"
	fi
	touch "$FT_RUN/stop"
	ft_judge_clients load "$at" || exit 1
	ft_stop_pair load relay
	ft_tap_monitor_stop
	ft_note "$fault: passed"
done
echo "damaged streams ($FT_FAULTS) refused or recovered; the clients lost nothing"
