#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every built ISA test on our emulator ($FTVM, default $BUILD/ftvm; ISA_CPU=jit: --cpu jit); exit 0 all pass, 77 skip.
set -u
. "$(dirname "$0")/run-common.sh"
FTVM=${FTVM:-$BUILD/ftvm}
if [ ! -x "$FTVM" ]; then
	echo "skip: $FTVM not built yet"
	exit 77
fi
isa_cmd() {
	if [ "$2" -gt 1 ]; then
		echo "$FTVM run --bios none --kernel $1 --mem 128M --smp $2 ${ISA_CPU:+--cpu $ISA_CPU}"
	else
		echo "$FTVM run --bios none --kernel $1 --mem 128M ${ISA_CPU:+--cpu $ISA_CPU}"
	fi
}
isa_run_all
