#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A disk written and fsynced by the guest in one run is read back and verified in the next.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

disk=$TMP/disk.img
truncate -s 64M "$disk"
boot_domT 240 "ftvm.run=disk-write ftvm.diskgen=7" --net none --disk "$disk"
rc=$?
[ $rc -eq 0 ] && grep -q "domT: PASS disk-write" "$TMP/console" || { show_console; fail "disk-write run: exit $rc"; }
cmp -s <(head -c 4096 "$disk") <(head -c 4096 /dev/zero) && fail "the disk image is still zero after disk-write"

boot_domT 240 "ftvm.run=disk-verify ftvm.diskgen=7" --net none --disk "$disk"
rc=$?
[ $rc -eq 0 ] && grep -q "domT: PASS disk-verify" "$TMP/console" || { show_console; fail "disk-verify run: exit $rc"; }

# The check can fail: corrupt one block and expect the guest to notice.
printf 'corrupt' | dd of="$disk" bs=1 seek=$((4096 * 5 + 100)) conv=notrunc status=none
boot_domT 240 "ftvm.run=disk-verify ftvm.diskgen=7" --net none --disk "$disk"
grep -q "domT: FAIL disk-verify" "$TMP/console" || { show_console; fail "a corrupted block went unnoticed"; }
echo "disk contents survive across runs and corruption is detected"
