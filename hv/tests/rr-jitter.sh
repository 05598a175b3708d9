#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Twenty recordings whose console and network inputs arrive at random host times; each replays exactly.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

runs=${RR_JITTER_RUNS:-20}
for i in $(seq 1 "$runs"); do
	port=$(free_port)
	log=$TMP/j$i.ftlog
	cat >"$TMP/j$i.json" <<JSON
{"argv": ["$FTVM", "record", "--log", "$log", "--kernel", "$DOMT_IMAGE", "--initrd", "$DOMT_INITRD",
          "--net", "user,hostfwd=tcp:127.0.0.1:$port-:7000", "--digest-interval", "5000000",
          "--append", "console=ttyS0 panic=-1 ftvm.run=ftkv,shell"],
 "log": "$TMP/j$i.log", "timeout": 60, "seed": $i,
 "steps": [["wait", "domT#", 60],
           ["sleep_random", 0.3], ["type", "echo jitter-$i-a\n"],
           ["ftkv", $port, 3, 20],
           ["sleep_random", 0.3], ["type", "ls /\n"],
           ["sleep_random", 0.2], ["type", "echo jitter-$i-b\n"], ["wait", "jitter-$i-b\r\n", 20],
           ["sleep_random", 0.3], ["type", "poweroff\n"]]}
JSON
	python3 "$(dirname "$0")/rr_drive.py" "$TMP/j$i.json" >"$TMP/j$i.drive" 2>&1 ||
		{ cat "$TMP/j$i.drive"; tail -20 "$TMP/j$i.log"; fail "recording $i failed"; }
	timeout -k 5 120 "$FTVM" replay "$log" --quiet --stats 2>"$TMP/j$i.replay"
	rc=$?
	[ $rc -eq 0 ] && grep -q "clean end (poweroff)" "$TMP/j$i.replay" ||
		{ cat "$TMP/j$i.replay"; fail "replay $i: exit $rc"; }
	echo "run $i: $(grep -o '[0-9]* steps.*matched' "$TMP/j$i.replay")"
done
echo "$runs jittered recordings replayed exactly"
