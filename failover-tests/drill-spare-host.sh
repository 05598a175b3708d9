#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: a spare host replaces a dead one. Two rounds under load from FT_CLIENTS ftkv clients
# (default 4), each:
#   1. SIGKILL the primary (host p, gone for good): the backup (host b) takes the guest over and
#      runs alone;
#   2. a third host s starts 'ftvm backup' with an empty log and a certificate from 'ftvm certs
#      add', and 'ftvm protect' gives it to b's primary: s gets a checkpoint of b's and the whole
#      log from b's log file, replays it from the checkpoint, and the guest is protected again, with
#      host p still dead. Round 1: both daemons checkpoint every 2 s, and s gets b's last one.
#      Round 2: the default interval (60 s), so b has none recent and takes one for s first;
#   3. round 1: SIGKILL b: s goes live on its own TAP. Round 2: 'ftvm promote' on b, so that s is
#      the primary and b its backup (b dials s at the address 'ftvm protect' gave), then SIGKILL s:
#      b goes live again.
# Judged from the clients' side over the whole round: every client keeps its TCP connection,
# operations complete after the last kill, the history (with a final read of every key) is
# linearizable, so nothing acknowledged was lost across any of it. Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
FT_CLIENTS=${FT_CLIENTS:-4}
PRIMARY_OPTS=${FT_PRIMARY_OPTS:-}
BACKUP_OPTS=${FT_BACKUP_OPTS:-}
SPARE_B_IP=10.62.0.1	# host b's end of its replication link to the spare
SPARE_IP=10.62.0.2
ft_topology
ft_ns s
ft_host_tap s
ft_veth b rbs s rs
ip -n "$(ft_ns_name b)" addr add "$SPARE_B_IP/24" dev rbs
ip -n "$(ft_ns_name s)" addr add "$SPARE_IP/24" dev rs
# s reaches b's replication address (where b listens as the backup) through b's end of their link
ip -n "$(ft_ns_name s)" route add "${FT_BACKUP_REPL_IP%.*}.0/24" via "$SPARE_B_IP"
FT_CERTS=$FT_TMP/certs
ft_certs "$FT_CERTS" primary,backup
# the spare's certificate, from the pair's CA, made after the pair's
"$FTVM" certs add "$FT_CERTS" --hosts spare >"$FT_TMP/certs-add.out" 2>&1 ||
	{ cat "$FT_TMP/certs-add.out"; ft_fail "ftvm certs add failed"; }
lives() { grep -c "live at step" "$FT_RUN/$1.out" 2>/dev/null; }
role_is() {	# role_is NAME ROLE [protected]: NAME's daemon reports ROLE (and, with protected, protected)
	ft_status "$1" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
sys.exit(0 if s.get("role") == sys.argv[1] and (len(sys.argv) < 3 or s.get("protected") is True) else 1)' "${@:2}"
}
answered_since() {	# answered_since N: within 30 s, a client is answered after the first N operations
	since_ops=$1
	ft_wait_for 30 eval '[ "$(ft_ops_done load)" -gt "$since_ops" ]'
}

