#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A recording stopped into a snapshot goes on in another process: 'ftvm record --max-steps N
# --stop-snapshot S' ends its log without END at N; 'ftvm record --from S --log LOG' loads S and
# appends to the same log until the guest powers off. One replay from the boot then runs across
# the seam with every check and digest matching, its disk ending as the recording's did.
# Continuing another log, or a log that went on past the snapshot, is refused with the reason; a
# ,snapshot disk's written blocks cross the seam in the snapshot.
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
cp "$log" "$TMP/stopped.ftlog"
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
# A trimmed log (ftvm log trim, or a checkpointing recorder's) goes on as well. Its snapshots still
# count the events from the log's start, which it no longer holds: the stop snapshot's count.
cp "$TMP/stopped.ftlog" "$TMP/trim.ftlog"
cp "$TMP/disk-half.img" "$TMP/disk-trim.img"
"$FTVM" log trim "$TMP/trim.ftlog" --from "$TMP/stop.snap" >/dev/null || fail "log trim of the stopped log"
events() { "$FTVM" log dump --json "$1" | grep -c '"type":"event"'; }
before_whole=$(events "$TMP/stopped.ftlog") before_trimmed=$(events "$TMP/trim.ftlog")
[ "$before_trimmed" -lt "$before_whole" ] || fail "the trimmed log holds all $before_whole events"
timeout -k 5 300 "$FTVM" record --log "$TMP/trim.ftlog" --from "$TMP/stop.snap" --disk "$TMP/disk-trim.img" \
	"${common[@]}" --max-steps $((N + 20000000)) --stop-snapshot "$TMP/trim2.snap" >/dev/null 2>"$TMP/rec4.err"
