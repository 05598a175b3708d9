# SPDX-License-Identifier: MIT
# Shared helpers for the failover drills (sourced, not run): network namespaces for a primary host,
# a backup host and clients, the guest network, the replication link, fault injection, cleanup.
#
# Topology (every name carries this run's tag; all addresses live only inside these namespaces):
#
#   ns "lan" (a switch): bridge brlan ─ s-trp ═ trp ─ ns "p": bridge brg ─ tap0  (primary's guest NIC)
#                                     ├ s-trb ═ trb ─ ns "b": bridge brg ─ tap0  (backup's guest NIC)
#                                     └ s-c0  ═ c0    ns "c": 10.60.0.100/24      (clients)
#   ns "p" rp 10.61.0.1/24 ══ veth (the replication link) ══ ns "b" rb 10.61.0.2/24
#
# The guest is 10.60.0.2/24 (ftvm.ip= on the kernel command line) with the same MAC on either host,
# so a client keeps talking to the same address across a failover; the switch learns the guest's
# new port from the first frame the backup sends.  ft_ns and ft_attach add more hosts (etcd
# members) on a further bridge of the switch.
#
# Environment: BUILD (build), FTVM ($BUILD/ftvm), FT_SEED (random points; printed so a run can be
# repeated), FT_KEEP=1 keeps the temp dir (FT_KEEP=fail: only when the drill fails); more where the
# pair is started, below.
BUILD=${BUILD:-build}
FTVM=${FTVM:-$BUILD/ftvm}
DOMT_IMAGE=${DOMT_IMAGE:-$BUILD/domT/Image}
DOMT_INITRD=${DOMT_INITRD:-$BUILD/domT/initrd.cpio}
FT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FT_SEED=${FT_SEED:-$(( $(date +%s%N) % 1000000007 ))}
RANDOM=$((FT_SEED % 32768))

FT_TAG=ft$(( $$ % 100000 ))	# interface names stay within 15 bytes
FT_TMP=$(mktemp -d /tmp/ftvm-drill.XXXXXX)
FT_RUN=$FT_TMP	# this round's files: daemon output, logs, control sockets, the arbiter lock
FT_NS=()	# namespaces made, in order
FT_PIDS=()	# background processes started
FT_CGROUPS=()	# cgroups made (freezer, cpu)

FT_GUEST_IP=10.60.0.2
FT_GUEST_MAC=52:54:00:12:34:56	# the virt machine's default, on either host
FT_CLIENT_IP=10.60.0.100
FT_PRIMARY_REPL_IP=10.61.0.1
FT_BACKUP_REPL_IP=10.61.0.2
FT_REPL_PORT=7400
FT_KV_PORT=7000

ft_fail() { echo "FAIL: $*"; exit 1; }
ft_skip() { echo "SKIP: $*"; exit 77; }
ft_note() { echo "[$(date +%T.%3N)] $*"; }

# The namespace name of a role: ft_ns_name p -> ft12345-p
ft_ns_name() { echo "$FT_TAG-$1"; }
# Run a command inside a role's namespace: ft_in p ip addr
ft_in() { local ns; ns=$(ft_ns_name "$1"); shift; ip netns exec "$ns" "$@"; }

ft_cleanup() {
	local rc=$? p ns cg
	trap - EXIT INT TERM
	exec 2>/dev/null	# no job-control notices for the processes killed below
	for p in "${FT_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for cg in "${FT_CGROUPS[@]}"; do
		echo THAWED >"$cg/freezer.state" 2>/dev/null
	done
	# Anything still running inside our namespaces was started by this drill.
	for ns in "${FT_NS[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	done
	{ wait; } 2>/dev/null
	for cg in "${FT_CGROUPS[@]}"; do rmdir "$cg" 2>/dev/null; done	# empty once its tasks are gone
	for ns in "${FT_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [ "${FT_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ "${FT_KEEP:-0}" = fail ]; }; then
		echo "kept $FT_TMP"
	else
		rm -rf "$FT_TMP"
	fi
	exit $rc
}
trap ft_cleanup EXIT
trap 'exit 130' INT TERM

