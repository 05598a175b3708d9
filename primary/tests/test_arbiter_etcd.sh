#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The etcd arbiter against a real three-member etcd cluster on loopback ports picked here:
# basic compare-and-set, 20 racing processes, lease keepalive and expiry, then one member killed
# (take still works) and a second (take fails with a clear error within its bound); then one
# member with TLS and client-certificate authentication: with the client certificate the
# arbiter works, without it it is refused with a clear error.
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
fail() { echo "FAIL: $*"; for i in 0 1 2 tls; do echo "--- etcd $i"; tail -n 5 "$dir/e$i.log" "$dir/$i.log" 2>/dev/null; done; exit 1; }

# Eight free loopback ports: client and peer for each member, then for the TLS member.
read -r -a ports < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(8)]
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
# Figures (printed, never asserted): a take on etcd beside one on the lock file.
"$T" bench "$spec/ftvm/bench" 50 || fail "bench"
"$T" bench "lock:$dir/arbiter.lock" 50 || fail "bench"

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
kill -KILL "${pids[2]}"; wait "${pids[2]}" 2>/dev/null

# TLS: a CA, a server certificate for 127.0.0.1, a client certificate; etcd with --client-cert-auth.
(
	cd "$dir" || exit 1
	cert() {	# NAME SUBJECT EXTENSIONS
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
			-subj "/CN=$2" 2>/dev/null &&
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 1 \
			-extfile <(printf '%s\n' "$3") 2>/dev/null
	}
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
		-subj /CN=ftvm-test-etcd-ca -days 1 2>/dev/null &&
	cert server etcd "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth" && cert client primary "extendedKeyUsage=clientAuth"
) || fail "cannot make test certificates with openssl"
tls_url="https://127.0.0.1:${ports[6]}"
etcd --name tls --data-dir "$dir/tls" --listen-client-urls "$tls_url" --advertise-client-urls "$tls_url" \
	--listen-peer-urls "http://127.0.0.1:${ports[7]}" --initial-advertise-peer-urls "http://127.0.0.1:${ports[7]}" \
	--initial-cluster "tls=http://127.0.0.1:${ports[7]}" --cert-file "$dir/server.crt" --key-file "$dir/server.key" \
	--trusted-ca-file "$dir/ca.crt" --client-cert-auth >"$dir/tls.log" 2>&1 &
pids[3]=$!
up=0
for _ in $(seq 1 60); do
	ETCDCTL_ENDPOINTS="$tls_url" etcdctl --cacert "$dir/ca.crt" --cert "$dir/client.crt" --key "$dir/client.key" \
		endpoint health >/dev/null 2>&1 && { up=1; break; }
	sleep 0.5
done
[ $up = 1 ] || fail "the TLS member did not come up"
tls="etcd://127.0.0.1:${ports[6]}/ftvm/tls"
"$T" works "$tls?cacert=$dir/ca.crt&cert=$dir/client.crt&key=$dir/client.key" || fail "TLS with a client certificate"
"$T" down "$tls?cacert=$dir/ca.crt&timeout_ms=400" 1000 || fail "TLS without a client certificate must be refused"
"$T" down "etcd://127.0.0.1:${ports[6]}/ftvm/tls?timeout_ms=400" 1000 || fail "plain HTTP to a TLS member must fail"
echo "etcd arbiter: compare-and-set, races, leases, minority and majority outages, TLS as expected"
