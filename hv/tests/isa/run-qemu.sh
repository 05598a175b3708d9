#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every built ISA test on qemu-system-riscv64 (the reference); exit 0 all pass, 77 skip.
set -u
. "$(dirname "$0")/run-common.sh"
QEMU=${QEMU:-qemu-system-riscv64}
if ! command -v "$QEMU" >/dev/null; then
	echo "skip: $QEMU not installed"
	exit 77
fi
isa_cmd() {
	echo "$QEMU -machine virt -bios none -kernel $1 -nographic -m 128M -smp $2"
}
isa_run_all
