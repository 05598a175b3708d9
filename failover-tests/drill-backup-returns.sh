#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 8, a backup that returns): under load from FT_CLIENTS ftkv clients, SIGKILL the
# backup and restart it on its log file, three times: as it was left; on a log the primary never
# wrote (a short `ftvm record` of the same kernel), and again while it catches up from the start;
# on its own log with a few bytes cut off its end (a torn last chunk, which it must cut). On its
# own log the restarted backup must resume ("resumed from item N"; the bytes it received since the
# restart are well below the whole log); on the foreign one it must keep that log as LOG.old and
# start a fresh one. Each time the primary
# must report the pair protected again. Then SIGKILL the primary: the restarted backup takes over
# and the clients lost nothing (same connections, every acknowledged write there, a linearizable
# history). The backup saves a checkpoint every FT_CHECKPOINT_S seconds (default 3): before the
# first kill the drill waits for one, and the backup restarted on its intact log must replay from
# it, not from step 0 (the failover at the end then shows from the clients' side that it was right).
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
FT_CLIENTS=${FT_CLIENTS:-4}
FT_CHECKPOINT_S=${FT_CHECKPOINT_S:-3}
FT_BACKUP_OPTS="--checkpoint-s $FT_CHECKPOINT_S ${FT_BACKUP_OPTS:-}"
echo "seed $FT_SEED, $FT_CLIENTS clients, a checkpoint every $FT_CHECKPOINT_S s"
# A valid log of another run: same kernel and initrd, its own command line, no network.
"$FTVM" record --log "$FT_TMP/foreign.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none \
	--max-steps 5000000 >"$FT_TMP/foreign.out" 2>&1
[ -s "$FT_TMP/foreign.ftlog" ] || { cat "$FT_TMP/foreign.out"; ft_fail "cannot record the foreign log"; }
ft_topology
ft_round 1
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 900 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30

# json_field ROLE FIELD: one number from `ftvm status --json`.
json_field() {
	ft_status "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2" 2>/dev/null
}

first_kill=
for how in intact foreign torn; do
	ft_sleep_ms "$(ft_random_ms 1000 4000)"
	if [ "$how" = intact ]; then
		ft_wait_for 60 ft_out_has backup "checkpoint at step [0-9]+ saved" ||
			{ ft_show backup; ft_fail "the backup saved no checkpoint within 60 s (every $FT_CHECKPOINT_S s asked)"; }
		ft_note "$(grep -a -o -E "checkpoint at step [0-9]+ saved.*" "$FT_RUN/backup.out" | tail -n 1)"
	fi
	killed=$(date +%s%N)
	first_kill=${first_kill:-$killed}
	ft_kill backup KILL
	ft_note "backup SIGKILLed ($how round)"
	sleep 3
	ft_alive primary || { ft_show primary; ft_fail "the primary died after the backup was killed"; }
	serving=$(ft_serving $(( killed / 1000000 )))
	[ "$serving" = p ] || ft_fail "after the backup died the guest was served by '${serving:-nobody}', want the primary"
	mv "$FT_RUN/backup.out" "$FT_RUN/backup-before-$how.out"
	size=$(stat -c %s "$FT_RUN/backup.ftlog")
	if [ "$how" = torn ]; then
		# Fewer bytes than a chunk's header: the last chunk is always left torn.
		cut=$(ft_random_ms 1 39)
		truncate -s "-$cut" "$FT_RUN/backup.ftlog"
		ft_note "cut $cut bytes off the backup's log ($size bytes)"
		size=$((size - cut))
	elif [ "$how" = foreign ]; then
		cp "$FT_TMP/foreign.ftlog" "$FT_RUN/backup.ftlog"
		rm -f "$FT_RUN/backup.ftlog.old"
		size=$(stat -c %s "$FT_RUN/backup.ftlog")
	fi
	restarted=$(date +%s%N)
	ft_start_backup
	ft_wait_for 30 ft_out_has backup "resumed from item|starting a fresh log" || {
		ft_show backup; ft_fail "the restarted backup did not say how it resumed within 30 s"
	}
	if [ "$how" = intact ]; then
		ft_wait_for 30 ft_out_has backup "the replay starts from the checkpoint at step" || {
			ft_show backup; ft_fail "the backup restarted on its intact log did not replay from its checkpoint"
		}
	fi
	if [ "$how" = foreign ]; then
		ft_out_has backup "kept as .*backup.ftlog.old, starting a fresh log" &&
			cmp -s "$FT_TMP/foreign.ftlog" "$FT_RUN/backup.ftlog.old" ||
			{ ft_show backup; ft_fail "the backup did not set the foreign log aside as backup.ftlog.old"; }
		ft_out_has primary "must start fresh" || ft_fail "the primary did not refuse the foreign log"
		# Killed again while it catches up from the start: the next one resumes from what it got.
		ft_sleep_ms "$(ft_random_ms 1000 3000)"
		if ft_protected primary; then
			ft_note "the backup caught up with the whole log before it could be killed while catching up"
		else
			ft_kill backup KILL
			mv "$FT_RUN/backup.out" "$FT_RUN/backup-catching-up.out"
			size=$(stat -c %s "$FT_RUN/backup.ftlog")
			ft_note "backup SIGKILLed again while catching up, its fresh log at $size bytes"
			sleep 1
			ft_start_backup
			ft_wait_for 30 ft_out_has backup "resumed from item|starting a fresh log" || {
				ft_show backup; ft_fail "the backup restarted while catching up did not say how it resumed within 30 s"
			}
			ft_out_has backup "starting a fresh log" &&
				{ ft_show backup; ft_fail "the backup restarted while catching up did not resume from its log"; }
		fi
	else
		ft_out_has backup "starting a fresh log" && { ft_show backup; ft_fail "the restarted backup did not resume from its own log"; }
	fi
	if [ "$how" = torn ]; then
		ft_out_has backup "cut its last" || { ft_show backup; ft_fail "the backup did not cut its torn log"; }
	fi
	ft_note "$(grep -h -o -E "(cut its last|resumed from item|kept as).*" "$FT_RUN/backup.out" | tr '\n' ' ')"
	ft_wait_for 180 ft_protected primary || {
		ft_show backup; grep "^ftvm" "$FT_RUN/primary.out" | tail -n 5
		ft_note "primary status: $(ft_status primary | cut -c1-300)"
		ft_fail "the restarted backup did not make the pair protected again within 180 s"
	}
	# Had it been sent the whole log, it would have received about all of the primary's log.
	received=$(json_field backup log_bytes)
	whole=$(stat -c %s "$FT_RUN/primary.ftlog")
	ft_note "protected again $(( ($(date +%s%N) - restarted) / 1000000 )) ms after the restart ($(grep -a -o -E "the replay starts from the checkpoint at step [0-9]+|checkpoint .* not used \([^)]*\)" "$FT_RUN/backup.out" | head -n 1 || true)): the backup held $size bytes, received $received since its restart; the primary's log has $whole"
	[ -n "$received" ] && [ "$received" -lt $((whole - size / 2)) ] ||
		ft_fail "the backup received ${received:-?} bytes after its restart, not far below the whole log ($whole bytes, it held $size)"
done

ft_fail_over_to_backup
touch "$FT_RUN/stop"
ft_judge_clients load "$first_kill" || exit 1
python3 "$FT_DIR/histstats.py" "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "$primary_killed" ||
	ft_fail "no client operation completed after the primary was killed"
echo "backup killed under load and restarted three times (resumed on its own log, set a foreign log aside and resumed the fresh one after a kill while catching up, cut a torn one and resumed), then the primary killed: the clients kept their connections and lost nothing"