ft_require_root() {
	[ "$(id -u)" = 0 ] || ft_skip "needs root for network namespaces, TAP and nftables"
	command -v ip >/dev/null || ft_skip "no ip (iproute2)"
	[ -c /dev/net/tun ] || ft_skip "no /dev/net/tun"
	command -v python3 >/dev/null || ft_skip "no python3"
}
ft_require_nft() { command -v nft >/dev/null || ft_skip "no nft (scripts/install-deps installs nftables)"; }
ft_require_domT() {
	[ -x "$FTVM" ] || ft_fail "$FTVM is not built (make)"
	[ -f "$DOMT_IMAGE" ] && [ -f "$DOMT_INITRD" ] || ft_fail "the domT guest is not built (make domT)"
}
# FT_ARBITER=lock (default: a lock file both namespaces reach) or etcd (ft_topology then makes a
# three-member cluster; issue 9).
ft_arbiter_spec() {
	if [ "${FT_ARBITER:-lock}" = etcd ]; then echo "etcd://$FT_ETCD_ENDPOINTS"; else echo "lock:$FT_RUN/arbiter.lock"; fi
}
ft_require_etcd_arbiter() {
	"$FTVM" primary --help 2>&1 | grep -q -i etcd || ft_skip "'ftvm primary' has no etcd arbiter yet (--help does not mention etcd)"
}
# The drills need the daemons; until they exist every drill skips with this reason.
ft_require_daemons() {
	"$FTVM" primary --help >/dev/null 2>&1 || ft_skip "'ftvm primary' does not exist yet ($FTVM primary --help fails)"
	"$FTVM" backup --help >/dev/null 2>&1 || ft_skip "'ftvm backup' does not exist yet ($FTVM backup --help fails)"
}

# ft_ns ROLE: a namespace with loopback up.
ft_ns() {
	local ns; ns=$(ft_ns_name "$1")
	ip netns add "$ns" 2>"$FT_TMP/err" || ft_skip "cannot create network namespaces: $(tail -n1 "$FT_TMP/err")"
	FT_NS+=("$ns")
	ip -n "$ns" link set lo up
}

# ft_veth ROLE1 IF1 ROLE2 IF2: a veth pair, one end in each namespace, both up.
ft_veth() {
	local n1 n2; n1=$(ft_ns_name "$1") n2=$(ft_ns_name "$3")
	ip link add "$2" netns "$n1" type veth peer name "$4" netns "$n2" ||
		ft_fail "cannot create veth $2/$4"
	ip -n "$n1" link set dev "$2" up
	ip -n "$n2" link set dev "$4" up
}

# ft_bridge ROLE BR: a bridge that forwards at once (no STP, no forwarding delay).
ft_bridge() {
	local ns; ns=$(ft_ns_name "$1")
	ip -n "$ns" link add "$2" type bridge forward_delay 0 stp_state 0 || ft_fail "cannot create bridge $2"
	ip -n "$ns" link set "$2" up
}

# ft_attach ROLE IF ADDR/PREFIX [BR]: joins ROLE to the switch's bridge BR (default brlan) with a
# veth whose ROLE end is IF with ADDR; the switch end is named s-IF.
ft_attach() {
	local role=$1 ifname=$2 addr=$3 br=${4:-brlan} lan; lan=$(ft_ns_name lan)
	ip -n "$lan" link show "$br" >/dev/null 2>&1 || ft_bridge lan "$br"
	ft_veth "$role" "$ifname" lan "s-$ifname"
	ip -n "$lan" link set dev "s-$ifname" master "$br"
	[ -n "$addr" ] && ip -n "$(ft_ns_name "$role")" addr add "$addr" dev "$ifname"
	return 0
}

# ft_host_tap ROLE: in ROLE's namespace a TAP device tap0 for ftvm's --net tap:tap0, on a local
# bridge brg whose uplink joins the switch's guest network.  The host has no address there.
ft_host_tap() {
	local role=$1 ns; ns=$(ft_ns_name "$1")
	ip -n "$ns" tuntap add dev tap0 mode tap 2>"$FT_TMP/err" || ft_skip "cannot create a TAP device: $(tail -n1 "$FT_TMP/err")"
	ft_bridge "$role" brg
	ip -n "$ns" link set tap0 master brg
	ip -n "$ns" link set tap0 up
	ft_attach "$role" "tr$role" ""
	ip -n "$ns" link set dev "tr$role" master brg
}

