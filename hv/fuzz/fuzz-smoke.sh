#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz-smoke: builds the virtio libFuzzer targets with clang and runs each for about 20 seconds.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLANG=${CLANG:-clang}
FUZZERS="fuzz_virtq"
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
for f in $FUZZERS; do
	make -s BUILD="$BUILD" CLANG="$CLANG" "$BUILD/fuzz/$f" || { echo "FAIL: building $f"; exit 1; }
	mkdir -p "$tmp/corpus-$f"
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