rc=$?
[ $rc -eq 6 ] || { cat "$TMP/rec4.err"; fail "continuing a trimmed log: exit $rc, want 6 (--max-steps)"; }
after_trimmed=$(events "$TMP/trim.ftlog")
counted=$("$FTVM" snapshot info --json "$TMP/trim2.snap" | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"]["events"])')
[ "$counted" = $((before_whole + after_trimmed - before_trimmed)) ] ||
	fail "the continued trimmed log's snapshot counts $counted events, the log from its start holds $((before_whole + after_trimmed - before_trimmed))"
cp "$TMP/disk-half.img" "$TMP/disk-trim-replay.img"
timeout -k 5 300 "$FTVM" replay "$TMP/trim.ftlog" --from "$TMP/stop.snap" --disk "$TMP/disk-trim-replay.img" \
	--quiet --json >/dev/null 2>"$TMP/replay-trim.err" || { tail -n 3 "$TMP/replay-trim.err"; fail "replay of the continued trimmed log"; }
cmp -s "$TMP/disk-trim-replay.img" "$TMP/disk-trim.img" || fail "the continued trimmed log replayed to another disk"
echo "ok: a trimmed log goes on from the snapshot it was trimmed to; its next snapshot counts $counted events from the log's start"
# The same across a seam on a ",snapshot" disk (the pair's deployment): the blocks the guest wrote
# over the image travel in the snapshot, and the guest reads them back after the seam.
cp "$TMP/disk0.img" "$TMP/base.img"
sum0=$(sha256sum <"$TMP/base.img")
N2=200000000	# after disk-write, before disk-verify
append2="console=ttyS0 panic=-1 ftvm.run=disk-write,cpubench,disk-verify ftvm.cpubench=3000 ftvm.diskgen=4 ftvm.diskblocks=512"
timeout -k 5 300 "$FTVM" record --log "$TMP/ov.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--append "$append2" --disk "$TMP/base.img,snapshot" "${common[@]}" --max-steps "$N2" \
	--stop-snapshot "$TMP/ov.snap" >"$TMP/ov1.console" 2>&1
[ $? -eq 6 ] || { tail -n 5 "$TMP/ov1.console"; fail "the overlay recording did not stop at $N2"; }
grep -q "domT: PASS disk-write" "$TMP/ov1.console" || fail "disk-write had not finished by step $N2 (test is void)"
"$FTVM" snapshot info --json "$TMP/ov.snap" | grep -q '"disk_overlay":true,"overlay_blocks":[1-9]' ||
	fail "no written blocks of the overlay in the snapshot"
refused "an overlay snapshot on a plain disk" "give --disk" \
	record --log "$TMP/ov.ftlog" --from "$TMP/ov.snap" --disk "$TMP/base.img" "${common[@]}"
timeout -k 5 300 "$FTVM" record --log "$TMP/ov.ftlog" --from "$TMP/ov.snap" --disk "$TMP/base.img,snapshot" \
	"${common[@]}" >"$TMP/ov2.console" 2>&1 || { tail -n 20 "$TMP/ov2.console"; fail "the overlay continuation"; }
grep -q "domT: PASS disk-verify" "$TMP/ov2.console" || { tail -n 20 "$TMP/ov2.console"; fail "disk-verify after the seam"; }
[ "$(sha256sum <"$TMP/base.img")" = "$sum0" ] || fail "the image under the overlay changed"
timeout -k 5 300 "$FTVM" replay "$TMP/ov.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--disk "$TMP/base.img,snapshot" --quiet >/dev/null 2>"$TMP/ov-replay.err" ||
	{ tail -n 3 "$TMP/ov-replay.err"; fail "replaying the overlay recording across its seam"; }
echo "ok: on a ,snapshot disk the written blocks crossed the seam: disk-verify passed after it, the replay matched"

# With no snapshot at all: 'ftvm replay LOG --then-record' replays the stopped log to its end (a
# torn chunk after it is cut off) and records on into it until the guest powers off; one replay
# from the boot then runs across that seam too, and the disk ends as the first recording's did.
cp "$TMP/stopped.ftlog" "$TMP/rr.ftlog"
printf 'FTCKgarbage' >>"$TMP/rr.ftlog"
cp "$TMP/disk0.img" "$TMP/disk-rr.img"
timeout -k 5 300 "$FTVM" replay "$TMP/rr.ftlog" --then-record --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--disk "$TMP/disk-rr.img" --net none --quiet </dev/null >"$TMP/rr.console" 2>"$TMP/rr.err"
rc=$?
[ $rc -eq 0 ] || { tail -n 5 "$TMP/rr.console"; cat "$TMP/rr.err"; fail "replay --then-record: exit $rc"; }
grep -q "live at step $N, recording on into" "$TMP/rr.err" || { cat "$TMP/rr.err"; fail "replay --then-record did not go on at step $N"; }
"$FTVM" log dump --json "$TMP/rr.ftlog" | grep -q '"kind":"end"' || fail "the log recorded on holds no END"
cp "$TMP/disk0.img" "$TMP/disk-rr-replay.img"
timeout -k 5 300 "$FTVM" replay "$TMP/rr.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--disk "$TMP/disk-rr-replay.img" --quiet --json >/dev/null 2>"$TMP/rr-replay.err"
rc=$?
[ $rc -eq 0 ] || { tail -n 3 "$TMP/rr-replay.err"; fail "the replay across the --then-record seam: exit $rc"; }
python3 - "$TMP/rr-replay.err" "$N" <<'PY' || fail "the replay across the --then-record seam"
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
n = int(sys.argv[2])
assert r["result"] == "replayed" and r["end"] == "poweroff" and r["step"] > n and r["checks"] > 0, r
print("ok: replay --then-record went on at %d; one replay from the boot across it: %d checks and %d digests "
      "matched, poweroff at %d" % (n, r["checks"], r["digests"], r["step"]))
PY
cmp -s "$TMP/disk-rr-replay.img" "$TMP/disk-rr.img" || fail "the replayed disk differs from the one recorded on"
cmp -s "$TMP/disk-rr.img" "$TMP/disk-rec.img" || fail "the disk recorded on differs from the first recording's"
sum=$(sha256sum <"$TMP/half.ftlog")
cp "$TMP/disk0.img" "$TMP/disk-try.img"
refused "recording on after a log's END" "nothing can follow" replay "$TMP/half.ftlog" --then-record \
	--kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --disk "$TMP/disk-try.img" --net none --quiet
[ "$(sha256sum <"$TMP/half.ftlog")" = "$sum" ] || fail "the refused --then-record changed the log"
echo PASS
