#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A recording stopped into a snapshot goes on in another process: 'ftvm record --max-steps N
# --stop-snapshot S' ends its log without END at N; 'ftvm record --from S --log LOG' loads S and
# appends to the same log until the guest powers off. One replay from the boot then runs across
# the seam with every check and digest matching, its disk ending as the recording's did.
# Continuing another log, or a log that went on past the snapshot, is refused with the reason.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

log=$TMP/run.ftlog
N=40000000
truncate -s 16M "$TMP/disk0.img"
printf 'ftvm' | dd of="$TMP/disk0.img" bs=1 seek=100000 conv=notrunc status=none
cp "$TMP/disk0.img" "$TMP/disk-rec.img"
common=(--net none --no-console-input --digest-interval 5M)
append="console=ttyS0 panic=-1 ftvm.run=disk-write,cpubench ftvm.cpubench=5000 ftvm.diskgen=9 ftvm.diskblocks=512"

timeout -k 5 300 "$FTVM" record --log "$log" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--append "$append" --disk "$TMP/disk-rec.img" "${common[@]}" --max-steps "$N" \
	--stop-snapshot "$TMP/stop.snap" >"$TMP/console" 2>"$TMP/rec1.err"
rc=$?
cat "$TMP/rec1.err"
[ $rc -eq 6 ] || { show_console; fail "the first recording: exit $rc, want 6 (--max-steps)"; }
grep -q "stopped at step $N into" "$TMP/rec1.err" || fail "no stop into the snapshot"
"$FTVM" log dump --json "$log" | grep -q '"kind":"end"' && fail "the stopped log holds END"
cp "$log" "$TMP/half.ftlog"
cp "$TMP/disk-rec.img" "$TMP/disk-half.img"

timeout -k 5 300 "$FTVM" record --log "$log" --from "$TMP/stop.snap" --disk "$TMP/disk-rec.img" \
	"${common[@]}" --stats --json >"$TMP/console2" 2>"$TMP/rec2.err"
rc=$?
[ $rc -eq 0 ] || { tail -n 20 "$TMP/console2"; cat "$TMP/rec2.err"; fail "the continued recording: exit $rc"; }
grep -q "domT: PASS disk-write" "$TMP/console" "$TMP/console2" || fail "the guest did not write its disk"
steps=$(tail -n 1 "$TMP/rec2.err" | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"])')
[ "$steps" -gt "$N" ] || fail "the continued recording ended at $steps, not after $N"
echo "ok: recorded to $N, stopped into a snapshot, continued in another process to $steps"

cp "$TMP/disk0.img" "$TMP/disk-replay.img"
timeout -k 5 300 "$FTVM" replay "$log" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--disk "$TMP/disk-replay.img" --quiet --json >/dev/null 2>"$TMP/replay.err"
rc=$?
[ $rc -eq 0 ] || { tail -n 3 "$TMP/replay.err"; fail "the replay across the seam: exit $rc"; }
python3 - "$TMP/replay.err" "$steps" "$N" <<'PY' || fail "the replay across the seam"
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
steps, n = int(sys.argv[2]), int(sys.argv[3])
assert r["result"] == "replayed" and r["end"] == "poweroff" and r["step"] == steps, r
assert r["digests"] >= steps // 5000000 // 2 and r["checks"] > 0, r
print("ok: one replay from the boot across the seam at %d: %d checks and %d digests matched, poweroff at %d"
      % (n, r["checks"], r["digests"], steps))
PY
cmp -s "$TMP/disk-replay.img" "$TMP/disk-rec.img" || fail "the replayed disk differs from the recorded one"

refused() {	# refused WHAT PATTERN FTVM-ARGS...
	local what=$1 pattern=$2
	shift 2
	timeout -k 5 120 "$FTVM" "$@" >"$TMP/refuse.out" 2>&1
	local rc=$?
	[ $rc -ne 0 ] && grep -q -- "$pattern" "$TMP/refuse.out" || { cat "$TMP/refuse.out"; fail "$what: exit $rc"; }
	echo "ok: $what refused: $(grep -m1 -- "$pattern" "$TMP/refuse.out" | cut -c1-220)"
}
cp "$TMP/disk-half.img" "$TMP/disk-try.img"
refused "a log that went on past the snapshot" "runs on to step" \
	record --log "$log" --from "$TMP/stop.snap" --disk "$TMP/disk-try.img" "${common[@]}"
"$FTVM" record --log "$TMP/other2.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none \
	--no-console-input --max-steps 20000000 --stop-snapshot "$TMP/other2.snap" >/dev/null 2>&1
refused "another log" "another log" \
	record --log "$TMP/other2.ftlog" --from "$TMP/stop.snap" --disk "$TMP/disk-try.img" "${common[@]}"
# The half log, untouched, still continues: a torn tail first is cut off and said so.
printf 'FTCKgarbage' >>"$TMP/half.ftlog"
timeout -k 5 300 "$FTVM" record --log "$TMP/half.ftlog" --from "$TMP/stop.snap" --disk "$TMP/disk-try.img" \
	"${common[@]}" --max-steps $((N + 20000000)) >/dev/null 2>"$TMP/rec3.err"
rc=$?
[ $rc -eq 6 ] && grep -q "torn chunk" "$TMP/rec3.err" || { cat "$TMP/rec3.err"; fail "continuing a torn log: exit $rc"; }
echo "ok: a torn tail is cut off before the recording goes on"
echo PASS
