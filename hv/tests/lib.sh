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

# refused WHAT PATTERN FTVM-ARGS...: ftvm fails (nonzero) and says PATTERN.
refused() {
	local what=$1 pattern=$2
	shift 2
	timeout -k 5 120 "$FTVM" "$@" >"$TMP/refuse.out" 2>&1
	local rc=$?
	[ $rc -ne 0 ] && grep -q -- "$pattern" "$TMP/refuse.out" || { cat "$TMP/refuse.out"; fail "$what: exit $rc"; }
	echo "ok: $what refused: $(grep -m1 -- "$pattern" "$TMP/refuse.out" | cut -c1-220)"
}

# tap_host_and_client NS CL: namespace NS (the host) with tap0 at 10.77.0.1/24 for a guest at
# 10.77.0.2, and namespace CL (a client at 10.78.0.2) routed to it over a veth pair; the caller
# deletes both namespaces when done.
tap_host_and_client() {
	local ns=$1 cl=$2
	ip netns add "$ns" && ip netns add "$cl" || skip "cannot create network namespaces"
	ip -n "$ns" link set lo up
	ip -n "$cl" link set lo up
	ip -n "$ns" tuntap add dev tap0 mode tap || skip "cannot create a TAP device"
	ip -n "$ns" addr add 10.77.0.1/24 dev tap0
	ip -n "$ns" link set tap0 up
	ip link add "vg$$" type veth peer name "vc$$"
	ip link set "vg$$" netns "$ns"
	ip link set "vc$$" netns "$cl"
	ip -n "$ns" addr add 10.78.0.1/24 dev "vg$$"
	ip -n "$ns" link set "vg$$" up
	ip -n "$cl" addr add 10.78.0.2/24 dev "vc$$"
	ip -n "$cl" link set "vc$$" up
	ip -n "$cl" route add default via 10.78.0.1
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
}
