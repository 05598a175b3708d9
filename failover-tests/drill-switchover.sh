#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 8, planned switchover): under load from FT_CLIENTS ftkv clients (default 4), swap the
# pair's roles with `ftvm promote` FT_SWITCHES times (default 10), back and forth between hosts p
# and b, one pair and one load for the whole drill.  Each daemon keeps its pid and its control
# socket across the re-execution, so the daemons are tracked by host: the one started as the primary
# on p answers on primary.sock, as the backup after an odd number of switchovers.  After each
# switchover, within FT_SWITCH_TIMEOUT s (60): the other host reports role "primary" and protected,
# the old primary reports role "backup", with a newer epoch; both pids still run; only the new
# primary's TAP carries the guest.  At the end the clients must have kept their connections, and
# their history (with a final read of every key) must be linearizable: no acknowledged write lost.
# Promote must also be refused (nonzero exit, "refused") by a primary waiting for its backup,
# by the backup, a second time while a switchover is under way (nonzero), and by a primary whose
# backup was killed.  Prints the time from promote to protected and the clients' gap, p50 and max.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
"$FTVM" promote --help >/dev/null 2>&1 || ft_skip "'ftvm promote' does not exist yet ($FTVM promote --help fails)"
FT_SWITCHES=${FT_SWITCHES:-10}
FT_CLIENTS=${FT_CLIENTS:-4}
FT_SWITCH_TIMEOUT=${FT_SWITCH_TIMEOUT:-60}
echo "seed $FT_SEED, $FT_SWITCHES switchovers, $FT_CLIENTS clients"

# The daemon on each host, by its ft_bg name (and control socket $FT_RUN/NAME.sock).
daemon() { if [ "$1" = p ]; then echo primary; else echo backup; fi; }
other() { if [ "$1" = p ]; then echo b; else echo p; fi; }

# host_status HOST: "role<TAB>protected<TAB>epoch<TAB>steps" from the host's daemon, or nothing when it
# does not answer (its socket is briefly absent while it re-executes).
host_status() {
	ft_status "$(daemon "$1")" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
print("%s\t%s\t%s\t%s" % (s.get("role"), str(s.get("protected")).lower(), s.get("epoch"), s.get("steps")))' 2>/dev/null
}
answers() { [ -n "$(host_status "$1")" ]; }
unprotected() { ! ft_protected "$(daemon "$1")"; }
frames_since() { [ -n "$(ft_serving "$1")" ]; }
# field HOST N: field N (1 role, 2 protected, 3 epoch, 4 steps) of host_status.
field() { host_status "$1" | cut -f "$2"; }

# switched NEW OLD: NEW is the protected primary and OLD its backup.
switched() {
	local role prot rest
	IFS=$'\t' read -r role prot rest < <(host_status "$1")
	[ "$role" = primary ] && [ "$prot" = true ] || return 1
	IFS=$'\t' read -r role rest < <(host_status "$2")
	[ "$role" = backup ]
}

# switched_or_dead NEW OLD: switched, or a daemon has exited (no point waiting longer).
switched_or_dead() { switched "$1" "$2" || ! ft_alive primary || ! ft_alive backup; }

# promote HOST: `ftvm promote` against HOST's daemon; its one line in $promote_out, exit in $promote_rc.
promote() {
	promote_out=$(ft_in "$1" timeout 30 "$FTVM" promote --control "$FT_RUN/$(daemon "$1").sock" 2>&1)
	promote_rc=$?
}
# refused HOST WHY: promote against HOST must exit nonzero saying "refused".
refused() {
	ft_alive "$(daemon "$1")" || { show_both; ft_fail "host $1's daemon exited before promote ($2) was sent to it"; }
	promote "$1"
	if [ "$promote_rc" -eq 0 ] || ! grep -q "refused" <<<"$promote_out"; then
		show_both
		ft_fail "promote to host $1's daemon ($2) was not refused: exit $promote_rc, '$promote_out'"
	fi
	ft_note "promote to host $1 ($2) refused as it must be (exit $promote_rc): $promote_out"
}
show_both() {
	local h
	for h in p b; do
		echo "--- host $h's daemon, pid $(ft_pid "$(daemon "$h")") ($(ft_alive "$(daemon "$h")" && echo running || echo exited)): last lines from ftvm and the guest's init"
		grep -a -E "^(ftvm|domT|reboot)" "$FT_RUN/$(daemon "$h").out" | tail -n 20
	done
	ft_note "host p: $(ft_status primary | tr -d '\n' | cut -c1-300)"
	ft_note "host b: $(ft_status backup | tr -d '\n' | cut -c1-300)"
}
both_alive() {
	local h
	for h in p b; do
		ft_alive "$(daemon "$h")" || { show_both; ft_fail "$1: host $h's daemon (pid $(ft_pid "$(daemon "$h")")) exited"; }
	done
}
# pct LIST P: the P-th percentile (nearest rank) of whole numbers.
pct() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk -v p="$2" '{ v[NR] = $1 } END { i = int((NR * p + 99) / 100); if (i < 1) i = 1; print v[i] }'; }

