#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: a primary with a wrong certificate is refused.  One backup listens; first a primary whose
# certificates come from a foreign CA, then one presenting a valid certificate of this CA under the
# wrong name (mallory, where the backup expects primary).  Each must be refused with a clear error,
# the backup must stay up and never go live (its TAP sends nothing), and whatever a client saw
# meanwhile must be linearizable.  Then the right primary connects, the pair
# serves clients (with the backup restarted: it stays bound to the epoch it first saw), and a
# SIGKILL of that primary fails over with nothing lost: the refusals were about the certificates,
# not a broken setup.  Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
refusal='refus|certificate|verif|unknown ca|bad peer|peer name|handshake|alert'
ft_topology
ft_certs "$FT_TMP/certs" primary,backup,mallory
ft_certs "$FT_TMP/foreign" primary,backup
FT_CERTS=$FT_TMP/certs
ft_round 1
# Each primary here replaces a dead one whose epoch is still the arbiter's; a primary starts over
# another side's epoch only when told that side is gone (it could be a backup serving the VM).
FT_PRIMARY_OPTS=--force-epoch
ft_tap_monitor
ft_start_backup
sleep 0.2

for case in foreign_ca wrong_name; do
	if [ $case = foreign_ca ]; then FT_PRIMARY_CERTS=$FT_TMP/foreign FT_PRIMARY_NAME=primary
	else FT_PRIMARY_CERTS=$FT_TMP/certs FT_PRIMARY_NAME=mallory; fi
	lines_before=$(wc -l <"$FT_RUN/backup.out")
	ft_start_primary
	# A client tries the guest meanwhile; an unprotected primary may or may not answer.
	ft_clients "probe_$case" --clients 2 --duration 6 --keys 3 --timeout 3 --reconnect
	ft_wait_for 20 eval 'tail -n +$((lines_before + 1)) "$FT_RUN/backup.out" | grep -q -i -E "$refusal"' || {
		ft_show backup; ft_show primary
		ft_fail "$case: the backup did not report refusing the primary's certificate"
	}
	ft_note "$case: backup says: $(tail -n +$((lines_before + 1)) "$FT_RUN/backup.out" | grep -i -E "$refusal" | head -n 1)"
	ft_wait "probe_$case" 60
	echo "probe clients: $(tail -n 1 "$FT_RUN/probe_$case.out")"
	ft_check_history "probe_$case" || ft_fail "$case: what the clients saw is not linearizable"
	ft_alive backup || { ft_show backup; ft_fail "$case: the backup exited after refusing a peer"; }
	[ "$(ft_tap_frames b)" = 0 ] || ft_fail "$case: the backup's guest sent frames: it went live without a primary"
	ft_kill primary KILL
	ft_out_has primary "$refusal" && ft_note "$case: primary says: $(grep -i -E "$refusal" "$FT_RUN/primary.out" | head -n 1)"
	mv "$FT_RUN/primary.out" "$FT_RUN/primary-$case.out"
done

# The right primary, with a backup restarted on the same arbiter (a backup is bound to the epoch it
# first saw, and each refused primary took one): the epochs those left behind must not stand in the
# way.
ft_kill backup KILL
mv "$FT_RUN/backup.out" "$FT_RUN/backup-refusing.out"
ft_start_backup
sleep 0.2
FT_PRIMARY_CERTS=$FT_TMP/certs FT_PRIMARY_NAME=primary
ft_start_primary
ft_wait_kv 120 || { ft_show primary; ft_show backup; ft_fail "the right primary did not serve after the refusals"; }
ft_clients load --clients 3 --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30
sleep 2
at=$(date +%s%N)
ft_kill primary KILL
sleep 4
touch "$FT_RUN/stop"
ft_judge_clients load "$at" || exit 1
serving=$(ft_serving $(( at / 1000000 + 1000 )))
[ "$serving" = b ] || ft_fail "after the right primary was killed '${serving:-nobody}' served, want the backup"
echo "wrong certificates refused; the right primary was accepted and failed over with nothing lost"
