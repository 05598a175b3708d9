#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The etcd arbiter against a real three-member etcd cluster on loopback ports picked here:
# basic compare-and-set, 20 racing processes, lease keepalive and expiry, then one member killed
# (take still works) and a second (take fails with a clear error within its bound).
# Exit 0 pass, 77 skip, 1 fail.  Reads BUILD (default build).
set -u
BUILD=${BUILD:-build}
T=$BUILD/primary/tests/test_arbiter_etcd
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
	{ echo "skip: no etcd (Debian's etcd-server and etcd-client; scripts/install-deps)"; exit 77; }
[ -x "$T" ] || { echo "skip: $T is not built (make BUILD=$BUILD $T)"; exit 77; }

dir=$(mktemp -d /tmp/ftvm-etcd-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for i in 1 2 3; do echo "--- etcd $i"; tail -n 5 "$dir/e$i.log"; done; exit 1; }

# Six free loopback ports: client and peer for each member.
read -r -a ports < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
cluster="" endpoints=""
for i in 0 1 2; do
	cluster+="${cluster:+,}e$i=http://127.0.0.1:${ports[$((i + 3))]}"
	endpoints+="${endpoints:+,}127.0.0.1:${ports[$i]}"
done
for i in 0 1 2; do
	etcd --name "e$i" --data-dir "$dir/e$i" \
		--listen-client-urls "http://127.0.0.1:${ports[$i]}" --advertise-client-urls "http://127.0.0.1:${ports[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${ports[$((i + 3))]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${ports[$((i + 3))]}" \
		--initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "ftvm-test-$$" \
		>"$dir/e$i.log" 2>&1 &
	pids[i]=$!
done
export ETCDCTL_API=3 ETCDCTL_ENDPOINTS="$endpoints" ETCDCTL_DIAL_TIMEOUT=1s ETCDCTL_COMMAND_TIMEOUT=2s
healthy() { [ "$(etcdctl endpoint health --cluster 2>&1 | grep -c 'is healthy')" -ge "$1" ]; }
wait_healthy() {
	for _ in $(seq 1 60); do healthy "$1" && return 0; sleep 0.5; done
	return 1
}
wait_healthy 3 || fail "the etcd cluster did not come up"
echo "etcd cluster up: $endpoints"

spec="etcd://$endpoints"
"$T" basic "$spec/ftvm/basic" || fail "basic"
"$T" race "$spec/ftvm/race" 20 || fail "race"
"$T" lease "$spec/ftvm/lease" /ftvm/lease/lease || fail "lease"

# A minority outage: the first endpoint in the spec is the one lost, so each call moves past it.
kill -KILL "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
echo "member e0 (${ports[0]}) killed"
wait_healthy 2 || fail "the two remaining members found no leader"
"$T" works "$spec/ftvm/minority" || fail "take with one member of three lost"

# A majority outage: the one survivor answers nothing that needs a quorum.
kill -KILL "${pids[1]}"; wait "${pids[1]}" 2>/dev/null
echo "member e1 (${ports[1]}) killed: no majority"
timeout_ms=400
# the bound: each of three endpoints once, plus scheduling slack on a loaded 2-core machine
"$T" down "$spec/ftvm/majority?timeout_ms=$timeout_ms" $((3 * timeout_ms + 600)) || fail "without a majority"
echo "etcd arbiter: compare-and-set, races, leases, minority and majority outages as expected"