# ft_topology: the primary host p, the backup host b, the client host c, the switch lan, and the
# replication link rp (on p) - rb (on b).
ft_topology() {
	ft_ns lan; ft_bridge lan brlan
	ft_ns p; ft_ns b; ft_ns c
	ft_host_tap p
	ft_host_tap b
	ft_attach c c0 "$FT_CLIENT_IP/24"
	ft_veth p rp b rb
	ip -n "$(ft_ns_name p)" addr add "$FT_PRIMARY_REPL_IP/24" dev rp
	ip -n "$(ft_ns_name b)" addr add "$FT_BACKUP_REPL_IP/24" dev rb
	if [ "${FT_ARBITER:-lock}" = etcd ]; then ft_etcd_cluster 3; fi
	return 0
}

# ft_round N: a fresh directory for round N's files (several rounds share one topology); with the
# etcd arbiter, an empty etcd too, so every round's pair starts from nothing.
ft_round() {
	FT_RUN=$FT_TMP/round$1
	mkdir -p "$FT_RUN"
	if [ "${FT_ARBITER:-lock}" = etcd ] && [ "$FT_ETCD_MEMBERS" -gt 0 ]; then
		ft_etcdctl p del "" --from-key=true >/dev/null || ft_fail "cannot empty etcd"
	fi
	return 0
}

# ft_bg NAME ROLE CMD...: runs CMD in ROLE's namespace in the background, output in
# $FT_RUN/NAME.out, its pid in FT_PID_NAME (so NAME is letters, digits and _).
ft_bg() {
	local name=$1 ns; ns=$(ft_ns_name "$2"); shift 2
	ip netns exec "$ns" "$@" >"$FT_RUN/$name.out" 2>&1 &
	FT_PIDS+=($!)
	printf -v "FT_PID_$name" %s $!
}
ft_pid() { local v="FT_PID_$1"; echo "${!v:-}"; }
ft_alive() { local p; p=$(ft_pid "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# ft_kill NAME [SIGNAL]: signals a process started by ft_bg (SIGKILL by default) and reaps it.
ft_kill() {
	local p; p=$(ft_pid "$1")
	[ -n "$p" ] || return 0
	kill "-${2:-KILL}" "$p" 2>/dev/null
	if [ "${2:-KILL}" = KILL ]; then { wait "$p"; } 2>/dev/null; fi
	return 0
}
# ft_wait NAME SECONDS: waits for a process started by ft_bg to end; returns its exit status,
# or 124 if it still runs.
ft_wait() {
	local p t=0; p=$(ft_pid "$1")
	while kill -0 "$p" 2>/dev/null; do
		[ "$t" -ge $(($2 * 10)) ] && return 124
		sleep 0.1; t=$((t + 1))
	done
	wait "$p"
}

# ft_wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; returns 1 on timeout.
ft_wait_for() {
	local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	until "$@"; do
		[ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
		sleep 0.1
	done
}
ft_out_has() { grep -q -i -E -- "$2" "$FT_RUN/$1.out" 2>/dev/null; }
ft_show() { echo "--- $1 (last ${2:-30} lines)"; tail -n "${2:-30}" "$FT_RUN/$1.out" 2>/dev/null; }

# ft_random_ms LO HI: a random whole number of milliseconds in [LO, HI] from FT_SEED's stream.
# Drills call it in $(...), and bash reseeds RANDOM in every subshell: so the stream is the n-th
# draw's number in a file and a 64-bit mix (splitmix64's) of FT_SEED and n.
ft_random_ms() {
	local n=0 x
	[ -s "$FT_TMP/random.n" ] && n=$(<"$FT_TMP/random.n")
	n=$((n + 1))
	echo "$n" >"$FT_TMP/random.n"
	x=$(( FT_SEED + n * 0x9e3779b97f4a7c15 ))
	x=$(( (x ^ ((x >> 30) & 0x3ffffffff)) * 0xbf58476d1ce4e5b9 ))
	x=$(( (x ^ ((x >> 27) & 0x1fffffffff)) * 0x94d049bb133111eb ))
	x=$(( x ^ ((x >> 31) & 0x1ffffffff) ))
	echo $(( $1 + (x & 0x7fffffffffffffff) % ($2 - $1 + 1) ))
}
ft_sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# ft_guest_port: the host (p or b) behind the switch port where the switch last saw the guest's MAC,
# or nothing when it knows none.
ft_guest_port() {
	ft_in lan bridge fdb show br brlan | awk -v mac="$FT_GUEST_MAC" '$1 == mac && $3 ~ /^s-tr/ { print substr($3, 5) }'
}

# Frames the guest sent out of ROLE's TAP so far (the TAP's receive counter: what ftvm wrote).
ft_tap_frames() { ft_in "$1" cat /sys/class/net/tap0/statistics/rx_packets; }

# ft_reachable ROLE ADDR: from ROLE, a TCP connection to ADDR's port 9 is answered (refused counts:
# the host answered); silence for 1 s is unreachable.
ft_reachable() {
	ft_in "$1" python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], 9)) in (0, 111) else 1)' "$2"
}

