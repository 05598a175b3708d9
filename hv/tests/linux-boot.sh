#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Linux boots on ftvm to domT's init, runs a workload and powers off (exit status 0), with 1 and 2 harts.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

for smp in 1 2; do
	boot_domT 180 "ftvm.run=idle:1" --net none --smp $smp --stats
	rc=$?
	show_console
	[ $rc -eq 0 ] || fail "smp=$smp: ftvm exited with $rc, want 0 (poweroff)"
	grep -q "domT init: ready" "$TMP/console" || fail "smp=$smp: init never said ready"
	grep -q "domT: PASS idle" "$TMP/console" || fail "smp=$smp: the idle workload did not pass"
	[ $smp -eq 1 ] || grep -q "smp: Brought up 1 node, 2 CPUs" "$TMP/console" ||
		fail "smp=2: the kernel did not bring up both harts"
done
# A kernel panic (no init to run) resets the machine: exit status 3, not a hang.
boot_domT 120 "rdinit=/no-such-init" --net none --append "console=ttyS0 rdinit=/no-such-init"
rc=$?
[ $rc -eq 3 ] && grep -q "Kernel panic" "$TMP/console" || { show_console; fail "panic: exit $rc, want 3"; }
echo "linux boots to init and powers off, 1 and 2 harts; a panic ends as a reset"
