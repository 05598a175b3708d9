#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz-smoke: builds the libFuzzer targets (virtio, replay log, snapshot, checkpoint pieces) with clang and runs each for about 20 seconds.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLANG=${CLANG:-clang}
FUZZERS="fuzz_virtq fuzz_rr_log fuzz_snapshot fuzz_ckpt_piece"
SECONDS_EACH=${FUZZ_SECONDS:-20}

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "skip: $CLANG not found"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$tmp/probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" "$tmp/probe.c" >/dev/null 2>&1; then
	echo "skip: $CLANG cannot link -fsanitize=fuzzer (libFuzzer runtime missing)"
	exit 77
fi
# Seeds for fuzz_virtq (layout in hv/fuzz/fuzz_virtq.c): well-formed blk and net
# requests, so that the run starts at the request paths rather than at the rings.
virtq_seeds() {
	command -v python3 >/dev/null 2>&1 || return 0
	python3 - "$1" <<'PY'
import struct, sys, os
B = 0x80000000
def desc(addr, ln, flags, nxt=0):
    return struct.pack('<QIHH', B + addr, ln, flags, nxt)
def seed(name, cmds, ram):
    body = bytes([3, 3, 3, 3, len(cmds)]) + b''.join(bytes(c) for c in cmds)
    with open(os.path.join(sys.argv[1], name), 'wb') as f:
        f.write(body + bytes(ram))
def blk(kind, data_flags, indirect=False):
    ram = bytearray(0xc00)
    chain = desc(0x600, 16, 1, 1) + desc(0x800, 512, 1 | data_flags, 2) + desc(0x700, 1, 2)
    if indirect:
        ram[0:16] = desc(0xa00, 48, 4)
        ram[0xa00:0xa30] = chain
    else:
        ram[0:48] = chain
    ram[0x600:0x610] = struct.pack('<IIQ', kind, 0, 1)
    return ram
seed('blk-read', [[6, 0, 0, 0]], blk(0, 2))
seed('blk-write', [[6, 0, 0, 0]], blk(1, 0))
seed('blk-indirect', [[6, 0, 0, 0]], blk(0, 2, True))
seed('blk-flush-getid', [[6, 0, 0, 0], [6, 0, 0, 0]], blk(8, 2))
tx = bytearray(0x700)
tx[0x400:0x410] = desc(0x600, 74, 0)
seed('net-tx', [[0x86, 0, 1, 0]], tx)
rx = bytearray(0x300)
rx[0x200:0x210] = desc(0x800, 1526, 2)
seed('net-rx', [[1, 5, 60, 0], [0x86, 0, 0, 0], [1, 6, 61, 0]], rx)
PY
}

for f in $FUZZERS; do
	make -s BUILD="$BUILD" CLANG="$CLANG" "$BUILD/fuzz/$f" || { echo "FAIL: building $f"; exit 1; }
	mkdir -p "$tmp/corpus-$f"
	[ "$f" = fuzz_virtq ] && virtq_seeds "$tmp/corpus-$f"
	# A real log as a seed: a bare-metal test recorded with a digest as often as allowed (1M steps).
	if [ "$f" = fuzz_rr_log ] && [ -x "$BUILD/ftvm" ] && [ -f "$BUILD/isa/interrupts.elf" ]; then
		"$BUILD/ftvm" record --log "$tmp/corpus-$f/seed.ftlog" --bios none --no-console-input \
			--digest-interval 1M --kernel "$BUILD/isa/interrupts.elf" >/dev/null 2>&1
	fi
	# A real snapshot as a seed: a small two-hart machine with virtio-net (test_snapshot writes it).
	if [ "$f" = fuzz_snapshot ] && [ -x "$BUILD/hv/tests/test_snapshot" ]; then
		"$BUILD/hv/tests/test_snapshot" --write-seed "$tmp/corpus-$f/seed.snap" >/dev/null 2>&1
	fi
	if ! "$BUILD/fuzz/$f" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$tmp/" "$tmp/corpus-$f" >"$tmp/$f.log" 2>&1; then
		tail -n 40 "$tmp/$f.log"
		mkdir -p "$BUILD/fuzz/crashes"
		cp "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* "$BUILD/fuzz/crashes/" 2>/dev/null
		echo "FAIL: $f found a problem (inputs kept in $BUILD/fuzz/crashes/)"
		exit 1
	fi
	tail -n 2 "$tmp/$f.log"
	echo "ok: $f ran ${SECONDS_EACH}s"
done
exit 0