# ft_partition ROLE IF: silently drops everything in and out of IF in ROLE's namespace (nftables;
# the link stays up, so the peer sees silence, not an error).  ft_heal ROLE undoes it.
ft_partition() {
	local ns; ns=$(ft_ns_name "$1")
	ip netns exec "$ns" nft -f - <<EOF || ft_fail "nft failed in $ns"
table inet ftdrill {
	chain drop_in { type filter hook input priority 0; iifname "$2" drop; }
	chain drop_out { type filter hook output priority 0; oifname "$2" drop; }
	chain drop_fwd { type filter hook forward priority 0; iifname "$2" drop; oifname "$2" drop; }
}
EOF
}
# ft_partition_port ROLE PORT: the same for a port of a bridge in ROLE (bridged frames never reach
# the inet hooks).
ft_partition_port() {
	ip netns exec "$(ft_ns_name "$1")" nft -f - <<EOF || ft_fail "nft (bridge) failed in $1"
table bridge ftdrillbr {
	chain drop_fwd { type filter hook forward priority 0; iifname "$2" drop; oifname "$2" drop; }
}
EOF
}
# ft_heal ROLE: undoes every partition made in ROLE.
ft_heal() {
	ip netns exec "$(ft_ns_name "$1")" nft delete table inet ftdrill 2>/dev/null
	ip netns exec "$(ft_ns_name "$1")" nft delete table bridge ftdrillbr 2>/dev/null
	return 0
}
# Both ends of the replication link.
ft_partition_replication() { ft_partition p rp; ft_partition b rb; }
ft_heal_replication() { ft_heal p; ft_heal b; }

# ft_slow ROLE IF RATE: a token-bucket bandwidth cap (this kernel has no netem for delay or loss).
ft_slow() {
	ip netns exec "$(ft_ns_name "$1")" tc qdisc replace dev "$2" root tbf rate "$3" burst 32kbit latency 400ms ||
		ft_fail "tc tbf on $2 failed"
}
ft_unslow() { ip netns exec "$(ft_ns_name "$1")" tc qdisc del dev "$2" root 2>/dev/null; return 0; }

# ft_freeze NAME / ft_thaw NAME: stops and resumes a process (and its threads) through the cgroup v1
# freezer, without a signal the process could see.
ft_freeze() {
	local root=/sys/fs/cgroup/freezer cg p; p=$(ft_pid "$1")
	[ -d "$root" ] || ft_skip "no cgroup v1 freezer"
	cg=$root/$FT_TAG-$1
	if [ ! -d "$cg" ]; then
		mkdir "$cg" || ft_fail "cannot make $cg"
		FT_CGROUPS+=("$cg")
	fi
	for t in /proc/"$p"/task/*; do echo "${t##*/}" >"$cg/tasks" 2>/dev/null; done
	echo FROZEN >"$cg/freezer.state"
}
ft_thaw() { echo THAWED >"/sys/fs/cgroup/freezer/$FT_TAG-$1/freezer.state"; }

# ft_throttle NAME PERCENT / ft_unthrottle NAME: caps a process (all its threads) at PERCENT of one
# CPU through the cgroup v1 cpu controller, in 20 ms periods, so it is slow but never silent for long.
ft_throttle() {
	local root=/sys/fs/cgroup/cpu cg p; p=$(ft_pid "$1")
	[ -f "$root/cpu.cfs_quota_us" ] || ft_skip "no cgroup v1 cpu controller"
	cg=$root/$FT_TAG-$1
	if [ ! -d "$cg" ]; then
		mkdir "$cg" || ft_fail "cannot make $cg"
		FT_CGROUPS+=("$cg")
	fi
	echo 20000 >"$cg/cpu.cfs_period_us"
	echo $((20000 * $2 / 100)) >"$cg/cpu.cfs_quota_us"
	for t in /proc/"$p"/task/*; do echo "${t##*/}" >"$cg/tasks" 2>/dev/null; done
}
ft_unthrottle() { echo -1 >"/sys/fs/cgroup/cpu/$FT_TAG-$1/cpu.cfs_quota_us"; }

