#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Snapshot round trip on Linux with a disk and virtio-net: 'ftvm snapshot save' at step N, a fresh
# process loads it, and both it and the uninterrupted run take the same scripted inputs (console
# lines, ARP frames) to N + 10^8 steps: every digest on the way is identical. Then 'snapshot info',
# --input-at on save, and a changed disk or a truncated file refused with a clear error.
set -u
KEEP=${KEEP:-}
. "$(dirname "$0")/lib.sh"
require_domT
TWIN=$BUILD/hv/tests/snapshot_twin
[ -x "$TWIN" ] || fail "$TWIN is not built"

N=70000000
END=$((N + 100000000))
APPEND="console=ttyS0 panic=-1 ftvm.run=disk-verify,ftkv,shell ftvm.diskgen=3 ftvm.diskblocks=256"
disk=$TMP/disk.img
truncate -s 16M "$disk"
boot_domT 240 "ftvm.run=disk-write ftvm.diskgen=3 ftvm.diskblocks=256" --net none --disk "$disk" --mem 128M
grep -q "domT: PASS disk-write" "$TMP/console" || { show_console; fail "preparing the disk"; }
cp "$disk" "$TMP/disk-cli.img"
cp "$disk" "$TMP/disk-orig.img"

# The saving side: ftvm's own command, run to N with no input.
"$FTVM" snapshot save --at $N --out "$TMP/s.snap" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--append "$APPEND" --disk "$TMP/disk-cli.img" --net user --mem 128M >"$TMP/save.console" 2>"$TMP/save.err" ||
	{ cat "$TMP/save.err"; fail "ftvm snapshot save"; }
cat "$TMP/save.err"
"$FTVM" snapshot info "$TMP/s.snap" || fail "snapshot info"
"$FTVM" snapshot info --json "$TMP/s.snap" | grep -q "\"steps\":$N," || fail "snapshot info --json steps"

# The uninterrupted run, and the loaded one, with the same inputs after N.
"$TWIN" boot --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --append "$APPEND" --disk "$TMP/disk-orig.img" \
	--mem 128 --base $N --until $END --out-digests "$TMP/orig.digests" >"$TMP/orig.console" 2>"$TMP/orig.err" ||
	{ cat "$TMP/orig.err"; fail "the uninterrupted run"; }
"$TWIN" resume --snapshot "$TMP/s.snap" --disk "$TMP/disk-cli.img" \
	--base $N --until $END --out-digests "$TMP/resumed.digests" >"$TMP/resumed.console" 2>"$TMP/resumed.err" ||
	{ cat "$TMP/resumed.err"; fail "the resumed run"; }

# The digest 'snapshot save' printed is the uninterrupted run's at N.
saved=$(grep -o "digest [0-9a-f]*" "$TMP/save.err" | cut -d' ' -f2)
orig_n=$(awk -v n=$N '$1 == n && length($2) == 64 { print $2; exit }' "$TMP/orig.digests")
[ -n "$saved" ] && [ "$saved" = "$orig_n" ] || fail "digest at N: snapshot save says $saved, the run says $orig_n"
diff "$TMP/orig.digests" "$TMP/resumed.digests" || fail "the resumed run departs from the uninterrupted one"
ndig=$(awk 'length($2) == 64' "$TMP/orig.digests" | wc -l)
[ "$ndig" -ge 11 ] || fail "only $ndig digests compared"
grep -q "inject 2 -> 0" "$TMP/orig.digests" || fail "no frame reached the guest"
grep -q "snapshot-twin" "$TMP/resumed.console" || { tail -20 "$TMP/resumed.console"; fail "the resumed guest did not take console input"; }
grep -q "PASS disk-verify" "$TMP/orig.console" || { tail -20 "$TMP/orig.console"; fail "the guest did not read its disk"; }
cmp -s "$TMP/orig.console" <(cat "$TMP/save.console" "$TMP/resumed.console") ||
	fail "console of save + resumed differs from the uninterrupted run's"

# Scripted console input reaches the guest at its step before the save.
"$FTVM" snapshot save --at 160000000 --out "$TMP/in.snap" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--append "console=ttyS0 panic=-1 ftvm.run=shell" --net none --mem 128M \
	--input-at '120000000:echo snap-input-ok\n' >"$TMP/in.console" 2>"$TMP/in.err" ||
	{ cat "$TMP/in.err"; fail "snapshot save with --input-at"; }
grep -aq "^snap-input-ok" "$TMP/in.console" || { tail -5 "$TMP/in.console"; fail "--input-at did not reach the guest"; }

# The host side must match what was saved.
printf 'x' | dd of="$TMP/disk-cli.img" bs=1 seek=5000 conv=notrunc status=none
"$TWIN" resume --snapshot "$TMP/s.snap" --disk "$TMP/disk-cli.img" --until $END --out-digests /dev/null 2>"$TMP/bad.err" &&
	fail "a changed disk was accepted"
grep -q "differs from the one saved" "$TMP/bad.err" || { cat "$TMP/bad.err"; fail "changed disk: unclear error"; }
head -c 1000 "$TMP/s.snap" >"$TMP/short.snap"
"$FTVM" snapshot info "$TMP/short.snap" 2>"$TMP/short.err" && fail "a truncated snapshot passed info"
grep -q "truncated" "$TMP/short.err" || { cat "$TMP/short.err"; fail "truncated: unclear error"; }
echo "snapshot at step $N resumed in a fresh process: $ndig digests to step $END identical"
