#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --disk FILE,snapshot: a recording whose guest writes its disk leaves the image as it was, so
# that its replay and a replay that goes live both start from that same pristine file.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

disk=$TMP/disk.img
truncate -s 64M "$disk"
printf 'ftvm' | dd of="$disk" bs=1 seek=1000000 conv=notrunc status=none	# not all zero
sum0=$(sha256sum <"$disk")
append="console=ttyS0 panic=-1 ftvm.run=disk-write ftvm.diskgen=7"
common=(--kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none --append "$append")

# 1. Record: the guest writes and fsyncs its disk, and says PASS; the image is unchanged.
timeout -k 5 300 "$FTVM" record --log "$TMP/full.ftlog" "${common[@]}" --disk "$disk,snapshot" \
	--no-console-input --stats --json >"$TMP/console" 2>"$TMP/rec.err"
rc=$?
[ $rc -eq 0 ] && grep -q "domT: PASS disk-write" "$TMP/console" || { show_console; cat "$TMP/rec.err"; fail "record: exit $rc"; }
[ "$(sha256sum <"$disk")" = "$sum0" ] || fail "recording with ,snapshot changed the image"
steps=$(tail -n 1 "$TMP/rec.err" | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"])') ||
	fail "no JSON report from record --stats --json"
echo "ok: recorded $steps steps of disk-write on a snapshot; the image is unchanged"

# 2. Replay from the same file, twice: each matches the log and leaves the image alone.
for i in 1 2; do
	timeout -k 5 300 "$FTVM" replay "$TMP/full.ftlog" "${common[@]:0:4}" --disk "$disk,snapshot" --quiet \
		>"$TMP/replay.out" 2>&1 || { cat "$TMP/replay.out"; fail "replay $i from the pristine image"; }
	[ "$(sha256sum <"$disk")" = "$sum0" ] || fail "replay $i changed the image"
done
echo "ok: two replays from the pristine image matched the log and left it unchanged"

# 3. Go live: a recording stopped halfway, replayed from the same file, then run live to the end.
half=$((steps / 2))
timeout -k 5 300 "$FTVM" record --log "$TMP/half.ftlog" "${common[@]}" --disk "$disk,snapshot" \
	--no-console-input --max-steps "$half" >"$TMP/console" 2>&1
[ $? -eq 6 ] || { show_console; fail "the half recording did not stop at --max-steps"; }
timeout -k 5 300 "$FTVM" replay "$TMP/half.ftlog" "${common[@]:0:4}" --disk "$disk,snapshot" --then-live \
	--net none </dev/null >"$TMP/live.out" 2>&1
rc=$?
grep -q "live at step $half" "$TMP/live.out" || { tail -n 20 "$TMP/live.out"; fail "the replay did not go live at step $half"; }
[ $rc -eq 0 ] && grep -q "domT: PASS disk-write" "$TMP/live.out" || { tail -n 20 "$TMP/live.out"; fail "go-live: exit $rc"; }
[ "$(sha256sum <"$disk")" = "$sum0" ] || fail "going live on ,snapshot changed the image"
echo "ok: replay went live at step $half and the guest finished its disk writes; the image is unchanged"

# 4. Without ,snapshot the recording writes the image, and the replay's refusal says what to do.
cp --sparse=always "$disk" "$TMP/used.img"
timeout -k 5 300 "$FTVM" record --log "$TMP/used.ftlog" "${common[@]}" --disk "$TMP/used.img" \
	--no-console-input >"$TMP/console" 2>&1 || { show_console; fail "record on a plain disk"; }
[ "$(sha256sum <"$TMP/used.img")" != "$sum0" ] || fail "the plain recording did not write its disk (test is void)"
"$FTVM" replay "$TMP/used.ftlog" "${common[@]:0:4}" --disk "$TMP/used.img" >"$TMP/refuse.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "differs from the one the log was recorded with" "$TMP/refuse.out" &&
	grep -q -- "--disk COPY,snapshot" "$TMP/refuse.out" || { cat "$TMP/refuse.out"; fail "refusal: exit $rc"; }
echo "ok: a replay on a written image is refused with the remedy: $(head -c 160 "$TMP/refuse.out")..."

# 5. A --quiet replay on a terminal shows a progress line on stderr; into a file, none.
grep -q "ftvm replay: step" "$TMP/replay.out" && fail "a --quiet replay into a file printed a progress line"
python3 - "$FTVM" "$TMP/full.ftlog" "$DOMT_IMAGE" "$DOMT_INITRD" "$disk,snapshot" "$steps" <<'PY' || fail "no progress line on a terminal"
import os, pty, sys
ftvm, log, image, initrd, disk, steps = sys.argv[1:7]
pid, fd = pty.fork()
if pid == 0:
    os.execv(ftvm, [ftvm, "replay", log, "--kernel", image, "--initrd", initrd, "--disk", disk, "--quiet"])
out = b""
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
_, status = os.waitpid(pid, 0)
want = b"\rftvm replay: step %s, " % steps.encode()
if os.waitstatus_to_exitcode(status) != 0 or want not in out:
    sys.exit("replay on a pty: status %d, output %r" % (os.waitstatus_to_exitcode(status), out[-300:]))
PY
echo "ok: a --quiet replay on a terminal reports its progress"
