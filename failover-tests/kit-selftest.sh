#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The drill kit's own test, with no daemon: the real guest served on host p's TAP, then on host b's
# (the switch relearns its MAC), reached from the client host, and unreachable through a cut bridge
# port; the replication link, a silent partition of it and its healing; a tbf cap; the freezer and
# the cpu cap; relay.py damaging a real TLS transfer (ftvm-xport) that must still arrive whole; a
# three-member etcd cluster losing one member and then a majority; and cleanup removing every
# namespace even when a drill fails.  Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_nft
ft_require_domT
XPORT=${XPORT:-$BUILD/ftvm-xport}
[ -x "$XPORT" ] || ft_fail "$XPORT is not built"

# Cleanup after a failure: a child drill that makes namespaces and then fails leaves none behind.
child=$(BUILD=$BUILD FTVM=$FTVM bash -c '. "$1/lib.sh"; ft_topology; echo "$FT_TAG"; ft_fail "on purpose"' _ "$FT_DIR")
tag=$(echo "$child" | head -n 1)
[ -n "$tag" ] || ft_fail "the child drill did not run: $child"
ip netns list | grep -q "^$tag-" && ft_fail "namespaces of a failed drill were left behind: $(ip netns list | grep "^$tag-")"
echo "ok   a failed drill leaves no namespace behind"

ft_topology
ft_reachable p "$FT_BACKUP_REPL_IP" && ft_reachable b "$FT_PRIMARY_REPL_IP" || ft_fail "the replication link does not carry traffic"
ft_reachable c "$FT_PRIMARY_REPL_IP" && ft_fail "the client host reaches the replication link"
ft_partition_replication
ft_reachable p "$FT_BACKUP_REPL_IP" && ft_fail "a partitioned replication link carries traffic (p to b)"
ft_reachable b "$FT_PRIMARY_REPL_IP" && ft_fail "a partitioned replication link carries traffic (b to p)"
ip -n "$(ft_ns_name p)" link show dev rp | grep -q "state UP" || ft_fail "the partition took the link down; it must stay up and silent"
ft_heal_replication
ft_reachable p "$FT_BACKUP_REPL_IP" || ft_fail "the healed replication link carries no traffic"
echo "ok   replication link, silent partition (link stays up), healing"
ft_slow p rp 8mbit
ft_in p tc qdisc show dev rp | grep -q tbf || ft_fail "no tbf qdisc on rp"
ft_unslow p rp
echo "ok   tbf bandwidth cap"

# The guest on host p, then on host b, from the client host.
for host in p b; do
	ft_round "guest-$host"
	ft_tap_monitor
	ft_bg "guest$host" "$host" "$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net tap:tap0 \
		--no-console-input --append "$(ft_append)"
	ft_wait_kv 120 || { ft_show "guest$host"; ft_fail "the guest on host $host did not serve the client host"; }
	ft_clients load --clients 3 --duration 2 --keys 3 --final-read --timeout 10
	ft_wait load 60 || { cat "$FT_RUN/load.out"; ft_fail "clients against the guest on host $host failed"; }
	ft_check_history load >/dev/null || { cat "$FT_RUN/load.check"; ft_fail "a single guest's history is not linearizable"; }
	[ "$(ft_serving 0)" = "$host" ] || ft_fail "frames came from '$(ft_serving 0)', want host $host alone"
	ft_partition_port "$host" "tr$host"
	ft_wait_kv 3 2>/dev/null && ft_fail "the client reaches the guest through a cut bridge port"
	ft_heal "$host"
	ft_wait_kv 30 || ft_fail "the guest is unreachable after healing its bridge port"
	ft_kill "guest$host"
	ft_tap_monitor_stop
	echo "ok   guest on host $host: $(tail -n 1 "$FT_RUN/load.out" | cut -c1-60)..."
done

