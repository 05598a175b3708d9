#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A recorder killed with SIGKILL leaves a log that replays to its last complete chunk and says so;
# a corrupted chunk is reported with its offset; a log from another image is refused.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

log=$TMP/k.ftlog
"$FTVM" record --log "$log" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none --no-console-input \
	--append "console=ttyS0 panic=-1 ftvm.run=cpubench ftvm.cpubench=100000" >"$TMP/rec.out" 2>&1 &
rec=$!
for _ in $(seq 1 100); do grep -q "domT init: ready" "$TMP/rec.out" && break; sleep 0.1; done
sleep 1.5
kill -KILL $rec
wait $rec 2>/dev/null
size=$(stat -c %s "$log")
[ "$size" -gt 1000 ] || fail "the killed recorder left only $size bytes"

timeout 120 "$FTVM" replay "$log" --quiet --stats 2>"$TMP/replay.err"
rc=$?
cat "$TMP/replay.err"
[ $rc -eq 0 ] || fail "replay of a killed recording: exit $rc, want 0"
grep -Eq "the recorder stopped mid-write|end of file without an END event" "$TMP/replay.err" ||
	fail "replay does not say the log was cut short"
"$FTVM" log dump "$log" >"$TMP/dump" || fail "log dump of a truncated log failed"
tail -n 1 "$TMP/dump"

# Damage one byte in the middle: reported as corrupt, with the chunk's offset, exit 9.
cp "$log" "$TMP/bad.ftlog"
off=$((size / 2))
printf '\xff' | dd of="$TMP/bad.ftlog" bs=1 seek=$off conv=notrunc status=none
cmp -s "$log" "$TMP/bad.ftlog" && { printf '\x00' | dd of="$TMP/bad.ftlog" bs=1 seek=$off conv=notrunc status=none; }
timeout 120 "$FTVM" replay "$TMP/bad.ftlog" --quiet 2>"$TMP/bad.err"
rc=$?
cat "$TMP/bad.err"
[ $rc -eq 9 ] || fail "corrupt log: exit $rc, want 9"
grep -q "corrupt chunk at offset [0-9]" "$TMP/bad.err" || fail "no offset in the corruption report"
"$FTVM" log dump "$TMP/bad.ftlog" >/dev/null 2>&1
[ $? -eq 2 ] || fail "log dump of a corrupt log should exit 2"

# Another kernel: refused before anything runs.
head -c 4096 /dev/urandom >"$TMP/other-kernel"
"$FTVM" replay "$log" --kernel "$TMP/other-kernel" 2>"$TMP/other.err"
rc=$?
cat "$TMP/other.err"
[ $rc -eq 2 ] && grep -q "differs from the one the log was recorded with" "$TMP/other.err" ||
	fail "a different kernel was not refused (exit $rc)"
echo "killed, corrupted and mismatched logs are all handled"