# --- the arbiter: a three-member etcd cluster (issue 9) ------------------------------------

# ft_etcd_cluster [N]: N etcd members (default 3), each in its own namespace e1..eN at 10.62.0.1x on
# the switch's arbiter bridge brarb, which hosts p and b join too (ap 10.62.0.1, ab 10.62.0.2).
# Sets FT_ETCD_ENDPOINTS (host:port,...) and waits until the cluster has a leader.
FT_ETCD_MEMBERS=0
ft_etcd_cluster() {
	local n=${1:-3} i cluster=""
	command -v etcd >/dev/null && command -v etcdctl >/dev/null || ft_skip "no etcd (Debian's etcd-server and etcd-client)"
	ft_attach p ap 10.62.0.1/24 brarb
	ft_attach b ab 10.62.0.2/24 brarb
	FT_ETCD_ENDPOINTS=
	for i in $(seq 1 "$n"); do
		cluster+="${cluster:+,}e$i=http://10.62.0.1$i:2380"
		FT_ETCD_ENDPOINTS+="${FT_ETCD_ENDPOINTS:+,}10.62.0.1$i:2379"
	done
	for i in $(seq 1 "$n"); do
		ft_ns "e$i"
		ft_attach "e$i" "ae$i" "10.62.0.1$i/24" brarb
		ft_etcd_start "$i" new "$cluster"
	done
	FT_ETCD_MEMBERS=$n
	FT_ETCD_CLUSTER=$cluster
	ft_wait_for 30 ft_etcd_healthy "$n" || { ft_show etcd1; ft_fail "the etcd cluster did not come up"; }
}
# ft_etcd_start I STATE CLUSTER: (re)starts member I with its data directory under $FT_TMP.
ft_etcd_start() {
	local i=$1 ip=10.62.0.1$1
	ft_bg "etcd$i" "e$i" etcd --name "e$i" --data-dir "$FT_TMP/etcd/e$i" \
		--listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
		--listen-client-urls "http://$ip:2379" --advertise-client-urls "http://$ip:2379" \
		--initial-cluster "$3" --initial-cluster-state "$2" --initial-cluster-token "$FT_TAG"
}
# ft_etcd_kill I / ft_etcd_restart I: lose a member / bring it back with its data.
ft_etcd_kill() { ft_kill "etcd$1" KILL; }
ft_etcd_restart() { ft_etcd_start "$1" existing "$FT_ETCD_CLUSTER"; }
# ft_etcdctl ROLE ARGS...: etcdctl from a host against the whole cluster.
ft_etcdctl() {
	local role=$1; shift
	ft_in "$role" env ETCDCTL_API=3 etcdctl --endpoints "$FT_ETCD_ENDPOINTS" --dial-timeout 2s --command-timeout 3s "$@"
}
# ft_etcd_healthy N: at least N members answer as healthy (from host p).
ft_etcd_healthy() {
	[ "$(ft_etcdctl p endpoint health 2>&1 | grep -c "is healthy")" -ge "$1" ]
}
# ft_cut_arbiter ROLE: ROLE can no longer reach the arbiter (silent drop on its arbiter link).
ft_cut_arbiter() { ft_partition "$1" "a$1"; }
# ft_isolate ROLE: host p or b cut off from everything: replication link, arbiter, guest network.
ft_isolate() {
	ft_partition "$1" "r$1"
	[ "$FT_ETCD_MEMBERS" -gt 0 ] && ft_partition "$1" "a$1"
	ft_partition_port "$1" "tr$1"
}

# --- the guest and the pair ---------------------------------------------------------------

# Kernel command line for a guest on the drill network running the given workloads.
ft_append() { echo "console=ttyS0 panic=-1 ftvm.ip=$FT_GUEST_IP/24 ftvm.run=${1:-ftkv,idle:3600} ${2:-}"; }