ft_topology
ft_round 1
# Each daemon also gets the address it needs in the other role: p listens there once it is the
# backup, b dials p there once it is the primary.
primary_opts=(--listen "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT")
backup_opts=(--peer "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT")

# The primary first, alone: it waits for its backup, unprotected, and must refuse to switch over.
ft_start_primary "${primary_opts[@]}"
ft_wait_for 30 answers p || { ft_show primary; ft_fail "the primary's control socket did not answer within 30 s"; }
refused p "a primary still waiting for its backup"
ft_start_backup "${backup_opts[@]}"
ft_wait_kv 120 || { ft_show backup; ft_show primary; ft_fail "the pair did not serve ftkv within 120 s"; }
ft_wait_for 30 switched p b || { show_both; ft_fail "the pair serves but is not protected within 30 s"; }
both_alive "after starting"
pid_p=$(ft_pid primary) pid_b=$(ft_pid backup)
ft_note "pair protected: host p pid $pid_p ($(field p 1)), host b pid $pid_b ($(field b 1))"

ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 900 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 60
sleep 2
refused b "the backup"

cur=p	# the host whose daemon is the primary now
first_switch=
switch_ms=()
switch_at=()
for i in $(seq 1 "$FT_SWITCHES"); do
	new=$(other "$cur")
	ft_sleep_ms "$(ft_random_ms 1000 3000)"
	ft_alive load || { ft_show load; ft_fail "switchover $i: the clients stopped before it"; }
	IFS=$'\t' read -r _ _ epoch_before steps_before < <(host_status "$cur")
	at=$(date +%s%N)
	promote "$cur"
	if [ "$promote_rc" -ne 0 ] || [ "${promote_out#ok}" = "$promote_out" ]; then
		show_both; ft_fail "switchover $i ($cur->$new): promote was not accepted: exit $promote_rc, '$promote_out'"
	fi
	first_switch=${first_switch:-$at}
	switch_at+=("$at")
	# A second promote while this one is under way must not start another.
	promote2_out=$(ft_in "$cur" timeout 30 "$FTVM" promote --control "$FT_RUN/$(daemon "$cur").sock" 2>&1)
	promote2_rc=$?
	[ "$promote2_rc" -ne 0 ] || { show_both; ft_fail "switchover $i: a second promote during the switchover was accepted: '$promote2_out'"; }
	if ! ft_wait_for "$FT_SWITCH_TIMEOUT" switched_or_dead "$new" "$cur" || ! switched "$new" "$cur"; then
		show_both
		ft_fail "switchover $i ($cur->$new): host $new is not the protected primary with host $cur its backup within $FT_SWITCH_TIMEOUT s of '$promote_out' (or a daemon exited, above)"
	fi
	done_ns=$(date +%s%N)
	ms=$(( (done_ns - at) / 1000000 ))
	switch_ms+=("$ms")
	both_alive "switchover $i"
	# Still the same processes, re-executed in their new roles.
	argv_p=$(tr '\0' ' ' <"/proc/$pid_p/cmdline" | cut -d' ' -f2) argv_b=$(tr '\0' ' ' <"/proc/$pid_b/cmdline" | cut -d' ' -f2)
	IFS=$'\t' read -r _ _ epoch_after steps_after < <(host_status "$new")
	# The new primary goes on from where the old one stopped: its guest is further, not restarted.
	[ -n "$steps_after" ] && [ -n "$steps_before" ] && [ "$steps_after" -gt "$steps_before" ] ||
		{ show_both; ft_fail "switchover $i: the new primary is at step '$steps_after', not past the old primary's '$steps_before' before promote"; }
	[ -n "$epoch_after" ] && [ -n "$epoch_before" ] && [ "$epoch_after" -gt "$epoch_before" ] ||
		{ show_both; ft_fail "switchover $i: the new primary's epoch '$epoch_after' is not newer than the old primary's '$epoch_before'"; }
	# Only the new primary's host may carry the guest from now on: wait until frames flow (the
	# clients' retransmissions may back off for a second or two after the pause), then judge.
	since=$(( done_ns / 1000000 ))
	ft_wait_for 15 frames_since "$since"
	sleep 0.5
	serving=$(ft_serving "$since")
	[ "$serving" = "$new" ] || { show_both; ft_fail "switchover $i ($cur->$new): afterwards the guest was served by '${serving:-nobody}', want host $new"; }
	ft_note "switchover $i $cur->$new: protected again $ms ms after promote ('$promote_out'), epoch $epoch_before->$epoch_after, step $steps_before->$steps_after, second promote refused (exit $promote2_rc: $promote2_out), host $new serves; pid $pid_p on p runs 'ftvm $argv_p', pid $pid_b on b 'ftvm $argv_b'"
	refused "$cur" "the new backup"
	cur=$new
