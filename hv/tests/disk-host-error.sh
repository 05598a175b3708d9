#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A disk the host cannot write (here: RLIMIT_FSIZE below the guest's writes, SIGXFSZ ignored, so
# pwrite fails with EFBIG) is told on the host side and turns a clean exit into status 1; a disk
# this user may not write at all is refused before the guest runs.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

disk=$TMP/disk.img
truncate -s 64M "$disk"
append="console=ttyS0 panic=-1 ftvm.run=disk-write ftvm.diskgen=3"
# Console and messages through a pipe: the file-size limit applies only to regular files.
(ulimit -f 64; trap '' XFSZ; exec timeout -k 5 240 "$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--net none --no-console-input --disk "$disk" --append "$append") 2>&1 | cat >"$TMP/console"
rc=${PIPESTATUS[0]}
grep -q "domT: FAIL disk-write" "$TMP/console" || { show_console; fail "the guest did not see its writes fail (test is void)"; }
grep -q "the host refused .* of the guest's disk I/Os (the first: File too large)" "$TMP/console" ||
	{ show_console; fail "no host-side report of the refused writes"; }
[ "$rc" -eq 1 ] || { show_console; fail "exit $rc, want 1"; }
echo "ok: refused guest writes are reported on the host and exit 1: $(grep 'the host refused' "$TMP/console")"

# The same run with no limit passes: the limit, not the guest, made the difference.
boot_domT 240 "ftvm.run=disk-write ftvm.diskgen=3" --net none --disk "$disk"
rc=$?
[ $rc -eq 0 ] && grep -q "domT: PASS disk-write" "$TMP/console" || { show_console; fail "unlimited run: exit $rc"; }
grep -q "the host refused" "$TMP/console" && fail "a clean run reported refused I/Os"
echo "ok: without the limit the same run passes and reports nothing"

chmod 0444 "$disk"
"$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none --no-console-input --disk "$disk" \
	--append "$append" >"$TMP/console" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "not writable here" "$TMP/console" || { show_console; fail "read-only image: exit $rc"; }
echo "ok: an image this user cannot write is refused before the guest runs (exit 2)"