# ft_certs DIR [HOSTS]: a CA and host certificates.
ft_certs() {
	"$FTVM" certs init "$1" --hosts "${2:-primary,backup}" >"$FT_TMP/certs.out" 2>&1 ||
		{ cat "$FT_TMP/certs.out"; ft_fail "ftvm certs init $1 failed"; }
}

# Settings read by ft_start_backup / ft_start_primary (set them before, or leave the defaults):
#   FT_APPEND            the guest's kernel command line (ft_append)
#   FT_CERTS             certificates for both (default $FT_TMP/certs, made on first use);
#   FT_PRIMARY_CERTS, FT_BACKUP_CERTS   one side's own, instead
#   FT_PRIMARY_NAME      the name the primary presents (default primary)
#   FT_PEER              where the primary dials (default the backup; ft_relay_start sets the relay)
#   FT_PRIMARY_DISK, FT_BACKUP_DISK     each host's own copy of the guest's disk
#   FT_PRIMARY_OPTS, FT_BACKUP_OPTS     extra options (arrays are not exported: words, split)
#   FT_OTHER_ROLE        1 (default): each daemon also gets the other role's address, as the units
#       in docs/deploy.md run them (the primary's --listen, the backup's --peer: a backup that takes
#       over goes on as the primary); 0: without (it then runs the guest without a log)
#   FT_HEARTBEAT_MS, FT_DEAD_MS          failure detection for both.  FT_DEAD_MS defaults to 1000:
#       with the daemons' 150 ms, a pair on a loaded 2-core machine was seen to split within a
#       second of starting ("peer silent for 216 ms"), which no drill is about; FT_DEAD_MS= (empty)
#       runs with the daemons' own defaults.
FT_DEAD_MS=${FT_DEAD_MS-1000}
ft_timing_opts() {
	[ -n "${FT_HEARTBEAT_MS:-}" ] && echo "--heartbeat-ms $FT_HEARTBEAT_MS"
	[ -n "${FT_DEAD_MS:-}" ] && echo "--dead-ms $FT_DEAD_MS"
	return 0
}
ft_default_certs() {
	[ -n "${FT_CERTS:-}" ] && return 0
	FT_CERTS=$FT_TMP/certs
	[ -d "$FT_CERTS" ] || ft_certs "$FT_CERTS"
}

# ft_start_backup [extra options...]: the backup daemon on host b (output in $FT_RUN/backup.out).
ft_start_backup() {
	local disk=() other=()
	ft_default_certs
	[ -n "${FT_BACKUP_DISK:-}" ] && disk=(--disk "$FT_BACKUP_DISK")
	[ "${FT_OTHER_ROLE:-1}" = 0 ] || other=(--peer "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT")
	# shellcheck disable=SC2086
	ft_bg backup b "$FTVM" backup --listen "$FT_BACKUP_REPL_IP:$FT_REPL_PORT" --name backup \
		--peer-name primary --certs "${FT_BACKUP_CERTS:-$FT_CERTS}" --arbiter "$(ft_arbiter_spec)" \
		--log "$FT_RUN/backup.ftlog" --net tap:tap0 --control "$FT_RUN/backup.sock" "${disk[@]}" "${other[@]}" \
		--kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --append "${FT_APPEND:-$(ft_append)}" \
		$(ft_timing_opts) ${FT_BACKUP_OPTS:-} "$@"
}

# ft_start_primary [extra options...]: the primary daemon on host p (output in $FT_RUN/primary.out).
ft_start_primary() {
	local disk=() other=()
	ft_default_certs
	[ -n "${FT_PRIMARY_DISK:-}" ] && disk=(--disk "$FT_PRIMARY_DISK")
	[ "${FT_OTHER_ROLE:-1}" = 0 ] || other=(--listen "$FT_PRIMARY_REPL_IP:$FT_REPL_PORT")
	# shellcheck disable=SC2086
	ft_bg primary p "$FTVM" primary --peer "${FT_PEER:-$FT_BACKUP_REPL_IP:$FT_REPL_PORT}" --name "${FT_PRIMARY_NAME:-primary}" \
		--peer-name backup --certs "${FT_PRIMARY_CERTS:-$FT_CERTS}" --arbiter "$(ft_arbiter_spec)" \
		--log "$FT_RUN/primary.ftlog" --net tap:tap0 --control "$FT_RUN/primary.sock" "${disk[@]}" "${other[@]}" \
		--kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --append "${FT_APPEND:-$(ft_append)}" \
		$(ft_timing_opts) ${FT_PRIMARY_OPTS:-} "$@"
}

