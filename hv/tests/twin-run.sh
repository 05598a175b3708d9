#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two runs given the same inputs at the same step counts end with the same step count and the
# same state digests; a run with different input departs exactly after that input.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

run() {	# run NAME TEXT [--smp N]
	local name=$1 text=$2
	shift 2
	timeout -k 5 120 "$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none \
		--virtual-clock --append "console=ttyS0 panic=-1 ftvm.run=shell" \
		--input-at 100000000:"echo $text\n" --input-at 150000000:'poweroff\n' \
		--digest-at 10000000 --digest-at 50000000 --digest-at 99999999 --digest-at 100000000 \
		--digest-at 120000000 --digest-at 150000000 --stats "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	local rc=$?
	[ $rc -eq 0 ] || { cat "$TMP/$name.out" "$TMP/$name.err" | tail -20; fail "$name: exit $rc"; }
	grep "^digest" "$TMP/$name.err" >"$TMP/$name.digests"
	grep -o "after [0-9]* steps" "$TMP/$name.err" >"$TMP/$name.steps"
	grep -q "^$text" "$TMP/$name.out" || fail "$name: the guest did not echo '$text'"
}

for smp in 1 2; do
	run a$smp twin-check --smp $smp
	run b$smp twin-check --smp $smp
	[ "$(wc -l <"$TMP/a$smp.digests")" -eq 6 ] || fail "smp=$smp: want 6 digests"
	cmp -s "$TMP/a$smp.digests" "$TMP/b$smp.digests" || {
		diff "$TMP/a$smp.digests" "$TMP/b$smp.digests"; fail "smp=$smp: twin runs differ"; }
	cmp -s "$TMP/a$smp.steps" "$TMP/b$smp.steps" || fail "smp=$smp: twin runs end at different steps"
	cmp -s "$TMP/a$smp.out" "$TMP/b$smp.out" || fail "smp=$smp: twin runs printed different output"
	echo "smp=$smp: twins agree: $(cat "$TMP/a$smp.steps"), $(wc -l <"$TMP/a$smp.digests") digests"

	# Different input: the same before it, different after it.
	run c$smp other-text --smp $smp
	head -n 3 "$TMP/c$smp.digests" | cmp -s - <(head -n 3 "$TMP/a$smp.digests") ||
		fail "smp=$smp: runs differ before their inputs do"
	sed -n 5p "$TMP/c$smp.digests" | cmp -s - <(sed -n 5p "$TMP/a$smp.digests") &&
		fail "smp=$smp: a different input at step 100000000 left no trace at step 120000000"
done
echo "deterministic: same inputs, same digests; other input, other digests"
