#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 8, bounded logs): both daemons checkpoint every second and trim their logs to their
# checkpoints, under load from FT_CLIENTS ftkv clients. Both logs must come to hold far less on disk
# than they span. Then SIGKILL the backup and keep it away until the primary has trimmed its log
# past what the backup held: restarted, the backup cannot be sent the chunks it lacks, so it must
# take the primary's checkpoint and start a trimmed log at the primary's first chunk. While it
# catches up, cut the replication link until the primary trimmed past it again: once healed, the
# primary tells it so and it stops; started again, it takes a checkpoint again. The pair must be
# protected again, and the backup's new log is trimmed in turn. Then SIGKILL the primary: the backup
# takes over from that log with nothing lost (same connections, every acknowledged write there, a
# linearizable history).
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
FT_CLIENTS=${FT_CLIENTS:-4}
FT_PRIMARY_OPTS="--checkpoint-s 1 ${FT_PRIMARY_OPTS:-}"
FT_BACKUP_OPTS="--checkpoint-s 1 ${FT_BACKUP_OPTS:-}"
echo "seed $FT_SEED, $FT_CLIENTS clients, both daemons checkpoint every second"
ft_topology
ft_round 1
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 900 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30

# on_disk ROLE / spans ROLE: the bytes ROLE's log takes on disk, and the bytes it spans.
on_disk() { echo $(( $(stat -c %b "$FT_RUN/$1.ftlog") * $(stat -c %B "$FT_RUN/$1.ftlog") )); }
spans() { stat -c %s "$FT_RUN/$1.ftlog"; }
# trimmed ROLE: its log spans at least 1 MiB, and less than a third of it is on disk.
trimmed() { local s; s=$(spans "$1"); [ "$s" -ge 1048576 ] && [ $(( $(on_disk "$1") * 3 )) -lt "$s" ]; }
figures() { echo "$1's log spans $(spans "$1") bytes, $(on_disk "$1") on disk"; }
saved() { grep -a -c "$1: checkpoint at step [0-9]* saved" "$FT_RUN/$1.out"; }
saved_since() { [ "$(saved primary)" -ge "$1" ]; }
losses() { grep -a -c "the returning backup was lost before it caught up" "$FT_RUN/primary.out"; }

for role in primary backup; do
	ft_wait_for 120 trimmed "$role" || {
		ft_show "$role"; ft_fail "$(figures "$role") after 120 s of checkpoints every second: not trimmed"
	}
	ft_note "$(figures "$role")"
done
first_kill=$(date +%s%N)
ft_kill backup KILL
mv "$FT_RUN/backup.out" "$FT_RUN/backup-first.out"
held=$(spans backup)
ft_note "backup SIGKILLed; its log spanned $held bytes"
# Two checkpoints saved after the kill: the second was taken after the backup was gone, and the
# primary trimmed its log to it, past the last chunk the backup held.
ft_wait_for 120 saved_since $(($(saved primary) + 2)) ||
	{ ft_show primary; ft_fail "the primary saved no two checkpoints within 120 s of the backup's kill"; }
ft_note "the primary saved two checkpoints since; $(figures primary)"
ft_start_backup
ft_wait_for 60 ft_out_has backup "the primary's log starts at item [0-9]+ \(it was trimmed\)" || {
	ft_show backup; grep -a "^ftvm" "$FT_RUN/primary.out" | tail -n 8
	ft_fail "the restarted backup did not start a trimmed log from the primary's checkpoint"
}
ft_out_has backup "received the primary's checkpoint" || { ft_show backup; ft_fail "the backup got no checkpoint"; }
ft_note "$(grep -a -o -E "the primary's log starts at item [0-9]+.*" "$FT_RUN/backup.out" | head -n 1)"
# Cut the replication link while it catches up (its replay has begun: it takes no checkpoint now)
# until the primary trimmed past it again: told so when the link heals, it stops (exit 1, which a
# unit restarts), and started again it takes the primary's checkpoint once more.
if ft_protected primary; then
	ft_note "the backup protected the guest before the link could be cut while it caught up: not cut"
else
	lost=$(losses)
	ft_partition_replication
	ft_note "replication link cut while the backup catches up"
	# While it serves the backup it holds off its trims: count its checkpoints once it let go.
	ft_wait_for 30 eval '[ "$(losses)" -gt "$lost" ]' ||
		{ ft_show primary; ft_fail "the primary did not notice the cut within 30 s"; }
	ft_wait_for 120 saved_since $(($(saved primary) + 2)) ||
		{ ft_show primary; ft_fail "the primary saved no two checkpoints within 120 s of the cut"; }
	ft_heal_replication
	rc=0
	ft_wait backup 60 || rc=$?
	[ "$rc" = 1 ] && ft_out_has backup "trimmed past this backup's.*stopping" ||
		{ ft_show backup; ft_fail "the backup behind the trim, its replay begun, did not stop as told (exit $rc)"; }
	ft_note "the link healed, the primary's log was trimmed past the backup's: it stopped, as told (exit 1)"
	mv "$FT_RUN/backup.out" "$FT_RUN/backup-cut.out"
	ft_start_backup
	ft_wait_for 60 ft_out_has backup "the primary's log starts at item [0-9]+ \(it was trimmed\)" ||
		{ ft_show backup; ft_fail "the backup started again did not take the primary's checkpoint and trimmed log"; }
	ft_note "started again: $(grep -a -o -E "the primary's log starts at item [0-9]+" "$FT_RUN/backup.out" | head -n 1)"
fi
ft_wait_for 120 ft_protected primary || {
	ft_show backup; grep -a "^ftvm" "$FT_RUN/primary.out" | tail -n 8
	ft_fail "the backup that started a trimmed log did not make the pair protected again within 120 s"
}
ft_note "protected again; $(figures backup)"
ft_wait_for 120 trimmed backup || { ft_show backup; ft_fail "$(figures backup): its new log was not trimmed in turn"; }
ft_note "the backup's new log was trimmed in turn: $(figures backup)"

ft_fail_over_to_backup
ft_note "$(grep -a -o -E "live at step [0-9]+.*" "$FT_RUN/backup.out" | head -n 1 | cut -c1-160)"
touch "$FT_RUN/stop"
ft_judge_clients load "$first_kill" || exit 1
python3 "$FT_DIR/histstats.py" "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "$primary_killed" ||
	ft_fail "no client operation completed after the primary was killed"
echo "both logs trimmed to their checkpoints under load; the backup, away while the primary trimmed past it, took the primary's checkpoint and a trimmed log, then took over: the clients kept their connections and lost nothing"
