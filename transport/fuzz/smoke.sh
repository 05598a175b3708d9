#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the transport libFuzzer targets and runs each for FUZZ_SECONDS (15). Exit 0 pass, 77 skip, 1 fail.
set -u
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-15}
cd "$(dirname "$0")/../.." || exit 1
if ! command -v "${CLANG:-clang}" >/dev/null; then echo "skip: clang not installed"; exit 77; fi
if ! make -s BUILD="$BUILD" fuzz-transport >"$BUILD/fuzz-transport-build.log" 2>&1; then
	if grep -q -i -E "fuzzer.*(not found|cannot find|unsupported)" "$BUILD/fuzz-transport-build.log"; then
		echo "skip: clang has no libFuzzer runtime"; exit 77
	fi
	cat "$BUILD/fuzz-transport-build.log"; echo "FAIL: fuzzers did not build"; exit 1
fi
rc=0
for f in "$BUILD"/fuzz/fuzz_frame "$BUILD"/fuzz/fuzz_msg_{hello,chunk,ack,progress,heartbeat,goodbye}; do
	corpus=$(mktemp -d)
	if "$f" -max_total_time="$secs" -max_len=8192 -rss_limit_mb=1024 -artifact_prefix="$BUILD/fuzz/" "$corpus" >"$corpus.log" 2>&1; then
		echo "ok $(basename "$f"): $(grep -E '^#[0-9]+.*DONE' "$corpus.log" | tail -n1)"
	else
		echo "FAIL $(basename "$f")"; tail -n 40 "$corpus.log"; rc=1
	fi
	rm -rf "$corpus" "$corpus.log"
done
exit $rc