# ft_pair_up SECONDS: starts the backup, then the primary, and waits until ftkv answers a client
# and the primary reports the pair protected.
ft_pair_up() {
	ft_start_backup
	sleep 0.2
	ft_start_primary
	if ! ft_wait_kv "$1"; then
		ft_show backup; ft_show primary
		ft_fail "the pair did not serve ftkv within $1 s"
	fi
	ft_alive primary || { ft_show primary; ft_fail "the primary exited"; }
	ft_alive backup || { ft_show backup; ft_fail "the backup exited"; }
	if ! ft_wait_for 30 ft_protected primary; then
		grep -h "^ftvm" "$FT_RUN/primary.out" "$FT_RUN/backup.out" | tail -n 12
		ft_fail "the pair serves but is not protected (primary status: $(ft_status primary | cut -c1-200))"
	fi
}

# ft_stop_pair: ends this round's daemons and clients.
ft_stop_pair() {
	local n
	for n in primary backup "$@"; do ft_kill "$n"; done
}

# ft_relay_start [DELAY_MS]: relay.py on host b between the primary and the backup's listener
# (this round's control directory $FT_RUN/relay); the primary then dials the relay.
ft_relay_start() {
	ft_bg relay b python3 "$FT_DIR/relay.py" --listen "$FT_BACKUP_REPL_IP:$((FT_REPL_PORT + 1))" \
		--to "$FT_BACKUP_REPL_IP:$FT_REPL_PORT" --control "$FT_RUN/relay" --delay-ms "${1:-0}"
	FT_PEER=$FT_BACKUP_REPL_IP:$((FT_REPL_PORT + 1))
	ft_wait_for 10 ft_out_has relay "listening" || { ft_show relay; ft_fail "the relay did not start"; }
}
# ft_relay CMD [ARG]: a command to the relay (corrupt truncate cut replay stall resume, delay MS).
ft_relay() {
	echo "$*" >"$FT_RUN/relay/cmd.tmp" && mv "$FT_RUN/relay/cmd.tmp" "$FT_RUN/relay/cmd"
	ft_wait_for 5 eval '[ ! -e "$FT_RUN/relay/cmd" ]' || ft_fail "the relay did not take the command $*"
}

# ft_status ROLE: `ftvm status --json` of a daemon, for the log (drills judge from the clients' side).
ft_status() { "$FTVM" status --control "$FT_RUN/$1.sock" --json 2>&1; }

# ft_tap_monitor: samples both hosts' TAP frame counters every 100 ms into $FT_RUN/taps.log
# ("unix_ms primary_frames backup_frames"), until the drill ends.
ft_tap_monitor() {
	(
		while :; do
			echo "$(( $(date +%s%N) / 1000000 )) $(ft_tap_frames p) $(ft_tap_frames b)"
			sleep 0.1
		done
	) >"$FT_RUN/taps.log" 2>/dev/null &
	FT_PIDS+=($!)
	FT_PID_tapmon=$!
}
ft_tap_monitor_stop() { kill -KILL "$FT_PID_tapmon" 2>/dev/null; { wait "$FT_PID_tapmon"; } 2>/dev/null; return 0; }
# ft_serving SINCE_MS: which hosts' guests sent frames after SINCE_MS (unix ms), from the monitor's
# samples taken since then (the first one is the baseline, so frames sent before SINCE never
# count): prints "p", "b", "p b" or "" (nobody).
ft_serving() {
	awk -v since="$1" '
		$1 < since { next }
		!seen { p0 = $2; b0 = $3; seen = 1 }
		{ p1 = $2; b1 = $3 }
		END { s = ""; if (p1 > p0) s = "p"; if (b1 > b0) s = s (s ? " " : "") "b"; print s }' "$FT_RUN/taps.log"
}
# ft_fail_over_to_backup: after 0.2-2 s (FT_SEED's stream), SIGKILL the primary; 5 s later the
# backup must be alive and serving the guest. Sets primary_killed (date +%s%N of the kill).
ft_fail_over_to_backup() {
	local serving
	ft_sleep_ms "$(ft_random_ms 200 2000)"
	primary_killed=$(date +%s%N)
	ft_kill primary KILL
	ft_note "primary SIGKILLed"
	sleep 5
	ft_alive backup || { ft_show backup; ft_fail "the backup exited after the failover"; }
	serving=$(ft_serving $(( primary_killed / 1000000 + 1000 )))
	[ "$serving" = b ] || { ft_show backup; ft_fail "after the primary died the guest was served by '${serving:-nobody}', want the backup"; }
	ft_logs_sound "$FT_RUN/backup.ftlog" || ft_fail "the log the backup records on into after the failover is damaged"
}
ft_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# ft_logs_sound FILE...: each log reads back whole ('ftvm log dump': only a tail still being
# written may be torn), read under the shared lock a daemon's trim yields to. Says what is wrong.
ft_logs_sound() {
	local f
	for f in "$@"; do
		flock -s "$f" "$FTVM" log dump "$f" >"$FT_TMP/log-dump.out" 2>&1 ||
			{ echo "log $f: $(tail -c 300 "$FT_TMP/log-dump.out")"; return 1; }
	done
}
# ft_ops_done NAME: how many operations the clients NAME have had answered so far.
ft_ops_done() {
	local n
	n=$(grep -c '"type": "\(ok\|fail\)"' "$FT_RUN/$1.jsonl" 2>/dev/null)
	echo "${n:-0}"
}