done

touch "$FT_RUN/stop"
ft_judge_clients load "$first_switch" || exit 1
both_alive "after the load"
ft_tap_monitor_stop
# Every switchover, not only the first: operations completed after it.
i=0
for at in "${switch_at[@]}"; do
	i=$((i + 1))
	fig=$(python3 "$FT_DIR/histstats.py" "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "$at") ||
		ft_fail "no client operation completed after switchover $i ($fig)"
done
# The client-visible gap of each switchover: the longest stretch without a reply from any load
# client that ends after its promote and begins before the next one (histstats' window of 5 s
# after an event would reach into the next switchover).
read -r -a gaps < <(python3 - "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "${switch_at[@]}" <<'PY'
import json, sys
hist, summ, events = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]]
with open(summ) as f:
    t0 = json.loads(f.read().strip().splitlines()[-1])["start_unix_ns"]
with open(hist) as f:
    done = sorted(r["complete_ns"] for r in map(json.loads, f) if r["client"] != 10000 and r["complete_ns"] is not None)
bounds = [e - t0 for e in events] + [float("inf")]
out = []
for at, nxt in zip(bounds, bounds[1:]):
    g = [b - a for a, b in zip(done, done[1:]) if b > at and a < min(nxt, at + 5e9)]
    out.append(str(round(max(g) / 1e6)) if g else "none")
print(" ".join(out))
PY
)
# A primary whose backup is gone is not protected: promote must be refused, and it carries on.
ft_kill "$(daemon "$(other "$cur")")" KILL
ft_note "host $(other "$cur")'s daemon (the backup) SIGKILLed"
ft_wait_for 20 unprotected "$cur" || { show_both; ft_fail "host $cur still reports protected 20 s after its backup was killed"; }
refused "$cur" "a primary whose backup is gone"
ft_alive "$(daemon "$cur")" && [ "$(field "$cur" 1)" = primary ] ||
	{ show_both; ft_fail "host $cur's primary did not carry on after its backup was killed and promote was refused"; }

echo "switchover (promote to protected again), ms: p50 $(pct "${switch_ms[*]}" 50) max $(pct "${switch_ms[*]}" 100) (${switch_ms[*]})"
echo "client-visible gap at each switchover, ms: p50 $(pct "${gaps[*]}" 50) max $(pct "${gaps[*]}" 100) (${gaps[*]})"
echo "all $FT_SWITCHES switchovers passed: roles swapped with the same pids, only the new primary served, clients kept their connections and lost nothing"
