# SPDX-License-Identifier: MIT
# Shared helpers for hv's system tests (sourced, not run).
BUILD=${BUILD:-build}
FTVM=${FTVM:-$BUILD/ftvm}
DOMT_IMAGE=$BUILD/domT/Image
DOMT_INITRD=$BUILD/domT/initrd.cpio
TMP=$(mktemp -d /tmp/ftvm-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

require_ftvm() { [ -x "$FTVM" ] || fail "$FTVM is not built"; }
require_domT() {
	require_ftvm
	[ -f "$DOMT_IMAGE" ] && [ -f "$DOMT_INITRD" ] || fail "the domT guest is not built (make domT)"
}

# A TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Boot the default guest with extra kernel command line words; output to $TMP/console.
# usage: boot_domT TIMEOUT_S "ftvm.run=..." [ftvm run options...]
boot_domT() {
	local t=$1 words=$2
	shift 2
	timeout -k 5 "$t" "$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
		--no-console-input --append "console=ttyS0 panic=-1 $words" "$@" >"$TMP/console" 2>&1
}

show_console() { echo "--- guest console (last 40 lines)"; tail -n 40 "$TMP/console"; }