# ft_protected ROLE: the daemon's status says the pair is protected (a "protected": true field
# anywhere in `ftvm status --json`).
ft_protected() {
	ft_status "$1" | python3 -c '
import json, sys
def find(v):
    if isinstance(v, dict):
        return v.get("protected") is True or any(find(x) for x in v.values())
    return isinstance(v, list) and any(find(x) for x in v)
try:
    sys.exit(0 if find(json.load(sys.stdin)) else 1)
except ValueError:
    sys.exit(1)'
}

# ft_wait_kv SECONDS: waits until ftkv answers PING from the client host.
ft_wait_kv() {
	ft_in c python3 - "$FT_GUEST_IP" "$FT_KV_PORT" "$1" <<'PY'
import socket, sys, time
host, port, end = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(5)
            s.sendall(b"PING\n")
            if s.recv(16).startswith(b"PONG"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.3)
sys.exit("ftkv at %s:%d did not answer within %s s" % (host, port, sys.argv[3]))
PY
}

# ft_clients NAME [kvclient options...]: the load generator on the client host, history in
# $FT_RUN/NAME.jsonl, summary (one JSON line) in $FT_RUN/NAME.out.
ft_clients() {
	local name=$1; shift
	ft_bg "$name" c python3 "$FT_DIR/kvclient.py" --host "$FT_GUEST_IP" --port "$FT_KV_PORT" \
		--history "$FT_RUN/$name.jsonl" --seed "$((FT_SEED % 100000 + ${#FT_PIDS[@]}))" "$@"
}

# ft_judge_clients NAME EVENT_UNIX_NS [allow-lost]: the clients' verdict on a fault injected at
# EVENT: every client kept its connection (unless allow-lost), operations completed after the event,
# the history is linearizable.  Prints the figures (client-visible gap, slowest reply).
ft_judge_clients() {
	local name=$1 at=$2 rc bad=()
	ft_wait "$name" 180
	rc=$?
	echo "clients: $(tail -n 1 "$FT_RUN/$name.out")"
	python3 "$FT_DIR/histstats.py" "$FT_RUN/$name.jsonl" "$FT_RUN/$name.out" "$at" ||
		bad+=("no client operation completed after the fault")
	if [ $rc -ne 0 ] && [ "${3:-}" != allow-lost ]; then
		bad+=("a client lost its connection or could not read back (kvclient exit $rc)")
	fi
	ft_check_history "$name" || bad+=("the clients' history is not linearizable")
	if [ ${#bad[@]} -ne 0 ]; then
		ft_show primary 20; ft_show backup 40
		ft_fail "$(IFS=';'; echo "${bad[*]}" | sed 's/;/; /g')"
	fi
}

# ft_check_history NAME: the recorded history must be linearizable.
ft_check_history() {
	python3 "$FT_DIR/linearizable.py" "$FT_RUN/$1.jsonl" >"$FT_RUN/$1.check" 2>&1
	local rc=$?
	cat "$FT_RUN/$1.check"
	return $rc
}
