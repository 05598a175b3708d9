#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A Linux run (boot, ftkv traffic over the network, cpubench, console input) recorded under one
# --cpu replays under the other with every check and digest matching, both ways round.
set -u
. "$(dirname "$0")/../../tests/lib.sh"
require_domT

# usage: rr_pair RECORD_CPU REPLAY_CPU
rr_pair() {
	local rec=$1 rep=$2 port log steps checks rc
	port=$(free_port)
	log=$TMP/$rec.ftlog
	cat >"$TMP/rec-$rec.json" <<JSON
{"argv": ["$FTVM", "record", "--cpu", "$rec", "--log", "$log", "--kernel", "$DOMT_IMAGE",
          "--initrd", "$DOMT_INITRD", "--net", "user,hostfwd=tcp:127.0.0.1:$port-:7000", "--stats",
          "--append", "console=ttyS0 panic=-1 ftvm.run=ftkv,cpubench,shell ftvm.cpubench=8000"],
 "log": "$TMP/rec-$rec.log", "timeout": 300, "seed": 11,
 "steps": [["wait", "ftkv: listening", 120],
           ["ftkv", $port, 20, 30],
           ["wait", "domT#", 300],
           ["type", "echo jit-rr-check\n"], ["wait", "jit-rr-check\r\n", 30],
           ["type", "poweroff\n"]]}
JSON
	python3 "$(dirname "$0")/../../tests/rr_drive.py" "$TMP/rec-$rec.json" ||
		{ tail -30 "$TMP/rec-$rec.log"; fail "recording under --cpu $rec failed"; }
	steps=$(grep -o "after [0-9]* steps" "$TMP/rec-$rec.log" | grep -o "[0-9]*")
	[ "${steps:-0}" -ge 500000000 ] || fail "recorded only ${steps:-0} steps under --cpu $rec"
	timeout -k 5 600 "$FTVM" replay --cpu "$rep" "$log" --stats >"$TMP/replay-$rep.console" \
		2>"$TMP/replay-$rep.err"
	rc=$?
	cat "$TMP/replay-$rep.err"
	[ $rc -eq 0 ] || fail "--cpu $rec recording, --cpu $rep replay: exit $rc"
	grep -q "clean end (poweroff) at step $steps" "$TMP/replay-$rep.err" ||
		fail "--cpu $rep replay did not end where the --cpu $rec recording did"
	checks=$(grep -o "[0-9]* checks and [0-9]* digests matched" "$TMP/replay-$rep.err")
	[ -n "$checks" ] || fail "no check summary"
	set -- $checks
	[ "$1" -ge 20 ] && [ "$4" -ge 10 ] || fail "too few checks ($1) or digests ($4)"
	cmp -s "$TMP/replay-$rep.console" "$TMP/rec-$rec.log.console" || fail "replayed console differs"
	echo "recorded under $rec, replayed under $rep: $steps steps, $checks"
}

rr_pair jit interp
rr_pair interp jit

# Two harts: the translation cache is shared and each hart's stores must drop the other's blocks.
log=$TMP/smp.ftlog
timeout -k 5 300 "$FTVM" record --log "$log" --cpu jit --smp 2 --net none --no-console-input --stats \
	--kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--append "console=ttyS0 panic=-1 ftvm.run=cpubench,poweroff ftvm.cpubench=3000" \
	>"$TMP/smp.console" 2>"$TMP/smp.err" || { tail "$TMP/smp.err"; fail "--smp 2 recording under jit failed"; }
steps=$(grep -o "after [0-9]* steps" "$TMP/smp.err" | grep -o "[0-9]*")
timeout -k 5 600 "$FTVM" replay --cpu interp "$log" --stats >/dev/null 2>"$TMP/smp-replay.err" ||
	{ tail "$TMP/smp-replay.err"; fail "--smp 2 jit recording did not replay under interp"; }
grep -q "clean end (poweroff) at step $steps" "$TMP/smp-replay.err" || fail "--smp 2 replay ended elsewhere"
grep "digests matched" "$TMP/smp-replay.err"
