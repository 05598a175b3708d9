#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Record a Linux boot, ftkv traffic over the network and console input for over 5 billion
# steps; the replay matches every check and digest, prints the same console, ends the same way.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

port=$(free_port)
log=$TMP/run.ftlog
cat >"$TMP/rec.json" <<JSON
{"argv": ["$FTVM", "record", "--log", "$log", "--kernel", "$DOMT_IMAGE", "--initrd", "$DOMT_INITRD",
          "--net", "user,hostfwd=tcp:127.0.0.1:$port-:7000", "--stats",
          "--append", "console=ttyS0 panic=-1 ftvm.run=ftkv,cpubench,shell ftvm.cpubench=52000"],
 "log": "$TMP/rec.log", "timeout": 400, "seed": 7,
 "steps": [["wait", "ftkv: listening", 120],
           ["ftkv", $port, 40, 60],
           ["wait", "domT#", 400],
           ["ftkv", $port, 20, 30],
           ["type", "echo replay-check-1\n"], ["wait", "replay-check-1\r\n", 30],
           ["type", "cat /proc/uptime\n"], ["wait", "domT#", 30],
           ["type", "poweroff\n"]]}
JSON
python3 "$(dirname "$0")/rr_drive.py" "$TMP/rec.json" || { tail -30 "$TMP/rec.log"; fail "recording failed"; }
grep "ftvm: log" "$TMP/rec.log"
steps=$(grep -o "after [0-9]* steps" "$TMP/rec.log" | grep -o "[0-9]*")
[ "${steps:-0}" -ge 5000000000 ] || fail "recorded only ${steps:-0} steps, want at least 5e9"

timeout -k 5 600 "$FTVM" replay "$log" --stats >"$TMP/replay.console" 2>"$TMP/replay.err"
rc=$?
cat "$TMP/replay.err"
[ $rc -eq 0 ] || fail "replay exit $rc"
grep -q "clean end (poweroff) at step $steps" "$TMP/replay.err" || fail "replay did not end where the recording did"
checks=$(grep -o "[0-9]* checks and [0-9]* digests matched" "$TMP/replay.err")
[ -n "$checks" ] || fail "no check summary"
set -- $checks
[ "$1" -ge 100 ] && [ "$4" -ge 50 ] || fail "too few checks ($1) or digests ($4) for this run"
# The guest printed the same things (the recording's console also holds ftvm's own lines).
cmp -s "$TMP/replay.console" "$TMP/rec.log.console" || {
	diff <(tail -5 "$TMP/replay.console") <(tail -5 "$TMP/rec.log.console"); fail "replayed console differs"; }
echo "replayed $steps steps: $checks"