for round in 1 2; do
	ft_round "$round"
	every=""
	[ "$round" = 1 ] && every="--checkpoint-s 2"
	FT_PRIMARY_OPTS="$every $PRIMARY_OPTS" FT_BACKUP_OPTS="$every $BACKUP_OPTS"
	ft_pair_up 120
	ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30
	ft_sleep_ms "$(ft_random_ms 500 2500)"

	# 1. host p dies for good
	at=$(date +%s%N)
	ft_kill primary KILL
	ft_wait_for 15 ft_out_has backup "live at step" || { ft_show backup; ft_fail "round $round: the backup did not go live"; }
	answered_since "$(ft_ops_done load)" || { ft_show backup; ft_fail "round $round: no client was answered after host b went live"; }
	ft_note "round $round: host p SIGKILLed; host b answered clients again within $(( ($(date +%s%N) - at) / 1000000 )) ms, alone"

	# 2. the spare: an empty log; its other-role address is b's
	ft_bg spare s "$FTVM" backup --listen "$SPARE_IP:$FT_REPL_PORT" --name spare --peer-name backup \
		--certs "$FT_CERTS" --arbiter "$(ft_arbiter_spec)" --log "$FT_RUN/spare.ftlog" --net tap:tap0 \
		--control "$FT_RUN/spare.sock" --peer "$FT_BACKUP_REPL_IP:$FT_REPL_PORT" \
		--kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --append "$(ft_append)" $(ft_timing_opts)
	ft_wait_for 30 ft_out_has spare "listening on" || { ft_show spare; ft_fail "round $round: the spare did not listen"; }
	# round 1: b's log has a checkpoint beside it (from b as the backup, or as the primary since)
	[ "$round" = 2 ] || ft_wait_for 30 ft_out_has backup "checkpoint at step [0-9]+ saved" ||
		{ ft_show backup; ft_fail "round $round: host b saved no checkpoint within 30 s (every 2 s asked)"; }
	"$FTVM" protect --control "$FT_RUN/spare.sock" --backup "$SPARE_IP:$FT_REPL_PORT" --backup-name spare \
		>"$FT_TMP/refused.out" 2>&1 && ft_fail "round $round: the spare, a backup, took 'ftvm protect'"
	grep -q "refused" "$FT_TMP/refused.out" || { cat "$FT_TMP/refused.out"; ft_fail "the backup's refusal says no reason"; }
	t0=$(date +%s%N)
	ft_wait_for 15 eval '"$FTVM" protect --control "$FT_RUN/backup.sock" --backup "$SPARE_IP:$FT_REPL_PORT" --backup-name spare >"$FT_TMP/protect.out" 2>&1' ||
		{ cat "$FT_TMP/protect.out"; ft_show backup; ft_fail "round $round: host b's primary did not take the spare"; }
	ft_note "round $round: ftvm protect: $(cat "$FT_TMP/protect.out")"
	ft_wait_for 180 ft_protected backup ||
		{ ft_show backup; ft_show spare; ft_fail "round $round: the spare did not protect the guest within 180 s"; }
	ft_out_has spare "the replay starts from the primary's checkpoint at step [0-9]+" ||
		{ ft_show backup; ft_show spare; ft_fail "round $round: the spare did not replay from host b's checkpoint"; }
	[ "$round" = 1 ] || ft_out_has backup "taking (a fresh )?one for it first" ||
		{ ft_show backup; ft_fail "round 2: host b, its last checkpoint 60 s apart, took none for the spare"; }
	ft_note "round $round: protected again by the spare $(( ($(date +%s%N) - t0) / 1000000 )) ms after 'ftvm protect' ($(grep -a -o -E "sending it the checkpoint \([0-9]+ bytes\)" "$FT_RUN/backup.out" | tail -n 1); the spare: $(grep -a -o -E "the replay starts from the primary's checkpoint at step [0-9]+" "$FT_RUN/spare.out")); host p still dead"
	"$FTVM" protect --control "$FT_RUN/backup.sock" --backup "$SPARE_IP:$FT_REPL_PORT" --backup-name spare \
		>"$FT_TMP/again.out" 2>&1 && ft_fail "round $round: a primary that a backup follows took 'ftvm protect'"
	ft_note "round $round: asked again while protected: $(cat "$FT_TMP/again.out")"
	ft_sleep_ms "$(ft_random_ms 500 2500)"

	if [ "$round" = 1 ]; then
		# 3. host b dies: the spare takes over
		survivor=spare host=s
		frames=$(ft_tap_frames s)
		at=$(date +%s%N)
		ft_kill backup KILL
	else
		# 3. b hands the guest to the spare, follows it as its backup, and takes it back when it dies
		survivor=backup host=b
		"$FTVM" promote --control "$FT_RUN/backup.sock" >"$FT_TMP/promote.out" 2>&1 ||
			{ cat "$FT_TMP/promote.out"; ft_show backup; ft_fail "round 2: ftvm promote on host b was refused"; }
		ft_wait_for 60 role_is spare primary protected ||
			{ ft_show backup; ft_show spare; ft_fail "round 2: the spare, promoted, was not a primary protected by host b"; }
		role_is backup backup || { ft_show backup; ft_fail "round 2: host b is not the spare's backup after ftvm promote"; }
		ft_note "round 2: after ftvm promote the spare is the primary, protected by host b: $(ft_status spare | tr -d '\n' | cut -c1-160)"
		ft_sleep_ms "$(ft_random_ms 500 2500)"
		lived=$(lives backup)
		frames=$(ft_tap_frames b)
		at=$(date +%s%N)
		ft_kill spare KILL
		ft_wait_for 15 eval '[ "$(lives backup)" -gt "$lived" ]' || { ft_show backup; ft_fail "round 2: host b did not go live again"; }
		# the switchover's new command line kept the backup 'ftvm protect' gave, not host p's
		peer=$(ft_status backup | python3 -c 'import json, sys; print(json.load(sys.stdin).get("peer"))' 2>/dev/null)
		[ "$peer" = "$SPARE_IP:$FT_REPL_PORT" ] || { ft_show backup; ft_fail "round 2: host b, live again, dials '$peer' for a backup, want the spare's $SPARE_IP:$FT_REPL_PORT"; }
	fi
	ft_wait_for 15 ft_out_has "$survivor" "live at step" || { ft_show "$survivor"; ft_fail "round $round: $survivor did not go live"; }
	answered_since "$(ft_ops_done load)" || { ft_show "$survivor"; ft_fail "round $round: no client was answered after $survivor went live"; }
	sleep 1
	touch "$FT_RUN/stop"
	ft_judge_clients load "$at" || exit 1
	[ "$(ft_tap_frames "$host")" -gt "$frames" ] || ft_fail "round $round: host $host's TAP carried nothing after it went live"
	ft_alive "$survivor" || { ft_show "$survivor"; ft_fail "round $round: $survivor exited after going live"; }
	ft_note "round $round: passed; $survivor status: $(ft_status "$survivor" | tr -d '\n' | cut -c1-300)"
	ft_stop_pair load spare
done
echo "a spare host replaced the dead primary's host twice: protected again, then took over (round 1) or was promoted and lost (round 2); nothing acknowledged lost, connections kept, histories linearizable"
