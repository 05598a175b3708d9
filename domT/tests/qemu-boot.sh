#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boots the domT Image + initrd on QEMU (not ftvm) and checks init, ftkv, the shell, ftdisk across boots, cpubench.
#
# Exit 0 pass, 77 skip (reason on the last line), anything else fail.
# Env: BUILD (default build), DOMT_IMAGE, DOMT_INITRD, QEMU_TIMEOUT (seconds per wait, default 60).
set -u

BUILD=${BUILD:-build}
IMAGE=${DOMT_IMAGE:-$BUILD/domT/Image}
INITRD=${DOMT_INITRD:-$BUILD/domT/initrd.cpio}
HOST_CPUBENCH=$BUILD/domT/cpubench-host
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
QEMU=qemu-system-riscv64
TIMEOUT=${QEMU_TIMEOUT:-60}
CPUBENCH_ITERS=300
DISK_BLOCKS=1024

skip() { echo "SKIP: $*"; exit 77; }
command -v $QEMU >/dev/null || skip "$QEMU not installed (apt-get install qemu-system-misc)"
[ -r $FW ] || skip "$FW missing (apt-get install opensbi)"
[ -r "$IMAGE" ] && [ -r "$INITRD" ] || skip "no guest in $BUILD/domT (run: make domT)"

tmp=$(mktemp -d /tmp/domT-qemu-boot.XXXXXX)
qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	exec 3>&- 4>&- 5>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
log=
fail() {
	echo "FAIL: $*"
	if [ -n "$log" ] && [ -f "$log" ]; then
		echo "--- last lines of $(basename "$log"):"
		tail -n 30 "$log" | tr -d '\r'
	fi
	exit 1
}

disk=$tmp/disk.img
truncate -s 8M "$disk"

# Starts QEMU in the background with the console on a fifo (stdin) and $log (stdout).
# The host port for ftkv is picked at random and retried if slirp cannot bind it.
boot() {
	local name=$1 append=$2 try
	log=$tmp/$name.log
	for try in 1 2 3 4 5; do
		port=$((20000 + (RANDOM * 7 + $$) % 40000))
		rm -f "$tmp/console"
		mkfifo "$tmp/console"
		$QEMU -machine virt -m 512 -smp 2 -bios $FW -nographic \
			-kernel "$IMAGE" -initrd "$INITRD" -append "console=ttyS0 $append" \
			-netdev user,id=n0,hostfwd=tcp:127.0.0.1:$port-:7000 \
			-device virtio-net-device,netdev=n0 \
			-drive file="$disk",format=raw,if=none,id=d0 \
			-device virtio-blk-device,drive=d0 \
			<"$tmp/console" >"$log" 2>&1 &
		qpid=$!
		exec 5>"$tmp/console" # keeps QEMU's stdin open; the shell steps write here
		sleep 0.3
		if kill -0 $qpid 2>/dev/null || ! grep -q "host forwarding" "$log"; then
			echo "boot $name: port $port: $append"
			return 0
		fi
		wait $qpid
		qpid=
		exec 5>&-
	done
	fail "could not start QEMU with a free host port"
}

# Waits until the console log has a line matching $1 (an extended regexp).
expect_console() {
	local pattern=$1 i
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		tr -d '\r' <"$log" | grep -Eq -- "$pattern" && return 0
		grep -q "domT: FAIL" "$log" && fail "guest reported a failure while waiting for '$pattern'"
		kill -0 $qpid 2>/dev/null || { tr -d '\r' <"$log" | grep -Eq -- "$pattern" && return 0; fail "QEMU exited before '$pattern'"; }
		sleep 0.1
	done
	fail "timed out after ${TIMEOUT}s waiting for '$pattern'"
}

expect_poweroff() {
	local i rc
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		if ! kill -0 $qpid 2>/dev/null; then
			wait $qpid
			rc=$?
			qpid=
			exec 5>&-
			[ $rc -eq 0 ] || fail "QEMU exited with status $rc"
			grep -q "reboot: Power down" "$log" || fail "QEMU exited without a guest power-off"
			return 0
		fi
		sleep 0.1
	done
	fail "guest did not power off within ${TIMEOUT}s"
}

