#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ASan+UBSan build of ftvm runs the ISA suite and a Linux guest with disk, network and a
# record/replay round trip: a guest must not be able to make the VMM read or write out of bounds.
set -u
. "$(dirname "$0")/lib.sh"
require_domT
ASAN_FTVM=${ASAN_FTVM:-build-asan/ftvm}
[ -x "$ASAN_FTVM" ] || fail "$ASAN_FTVM is not built (make SAN=asan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

FTVM=$ASAN_FTVM BUILD=$BUILD "$(dirname "$0")/isa/run-ftvm.sh" || fail "ISA suite under ASan"

disk=$TMP/disk.img
truncate -s 16M "$disk"
port=$(free_port)
"$ASAN_FTVM" record --log "$TMP/a.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --disk "$disk" \
	--no-console-input --net "user,hostfwd=tcp:127.0.0.1:$port-:7000" --smp 2 \
	--append "console=ttyS0 ftvm.run=ftkv,disk-write,cpubench,disk-verify ftvm.cpubench=200 ftvm.diskblocks=256" \
	>"$TMP/console" 2>&1
rc=$?
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP/console" && fail "sanitizer report"
[ $rc -eq 0 ] && grep -q "domT: PASS disk-verify" "$TMP/console" || { show_console; fail "guest run: exit $rc"; }
cp "$disk" "$TMP/after-record.img"
truncate -s 0 "$disk"; truncate -s 16M "$disk"
"$ASAN_FTVM" replay "$TMP/a.ftlog" --quiet --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --disk "$disk" 2>"$TMP/replay.err"
rc=$?
cat "$TMP/replay.err"
grep -E "ERROR: AddressSanitizer|runtime error" "$TMP/replay.err" && fail "sanitizer report in replay"
[ $rc -eq 0 ] || fail "replay under ASan: exit $rc"
cmp -s "$disk" "$TMP/after-record.img" || fail "the replayed disk differs from the recorded one"
echo "ISA suite, Linux with disk and network, and its replay ran clean under ASan and UBSan"
