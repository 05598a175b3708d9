#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: the guest's ftdisk writes self-checking blocks (FT_DISK_BLOCKS of 4 KiB, default 32768)
# while the primary is SIGKILLed at a random point of the write.  The backup, with its own copy of
# the disk, must finish the write and verify every block in the same boot, serve ftkv afterwards,
# and its disk copy must verify again in a fresh boot with plain `ftvm run`.  Exit 0 pass, 77 skip,
# 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
blocks=${FT_DISK_BLOCKS:-32768}
echo "seed $FT_SEED, $blocks blocks"
ft_topology
ft_round 1
FT_PRIMARY_DISK=$FT_RUN/primary.img
FT_BACKUP_DISK=$FT_RUN/backup.img
truncate -s $((blocks * 4096 + 1048576)) "$FT_PRIMARY_DISK" "$FT_BACKUP_DISK"
FT_APPEND=$(ft_append disk-write,disk-verify,ftkv,idle:3600 "ftvm.diskblocks=$blocks")
ft_start_backup
sleep 0.2
ft_start_primary
ft_wait_for 120 ft_out_has primary "domT: run disk-write" || { ft_show primary; ft_show backup; ft_fail "the guest did not start writing"; }
ft_sleep_ms "$(ft_random_ms 200 2000)"
ft_out_has primary "ftdisk: wrote" && ft_fail "the write ended before the kill point (raise FT_DISK_BLOCKS)"
ft_kill primary KILL
ft_note "primary SIGKILLed during the write"
ft_out_has primary "ftdisk: wrote" && ft_fail "the write ended before the kill (raise FT_DISK_BLOCKS)"
ft_wait_for 180 ft_out_has backup "ftdisk: (verified|bad block)|domT: FAIL" || { ft_show backup; ft_fail "the backup did not finish the write and verify"; }
sleep 0.5
grep -E "ftdisk|domT: (PASS|FAIL)" "$FT_RUN/backup.out"
ft_out_has backup "ftdisk: verified $blocks blocks gen 1" && ft_out_has backup "domT: PASS disk-verify" ||
	{ ft_show backup; ft_fail "the disk written across the failover did not verify"; }
ft_wait_kv 60 || { ft_show backup; ft_fail "ftkv did not answer after the disk workloads"; }
ft_kill backup KILL

# The backup's disk copy, booted afresh, holds the same blocks.
timeout -k 5 300 "$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --disk "$FT_BACKUP_DISK" \
	--no-console-input --append "console=ttyS0 panic=-1 ftvm.ip=none ftvm.run=disk-verify ftvm.diskblocks=$blocks ftvm.diskgen=1" \
	>"$FT_RUN/reboot.out" 2>&1
grep -E "ftdisk|domT: (PASS|FAIL)" "$FT_RUN/reboot.out"
grep -q "ftdisk: verified $blocks blocks gen 1" "$FT_RUN/reboot.out" || { tail -n 20 "$FT_RUN/reboot.out"; ft_fail "the backup's disk copy does not verify in a fresh boot"; }
echo "ftdisk wrote across a failover; every block verified, in the same boot and in a fresh one"