# kv FD COMMAND EXPECTED: one request/reply on an open ftkv connection.
kv() {
	local fd=$1 cmd=$2 want=$3 got
	printf '%s\n' "$cmd" >&"$fd" || fail "ftkv: cannot send '$cmd'"
	IFS= read -r -t 10 got <&"$fd" || fail "ftkv: no reply to '$cmd'"
	got=${got%$'\r'}
	[[ $got =~ ^$want$ ]] || fail "ftkv: '$cmd' replied '$got', want '$want'"
}

prompts() { grep -o "domT# " "$log" | wc -l; }

# shell_cmd COMMAND PATTERN: types a line, waits for the next prompt (so typed-ahead
# echo cannot interleave with output), then expects a console line matching PATTERN.
shell_cmd() {
	local before i
	before=$(prompts)
	printf '%s\n' "$1" >&5 || fail "cannot write to the guest console"
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		[ "$(prompts)" -gt "$before" ] && break
		sleep 0.1
	done
	[ "$(prompts)" -gt "$before" ] || fail "shell: no prompt after '$1'"
	expect_console "$2"
}

# Boot 1: ftkv in the background, write the disk, cpubench, then the interactive shell.
boot first "ftvm.run=ftkv,disk-write,cpubench,shell ftvm.cpubench=$CPUBENCH_ITERS"
expect_console "^domT init: ready"
expect_console "^domT: PASS ftkv"
expect_console "^ftdisk: wrote $DISK_BLOCKS blocks gen 1$"
expect_console "^domT: PASS cpubench"

want_sum=$("$HOST_CPUBENCH" $CPUBENCH_ITERS | sed -n 's/.*checksum=\([0-9a-f]*\).*/\1/p')
got_sum=$(tr -d '\r' <"$log" | sed -n 's/^cpubench: .*checksum=\([0-9a-f]*\).*/\1/p')
[ -n "$want_sum" ] && [ "$got_sum" = "$want_sum" ] ||
	fail "cpubench checksum: guest '$got_sum', host '$want_sum'"

exec 3<>/dev/tcp/127.0.0.1/$port || fail "cannot connect to ftkv on port $port"
kv 3 "PING" "PONG"
kv 3 "SET greeting hello world" "OK"
kv 3 "GET greeting" "VALUE hello world"
kv 3 "INCR counter" "VALUE 1"
kv 3 "INCR counter" "VALUE 2"
exec 4<>/dev/tcp/127.0.0.1/$port || fail "cannot open a second ftkv connection"
kv 4 "INCR counter" "VALUE 3"
kv 4 "STATS" "STATS keys=2 ops=[0-9]+ conns=2"
kv 3 "INCR greeting" "ERR .*"
kv 3 "GET nosuchkey" "NOTFOUND"
kv 3 "DEL greeting" "OK"
kv 3 "DEL greeting" "NOTFOUND"
kv 3 "FROB x" "ERR .*"
kv 3 "GET $(head -c 5000 /dev/zero | tr '\0' k)" "ERR line too long"
kv 3 "get counter" "VALUE 3"
exec 4>&-
exec 3>&-
echo "ftkv: ok"

expect_console "^domT# "
shell_cmd "echo shell-marker-42" "^shell-marker-42$"
shell_cmd "cat /proc/version" "^Linux version 6\.1"
shell_cmd "ls /bin" "^ftdisk$"
shell_cmd "frobnicate" "^frobnicate: unknown command"
printf 'poweroff\n' >&5
expect_poweroff
echo "boot first: ok"

# Boot 2: the same disk verifies, then a rewrite bumps the generation.
boot second "ftvm.run=disk-verify,disk-write,disk-verify"
expect_console "^ftdisk: verified $DISK_BLOCKS blocks gen 1$"
expect_console "^ftdisk: verified $DISK_BLOCKS blocks gen 2$"
expect_poweroff
echo "boot second: ok"

# Boot 3: a corrupted block must be reported and the guest must still power off.
printf 'corrupt' | dd of="$disk" bs=1 seek=$((700 * 4096 + 100)) conv=notrunc status=none
boot third "ftvm.run=disk-verify"
for ((i = 0; i < TIMEOUT * 10; i++)); do
	grep -q "domT: FAIL disk-verify" "$log" && break
	sleep 0.1
done
grep -q "ftdisk: bad block 700: bad payload crc" "$log" || fail "corrupted block 700 was not reported"
grep -q "domT: FAIL disk-verify" "$log" || fail "init did not report the disk-verify failure"
expect_poweroff
echo "boot third: ok"
echo "qemu-boot: all checks passed"
