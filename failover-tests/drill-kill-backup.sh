#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: SIGKILL the backup under load from FT_CLIENTS ftkv clients: the primary carries on and the
# clients see nothing (same connections, operations completing, a linearizable history).
# With FT_RESTART=1 (drill-backup-returns.sh), then restart the backup on its own log: once the
# primary reports the pair protected again, SIGKILL the primary: the restarted backup must take
# over with nothing lost, which shows from the clients' side that it had caught up.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
FT_CLIENTS=${FT_CLIENTS:-4}
echo "seed $FT_SEED, $FT_CLIENTS clients"
ft_topology
ft_round 1
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30

kill_after_ms=$(ft_random_ms 300 4000)
ft_sleep_ms "$kill_after_ms"
backup_killed=$(date +%s%N)
ft_kill backup KILL
ft_note "backup SIGKILLed ${kill_after_ms} ms into the load"
sleep 4
ft_alive primary || { ft_show primary; ft_fail "the primary died after the backup was killed"; }
serving=$(ft_serving $(( backup_killed / 1000000 )))
[ "$serving" = p ] || ft_fail "after the backup died the guest was served by '${serving:-nobody}', want the primary"
ft_note "primary carries on; status: $(ft_status primary | tr -d '\n' | cut -c1-300)"

if [ "${FT_RESTART:-0}" = 1 ]; then
	mv "$FT_RUN/backup.out" "$FT_RUN/backup-first.out"
	log_bytes=$(stat -c %s "$FT_RUN/backup.ftlog" 2>/dev/null || echo none)
	ft_start_backup
	sleep 1
	ft_note "the backup's log held $log_bytes bytes when it was killed, $(stat -c %s "$FT_RUN/backup.ftlog" 2>/dev/null || echo none) a second after the restart"
	ft_wait_for 90 ft_protected primary || {
		ft_show backup; grep "^ftvm" "$FT_RUN/primary.out" | tail -n 5
		ft_note "primary status: $(ft_status primary | cut -c1-300)"
		ft_fail "the restarted backup did not make the pair protected again within 90 s"
	}
	ft_note "protected again; status: $(ft_status primary | tr -d '\n' | cut -c1-300)"
	ft_fail_over_to_backup
fi
touch "$FT_RUN/stop"
ft_judge_clients load "$backup_killed" || exit 1
if [ "${FT_RESTART:-0}" = 1 ]; then
	python3 "$FT_DIR/histstats.py" "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "$primary_killed" ||
		ft_fail "no client operation completed after the primary was killed"
fi
echo "backup killed under load$([ "${FT_RESTART:-0}" = 1 ] && echo ", restarted, then the primary killed"): the clients kept their connections and lost nothing"
