#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 8, planned switchover whose new primary never reaches its backup): under load from
# FT_CLIENTS ftkv clients (default 4), new connections to host p's replication port are dropped
# silently (nftables; the pair's open connection, which host p dialled, carries on), then
# `ftvm promote` hands the guest from host p to host b.  Host b takes the epoch and starts again as
# the primary, but its dial to host p, now the backup, never arrives.  The new primary starts its
# guest only once a backup holds the log, so it has let nothing out: within its grace (ten
# --dead-ms, at least 5 s) the old primary must take the guest back at a newer epoch and serve it
# from the step of the switchover, and the new primary, seeing the arbiter move past its epoch,
# must stop (exit 10).  Exactly one host serves afterwards, and the clients keep their connections
# and lose nothing (their history is linearizable).  Prints promote-to-serving and the clients' gap.
# Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_nft
ft_require_domT
ft_require_daemons
"$FTVM" backup --help 2>/dev/null | grep -q -- --handover-epoch ||
	ft_skip "'ftvm backup' has no --handover-epoch yet"
FT_CLIENTS=${FT_CLIENTS:-4}
echo "seed $FT_SEED, $FT_CLIENTS clients"

# role_of NAME: the role field of a daemon's status ("" while it does not answer).
role_of() {
	ft_status "$1" | python3 -c '
import json, sys
try:
    print(json.load(sys.stdin).get("role", ""))
except ValueError:
    pass' 2>/dev/null
}
p_live() { [ "$(role_of primary)" = "primary (took over)" ]; }
p_live_or_dead() { p_live || ! ft_alive primary; }
show_both() {
	local n
	for n in primary backup; do
		echo "--- daemon $n, pid $(ft_pid "$n") ($(ft_alive "$n" && echo running || echo exited)): last lines from ftvm"
		grep -a "^ftvm" "$FT_RUN/$n.out" | tail -n 15
	done
}

ft_topology
ft_round 1
ft_start_primary --listen "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT"
ft_start_backup --peer "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT"
ft_wait_kv 120 || { show_both; ft_fail "the pair did not serve ftkv within 120 s"; }
ft_wait_for 30 ft_protected primary || { show_both; ft_fail "the pair serves but is not protected within 30 s"; }
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 60
ft_sleep_ms "$(ft_random_ms 1000 3000)"

# Only a new connection's first segment is dropped: a SYN into host p's replication port.
ip netns exec "$(ft_ns_name p)" nft -f - <<EOF || ft_fail "nft failed in host p"
table inet ftdrill {
	chain drop_in { type filter hook input priority 0; iifname "rp" tcp dport $FT_REPL_PORT tcp flags & (syn | ack) == syn drop; }
}
EOF
ft_note "new connections to host p's port $FT_REPL_PORT dropped; the pair's connection from host p stays"
ft_alive load || { ft_show load; ft_fail "the clients stopped before the promote"; }
at=$(date +%s%N)
out=$(ft_in p timeout 30 "$FTVM" promote --control "$FT_RUN/primary.sock" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ "${out#ok}" != "$out" ] || { show_both; ft_fail "promote was not accepted: exit $rc, '$out'"; }
ft_note "promote: $out"

if ! ft_wait_for 60 p_live_or_dead || ! p_live; then
	show_both
	ft_fail "host p did not take the guest back within 60 s of the promote (its status: $(ft_status primary | tr -d '\n' | cut -c1-300))"
fi
live_ns=$(date +%s%N) done_ops=$(ft_ops_done load)
ms=$(( (live_ns - at) / 1000000 ))
ft_note "host p serves again $ms ms after the promote: $(ft_status primary | tr -d '\n' | cut -c1-300)"
grep -a -q "handover-epoch" "/proc/$(ft_pid primary)/cmdline" ||
	ft_fail "host p's daemon is not the re-executed old primary (no --handover-epoch on its command line)"

# The new primary that never reached its backup must stop by itself, fenced.
ft_wait backup 20
brc=$?
[ $brc -eq 10 ] || { show_both; ft_fail "host b's daemon (the new primary that never reached its backup) ended with $brc, want 10 (fenced) within 20 s of host p going live"; }
ft_note "host b's daemon stopped, fenced (exit 10): $(grep -a "^ftvm" "$FT_RUN/backup.out" | grep -i -m1 fenced)"

# After the ten-second stall the clients' TCP has backed off: their next retransmission may come
# seconds after host p went live. Wait for a reply (up to 60 s) before asking which TAP carried it.
ft_wait_for 60 eval '[ "$(ft_ops_done load)" -gt "$done_ops" ]' ||
	{ show_both; ft_fail "host p, live again, answered no client within 60 s"; }
ft_note "host p answered a client $(( ($(date +%s%N) - live_ns) / 1000000 )) ms after going live"
since=$(( live_ns / 1000000 ))
sleep 1
serving=$(ft_serving "$since")
[ "$serving" = p ] || { show_both; ft_fail "after the take-back the guest was served by '${serving:-nobody}', want host p alone"; }
ft_heal p
touch "$FT_RUN/stop"
ft_judge_clients load "$at" || exit 1
ft_tap_monitor_stop
echo "switchover to a new primary that never reached its backup: the old primary served again $ms ms after promote, the new one stopped fenced, the clients kept their connections and lost nothing"
