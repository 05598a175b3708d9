#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A deliberately perturbed replay is caught at the next check, and --bisect names the step,
# the instruction and the register where it departs from a clean replay.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

log=$TMP/d.ftlog
"$FTVM" record --log "$log" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none \
	--no-console-input --digest-interval 5000000 \
	--append "console=ttyS0 panic=-1 ftvm.run=idle:1" >"$TMP/rec.out" 2>&1 || fail "recording failed"
"$FTVM" replay "$log" --quiet 2>"$TMP/clean.err" || { cat "$TMP/clean.err"; fail "clean replay failed"; }

# Flip bit 40 of sp (x2) after step 30000000: the kernel's stack pointer is live everywhere.
timeout 120 "$FTVM" replay "$log" --quiet --perturb 30000000:2:40 --bisect 2>"$TMP/bad.err"
rc=$?
cat "$TMP/bad.err"
[ $rc -eq 8 ] || fail "perturbed replay: exit $rc, want 8 (diverged)"
grep -Eq "replay diverged at step [0-9]+ \(chunk [0-9]+, event [0-9]+ (digest|check)\): state (digest|check) expected" \
	"$TMP/bad.err" || fail "no divergence report with step, chunk, event, expected and actual"
# Checks land where slices end (output ends a slice early), so the last match is at or before the flip.
last=$(grep -o "last match at step [0-9]*" "$TMP/bad.err" | head -n1 | grep -o "[0-9]*$")
[ -n "$last" ] && [ "$last" -le 30000000 ] || fail "the last match ($last) is not at or before the perturbed step"
grep -q "bisecting steps $last\.\." "$TMP/bad.err" || fail "the bisection window does not start at the last match"
grep -Eq "first differing step 30000001: the instruction at pc 0x[0-9a-f]+ \(0x[0-9a-f]{8}\) leaves .*hart 0 x2 = 0x[0-9a-f]+ \(clean 0x[0-9a-f]+\)" \
	"$TMP/bad.err" || fail "bisect did not name step 30000001, its instruction and x2"
echo "perturbation caught and bisected to its step"
