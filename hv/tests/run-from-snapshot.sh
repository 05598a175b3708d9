#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 'ftvm run --from SNAPSHOT': a guest saved mid-cpubench resumes in a fresh process and finishes
# with the same checksum as an uninterrupted run; a snapshot that is not one is refused.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

append="console=ttyS0 panic=-1 ftvm.run=cpubench ftvm.cpubench=2000"
"$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none --no-console-input \
	--virtual-clock --append "$append" >"$TMP/whole.out" 2>&1 || { tail "$TMP/whole.out"; fail "the whole run failed"; }
want=$(grep -o "checksum=[0-9a-f]*" "$TMP/whole.out")
[ -n "$want" ] || fail "no cpubench checksum in the whole run"

"$FTVM" snapshot save --at 150000000 --out "$TMP/mid.snap" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--net none --append "$append" >"$TMP/save.out" 2>&1 || { tail "$TMP/save.out"; fail "snapshot save failed"; }
grep -q "cpubench: iterations" "$TMP/save.out" && fail "the snapshot was taken after cpubench ended: move --at"
"$FTVM" run --from "$TMP/mid.snap" --net none --no-console-input >"$TMP/resumed.out" 2>&1
rc=$?
[ $rc -eq 0 ] || { tail "$TMP/resumed.out"; fail "run --from exited $rc, want 0 (poweroff)"; }
got=$(grep -o "checksum=[0-9a-f]*" "$TMP/resumed.out")
[ "$got" = "$want" ] || fail "resumed cpubench $got, uninterrupted $want"
grep -q "domT init: ready" "$TMP/resumed.out" && fail "the resumed guest booted again instead of resuming"

head -c 4096 /dev/urandom >"$TMP/junk.snap"
"$FTVM" run --from "$TMP/junk.snap" --net none --no-console-input >"$TMP/junk.out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "a junk snapshot: exit $rc, want 2"
grep -qi "snapshot" "$TMP/junk.out" || { cat "$TMP/junk.out"; fail "no clear message for a junk snapshot"; }
"$FTVM" record --from "$TMP/mid.snap" --log "$TMP/x.ftlog" >"$TMP/rec.out" 2>&1
[ $? -eq 2 ] || fail "record --from must be refused"
echo "resumed from a snapshot: $got, as the uninterrupted run"
