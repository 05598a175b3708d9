#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two network namespaces joined by a veth pair: ftvm-xport serve in one, send in the other, over TLS,
# on a clean link, a 20 Mbit/s link, across a 3 s partition, and with netem delay and loss where the kernel has it. Exit 0 pass, 77 skip, 1 fail.
set -u
BUILD=${BUILD:-build}
TOOL=$BUILD/ftvm-xport

if [ "$(id -u)" != 0 ]; then echo "skip: needs root for network namespaces"; exit 77; fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then echo "skip: ip netns unavailable"; exit 77; fi
if [ ! -x "$TOOL" ]; then echo "FAIL: $TOOL not built (make $TOOL)"; exit 1; fi

tag=x$$
ns1=ftvm-$tag-s ns2=ftvm-$tag-c
v1=v${tag}s v2=v${tag}c
tmp=$(mktemp -d /tmp/ftvm-netns.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$ns1" 2>/dev/null
	ip netns del "$ns2" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if ! ip netns add "$ns1" 2>"$tmp/err" || ! ip netns add "$ns2" 2>>"$tmp/err"; then
	echo "skip: cannot create network namespaces: $(tail -n1 "$tmp/err")"; exit 77
fi
ip link add "$v1" type veth peer name "$v2" || { echo "skip: cannot create a veth pair"; exit 77; }
ip link set "$v1" netns "$ns1"
ip link set "$v2" netns "$ns2"
ip -n "$ns1" addr add 10.231.0.1/24 dev "$v1"
ip -n "$ns2" addr add 10.231.0.2/24 dev "$v2"
ip -n "$ns1" link set "$v1" up
ip -n "$ns2" link set "$v2" up
ip -n "$ns1" link set lo up
ip -n "$ns2" link set lo up

"$TOOL" certs init "$tmp/certs" --hosts backup,primary >/dev/null || { echo "FAIL: certs init"; exit 1; }

# transfer NAME COUNT SIZE PORT: one serve/send pair; both must succeed and agree.
transfer() {
	local name=$1 count=$2 size=$3 port=$4
	ip netns exec "$ns1" "$TOOL" serve --listen 10.231.0.1:"$port" --certs "$tmp/certs" --name backup \
		--peer primary --count "$count" --timeout 60 >"$tmp/$name.serve" 2>&1 &
	local spid=$!
	pids+=("$spid")
	sleep 0.3
	if ! ip netns exec "$ns2" "$TOOL" send --connect 10.231.0.1:"$port" --certs "$tmp/certs" --name primary \
		--peer backup --count "$count" --size "$size" --timeout 60 >"$tmp/$name.send" 2>&1; then
		echo "FAIL: $name: sender failed"; cat "$tmp/$name.send" "$tmp/$name.serve"; return 1
	fi
	if ! wait "$spid"; then
		echo "FAIL: $name: receiver failed"; cat "$tmp/$name.serve"; return 1
	fi
	grep -h -E '^(send|serve):' "$tmp/$name.send" "$tmp/$name.serve"
	grep -q "received $count chunks" "$tmp/$name.serve" || { echo "FAIL: $name: incomplete"; return 1; }
}

transfer clean 400 262144 7101 || exit 1

# A slow link (token bucket, 20 Mbit/s) on both sides.
ip netns exec "$ns1" tc qdisc add dev "$v1" root tbf rate 20mbit burst 64kbit latency 200ms || exit 1
ip netns exec "$ns2" tc qdisc add dev "$v2" root tbf rate 20mbit burst 64kbit latency 200ms || exit 1
transfer slow 150 16384 7102 || exit 1

# A partition: the link goes down for 3 s in the middle of a transfer, which must still complete
# in order, without gaps or duplicates, once the link is back.
( sleep 1.5; ip -n "$ns2" link set "$v2" down; sleep 3; ip -n "$ns2" link set "$v2" up ) &
pids+=("$!")
transfer partition 400 16384 7103 || exit 1

modprobe sch_netem 2>/dev/null
if ip netns exec "$ns2" tc qdisc replace dev "$v2" root netem delay 20ms loss 1% 2>"$tmp/err"; then
	ip netns exec "$ns1" tc qdisc replace dev "$v1" root netem delay 20ms loss 1% || true
	transfer netem 300 16384 7104 || exit 1
else
	echo "note: this kernel has no sch_netem ($(tail -n1 "$tmp/err")); delay/loss part not run"
fi
echo "netns transfers passed"
