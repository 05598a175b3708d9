#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad files and options get a clear error naming the problem and exit status 2, before any guest runs.
set -u
. "$(dirname "$0")/lib.sh"
require_ftvm

expect() {	# expect WORDS-IN-MESSAGE -- ftvm run args...
	local want=$1
	shift 2
	timeout 20 "$FTVM" run --no-console-input "$@" >"$TMP/out" 2>&1
	local rc=$?
	[ $rc -eq 2 ] || { cat "$TMP/out"; fail "ftvm run $*: exit $rc, want 2"; }
	grep -qi -- "$want" "$TMP/out" || { cat "$TMP/out"; fail "ftvm run $*: message lacks '$want'"; }
	echo "ok: $* -> $(head -n 1 "$TMP/out")"
}

head -c 100000 /dev/urandom >"$TMP/garbage"
: >"$TMP/empty"
printf '\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0' >"$TMP/x86.elf"; head -c 200 /dev/zero >>"$TMP/x86.elf"
printf '\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\xf3\0' >"$TMP/trunc.elf"
kernel=$DOMT_IMAGE
[ -f "$kernel" ] || kernel=$TMP/garbage

expect "$TMP/nope" -- --kernel "$TMP/nope" --bios none
expect "empty" -- --kernel "$TMP/empty"
expect "neither a RISC-V" -- --kernel "$TMP/garbage"
expect "not RISC-V" -- --kernel "$TMP/x86.elf" --bios none
expect "truncated ELF" -- --kernel "$TMP/trunc.elf" --bios none
# A whole ELF header whose program headers point past the end of the file.
python3 -c 'import struct,sys; sys.stdout.buffer.write(b"\x7fELF\x02\x01\x01"+b"\0"*9+struct.pack("<HHIQQQIHHHHHH",2,243,1,0x80000000,4096,0,0,64,56,4,64,0,0))' >"$TMP/badph.elf"
expect "corrupt ELF program headers" -- --kernel "$TMP/badph.elf" --bios none
expect "must be an ELF" -- --kernel "$TMP/garbage" --bios none
expect "--mem" -- --kernel "$kernel" --mem 1M
head -c 20000000 /dev/zero >"$TMP/big"
[ -f "$DOMT_IMAGE" ] && expect "raise --mem" -- --kernel "$kernel" --initrd "$TMP/big" --mem 16M
expect "firmware" -- --kernel "$kernel" --bios "$TMP/nope"
expect "initrd" -- --kernel "$kernel" --initrd "$TMP/nope"
expect "disk" -- --kernel "$kernel" --disk "$TMP/nope"
expect "512-byte sector" -- --kernel "$kernel" --disk "$TMP/empty"
expect "disk" -- --kernel "$kernel" --disk "$TMP"
expect "--smp" -- --kernel "$kernel" --smp 9
expect "hostfwd" -- --kernel "$kernel" --net "user,hostfwd=bogus"
expect "unknown option '--frobnicate'" -- --kernel "$kernel" --frobnicate
echo "every bad input was refused with a clear message"