# The freezer stops a process without a signal.
ft_round misc
ft_bg sleeper c sleep 600
ft_freeze sleeper
sleep 0.2
grep -q FROZEN "/sys/fs/cgroup/freezer/$FT_TAG-sleeper/freezer.state" || ft_fail "the freezer did not freeze"
ft_thaw sleeper
ft_kill sleeper
echo "ok   cgroup freezer"
ft_bg spinner c python3 -c 'while True: pass'
sleep 0.5
ft_throttle spinner 10
t0=$(awk '{ print $14 + $15 }' "/proc/$(ft_pid spinner)/stat")
sleep 2
t1=$(awk '{ print $14 + $15 }' "/proc/$(ft_pid spinner)/stat")
ft_kill spinner
ticks=$(getconf CLK_TCK)
[ $(( (t1 - t0) * 100 / (2 * ticks) )) -le 20 ] || ft_fail "a process capped at 10% of a CPU used $(( (t1 - t0) * 100 / (2 * ticks) ))%"
echo "ok   cgroup cpu cap: $(( (t1 - t0) * 100 / (2 * ticks) ))% of a CPU at a 10% cap"

# relay.py on the replication link: a real TLS transfer survives a bit flip, a truncation, replayed
# bytes and a reset, and arrives whole (the same digest as through a clean relay).
transfer() {	# transfer NAME FAULTS...
	local name=$1; shift
	ft_relay_start 5
	ft_bg "serve$name" b "$XPORT" serve --listen "$FT_BACKUP_REPL_IP:$FT_REPL_PORT" --certs "$FT_TMP/certs" \
		--name backup --peer primary --count 4000 --timeout 60
	sleep 0.3
	ft_bg "send$name" p "$XPORT" send --connect "$FT_PEER" --certs "$FT_TMP/certs" --name primary \
		--peer backup --count 4000 --size 8192 --timeout 60
	for f in "$@"; do sleep 0.4; ft_relay "$f"; done
	ft_wait "send$name" 90 || { ft_show "send$name"; ft_fail "relay ($name): the sender failed"; }
	ft_wait "serve$name" 30 || { ft_show "serve$name"; ft_fail "relay ($name): the receiver failed"; }
	ft_kill relay
	grep -o "received .*" "$FT_RUN/serve$name.out"
}
ft_certs "$FT_TMP/certs"
ft_round relay-clean
clean=$(transfer clean)
ft_round relay-faults
faulty=$(transfer faulty corrupt truncate replay cut)
echo "$clean"; echo "$faulty"
grep -c "conn .*: open" "$FT_RUN/relay/log" | grep -q -v '^1$' || ft_fail "the faults did not break the connection"
[ "${clean##*digest }" = "${faulty##*digest }" ] || ft_fail "the transfer through the damaging relay differs from the clean one"
echo "ok   relay.py: bit flip, truncation, replayed bytes, reset; the stream still arrived whole"

# Three etcd members: a minority lost changes nothing, a majority lost stops writes.
if command -v etcd >/dev/null; then
	ft_round etcd
	ft_etcd_cluster 3
	ft_etcdctl p put /ftvm/kit 1 >/dev/null 2>&1 || ft_fail "etcd put failed on a healthy cluster"
	ft_etcdctl b get /ftvm/kit | grep -q '^1$' || ft_fail "etcd get from host b did not see the value"
	ft_etcd_kill 1
	# A lost leader means an election first (about a second).
	ft_wait_for 20 eval 'ft_etcdctl p put /ftvm/kit 2 >/dev/null 2>&1' || ft_fail "etcd put failed with one member of three lost"
	ft_etcd_kill 2
	ft_etcdctl p put /ftvm/kit 3 >/dev/null 2>&1 && ft_fail "etcd accepted a write without a majority"
	ft_etcd_restart 2
	ft_wait_for 30 eval 'ft_etcdctl p put /ftvm/kit 4 >/dev/null 2>&1' || ft_fail "etcd did not recover its majority"
	ft_cut_arbiter b
	ft_etcdctl b get /ftvm/kit >/dev/null 2>&1 && ft_fail "host b reaches etcd through a cut"
	ft_etcdctl p get /ftvm/kit | grep -q '^4$' || ft_fail "host p lost etcd when host b was cut off"
	echo "ok   etcd: 3 members, a minority lost, a majority lost, recovered, a host cut off"
else
	echo "note: no etcd installed; the arbiter part was not run"
fi
echo "the drill kit works here"
