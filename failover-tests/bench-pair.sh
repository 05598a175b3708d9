#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-pair: what protection costs and how fast failover is, measured from ftkv clients on
# the drill network (figures printed, nothing asserted):
#   - throughput and request latency of ftkv unprotected ('ftvm run' on a TAP) and protected (the
#     pair) with the same clients, BENCH_ROUNDS (default 3) rounds of each in alternation: the FT
#     overhead and the added latency (medians of the rounds' own), beside what the primary measured:
#     the replication ack round trip and how long outputs were held (the goal: added latency within
#     one round trip + 100 us); BENCH_CPU=jit runs both guests under the translator;
#   - the backup's lag while loaded (p50, p99 of 'ftvm status' samples) and replication bytes/s;
#   - how busy the machine's cores were in each kind of round (both "hosts" share them here);
#   - BENCH_FAILOVERS (default 10) SIGKILLs of the primary: the backup's own loss-to-live time and
#     the client-visible gap (last reply before the kill to first after), p50 and max;
#   - BENCH_SWITCHES (default 6) planned switchovers (ftvm promote): promote to protected again
#     and the client-visible gap, p50 and max (drill-switchover.sh's figures);
#   - after BENCH_SPARE_S (default 30) s of load, a new backup with an empty log (a spare host):
#     how long until the pair is protected again, from the primary's checkpoint (its last one at the
#     default interval, or one it takes for the backup when that is older than 5 s of guest time)
#     and without one.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
N=${BENCH_FAILOVERS:-10}
LOAD_S=${BENCH_LOAD_S:-5}
ft_topology

# ops/s and latency percentiles of a kvclient history
hist_stats() {
	python3 - "$1" <<'PY'
import json, sys
ops = [json.loads(l) for l in open(sys.argv[1])]
ok = [o for o in ops if o.get("type") == "ok" and o["client"] != 10000]
lat = sorted(o["complete_ns"] - o["invoke_ns"] for o in ok)
span = (max(o["complete_ns"] for o in ok) - min(o["invoke_ns"] for o in ok)) / 1e9
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1e3
print("%.1f %.1f %.1f %d" % (len(ok) / span, pct(0.5), pct(0.99), len(ok)))
PY
}

# Busy share of this machine's cores since cpu_mark (one /proc/stat sample each end): both
# "hosts" and the clients run here, so a protected round's backup competes with the guest.
cpu_mark() { cpu_at=$(head -n1 /proc/stat); }
cpu_busy() {
	python3 - "$cpu_at" "$(head -n1 /proc/stat)" <<'PY'
import sys
a, b = ([int(x) for x in s.split()[1:]] for s in sys.argv[1:3])
d = [y - x for x, y in zip(a, b)]
print("%.0f" % (100.0 * (1 - (d[3] + d[4]) / max(1, sum(d[:8])))))
PY
}

# What each "host" process spent: proc_mark NAME PID... saves each process's CPU time and its
# threads' time on a core and waiting for one (/proc/PID/task/*/schedstat); proc_cost NAME PID...
# prints, per process, its CPU time since the mark in us, then the busiest thread's (the vCPU's)
# share of that span spent runnable but waiting for a core. On two real hosts the backup's and
# the clients' work is elsewhere: the primary's CPU per operation is what protection costs there.
proc_sample() {
	local p t
	for p in "$@"; do
		echo "p $p $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)"
		for t in /proc/"$p"/task/*; do echo "t $p $(cat "$t/schedstat" 2>/dev/null)"; done
	done
	date +%s%N
}
proc_mark() { local n=$1; shift; proc_sample "$@" >"$FT_TMP/proc.$n"; }
proc_cost() {
	local n=$1; shift
	proc_sample "$@" >"$FT_TMP/proc.$n.end"
	python3 - "$FT_TMP/proc.$n" "$FT_TMP/proc.$n.end" "$(getconf CLK_TCK)" <<'PY'
import sys
def load(f):
    cpu, threads, t = {}, {}, 0
    for line in open(f):
        w = line.split()
        if w[0] == "p":
            cpu[w[1]] = int(w[2])
        elif w[0] == "t" and len(w) >= 5:
            threads.setdefault(w[1], []).append((int(w[2]), int(w[3])))
        elif len(w) == 1:
            t = int(w[0])
    return cpu, threads, t
(a, ta, t0), (b, tb, t1) = load(sys.argv[1]), load(sys.argv[2])
span, hz, out = max(1, t1 - t0), int(sys.argv[3]), []
for p in a:
    # threads are listed in the same order while they live: pair them by position
    pairs = [(y[0] - x[0], y[1] - x[1]) for x, y in zip(ta.get(p, []), tb.get(p, []))]
    busiest = max(pairs, default=(0, 0))
    out.append("%.0f %.1f" % ((b.get(p, 0) - a[p]) * 1e6 / hz, 100.0 * busiest[1] / span))
print(" ".join(out))
PY
}

ARB=${FT_ARBITER:-lock}
if [ "${BENCH_FAILOVERS_ONLY:-0}" != 1 ]; then
# 1 and 2, BENCH_ROUNDS times (default 3) in alternation, so that both see the same neighbours:
# unprotected, the same guest under 'ftvm run' on host p's TAP; then protected, the pair with the
# same clients, sampling the primary's status (lag, replication rate, ack round trips, output held).
: >"$FT_TMP/rounds"
for r in $(seq 1 "${BENCH_ROUNDS:-3}"); do
	ft_round "base$r"
	ft_bg vm p "$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net tap:tap0 \
		--no-console-input --append "$(ft_append)" ${BENCH_CPU:+--cpu "$BENCH_CPU"}
	ft_wait_kv 120 || { ft_show vm; ft_fail "the unprotected guest did not serve"; }
	cpu_mark
	proc_mark base "$(ft_pid vm)"
	ft_clients load --clients 4 --duration "$LOAD_S" --keys 5 --timeout 30
	ft_wait load 60
	b_cpu=$(cpu_busy)
	read -r b_vm_us b_vm_wait < <(proc_cost base "$(ft_pid vm)")
	read -r b_ops b_p50 b_p99 b_n < <(hist_stats "$FT_RUN/load.jsonl")
	ft_kill vm

	ft_round "pair$r"
	FT_PRIMARY_OPTS="${BENCH_CPU:+--cpu $BENCH_CPU}" FT_BACKUP_OPTS="${BENCH_CPU:+--cpu $BENCH_CPU}" ft_pair_up 120
	cpu_mark
	proc_mark pair "$(ft_pid primary)" "$(ft_pid backup)"
	ft_clients load --clients 4 --duration "$LOAD_S" --keys 5 --timeout 30
	: >"$FT_RUN/lag"
	while ft_alive load; do
		ft_status primary >>"$FT_RUN/lag"
		sleep 0.05
	done
	ft_wait load 60
	p_cpu=$(cpu_busy)
	read -r p_pri_us p_vm_wait p_bak_us _ < <(proc_cost pair "$(ft_pid primary)" "$(ft_pid backup)")
	read -r p_ops p_p50 p_p99 p_n < <(hist_stats "$FT_RUN/load.jsonl")
	read -r lag_p50 lag_p99 repl_bps rtt_p50 held_us < <(python3 - "$FT_RUN/lag" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    try:
        rows.append(json.loads(line))
    except ValueError:
        pass
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else 0
lag = [r["lag_ms"] for r in rows]
rate = held = 0
if len(rows) > 1:
    a, b = rows[0], rows[-1]
    rate = (b["log_bytes"] - a["log_bytes"]) / (0.05 * (len(rows) - 1))
    n = b["released_outputs"] - a["released_outputs"]
    held = (b["held_wait_ns_total"] - a["held_wait_ns_total"]) / 1e3 / n if n > 0 else 0
rtt = pct([r["ack_rtt_us_p50"] for r in rows if r.get("ack_rtt_us_p50")], 0.5)
print("%.2f %.2f %.0f %.0f %.0f" % (pct(lag, 0.5), pct(lag, 0.99), rate, rtt, held))
PY
)
	ft_stop_pair load
	echo "$b_ops $b_p50 $b_p99 $p_ops $p_p50 $p_p99 $lag_p50 $lag_p99 $repl_bps $rtt_p50 $held_us $b_cpu $p_cpu $b_vm_us $b_vm_wait $p_pri_us $p_vm_wait $p_bak_us $b_n $p_n" >>"$FT_TMP/rounds"
done
fi

# 3. failovers, with the daemons as the units run them (each knows the other role's address: lib.sh),
# so the backup goes on as the primary; then the dead host's daemon starts again and becomes its backup.
live_ms=() gap_ms=() trips=() reprotect_ms=()
for i in $(seq 1 "$N"); do
	ft_round "kill$i"
	ft_pair_up 120
	ft_clients load --clients 4 --duration 3 --keys 5 --timeout 30
	sleep 1.$((RANDOM % 9))
	at=$(date +%s%N)
	ft_kill primary KILL
	ft_wait load 60
	ft_wait_for 10 ft_out_has backup "live at step" || { ft_show backup; ft_fail "failover $i: the backup did not go live"; }
	live_ms+=("$(grep -o 'live at step [0-9]*, epoch [0-9]*: [0-9.]* ms' "$FT_RUN/backup.out" | grep -o '[0-9.]* ms' | cut -d' ' -f1)")
	trips+=("$(grep -o 'in [0-9]* round trips' "$FT_RUN/backup.out" | head -n1 | grep -o '[0-9]*')")
	gap_ms+=("$(python3 "$FT_DIR/histstats.py" "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "$at" |
		python3 -c 'import json,sys; print(json.loads(sys.stdin.read().split(" ",1)[1])["gap_ms"])')")
	mv "$FT_RUN/primary.out" "$FT_RUN/primary-first.out"
	t0=$(date +%s%N)
	ft_start_primary
	if ft_wait_for 120 ft_protected backup; then
		reprotect_ms+=("$(( ($(date +%s%N) - t0) / 1000000 ))")
	else
		echo "  (failover $i: not protected again within 120 s of the restart)"
	fi
	ft_stop_pair load
done
summary() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "p50 %.1f ms, max %.1f ms", v[int((NR + 1) / 2)], v[NR] }'; }

if [ "${BENCH_FAILOVERS_ONLY:-0}" != 1 ]; then
echo "pair: ftkv with 4 clients for ${LOAD_S} s, unprotected ('ftvm run') then protected (primary + backup), ${BENCH_ROUNDS:-3} rounds in alternation${BENCH_CPU:+, --cpu $BENCH_CPU}:"
python3 - "$FT_TMP/rounds" <<'PY'
import os, statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
col = lambda i: [r[i] for r in rows]
med = lambda v: statistics.median(v)
rng = lambda v, f="%.0f": "%s-%s" % (f % min(v), f % max(v))
over = [100 * (1 - r[3] / r[0]) for r in rows]
added = [r[4] - r[1] for r in rows]
print("  throughput: %.0f ops/s unprotected, %.0f protected: FT overhead %.1f%% (median of the rounds' own; %s%%)"
      % (med(col(0)), med(col(3)), med(over), rng(over, "%.1f")))
print("  request latency p50: %.0f us unprotected, %.0f protected: added %.0f us (%s); p99 %.0f us, %.0f us"
      % (med(col(1)), med(col(4)), med(added), rng(added), med(col(2)), med(col(5))))
print("  replication ack round trip p50 %.0f us (%s); outputs held %.0f us on average (%s): goal for the added latency <= round trip + 100 us"
      % (med(col(9)), rng(col(9)), med(col(10)), rng(col(10))))
print("  backup lag under load: p50 %.2f ms, p99 %.2f ms of guest execution; replication %.0f bytes/s"
      % (med(col(6)), med(col(7)), med(col(8))))
print("  this machine's %d cores busy under load: %.0f%% unprotected, %.0f%% protected (the backup and the clients share them)"
      % (os.cpu_count(), med(col(11)), med(col(12))))
# CPU per operation, by "host": on two real hosts only the primary's column is on the guest's host
per_op = lambda us, n: [r[us] / max(1, r[n]) for r in rows]
print("  CPU per operation: %.0f us unprotected; protected %.0f us on the primary's host, %.0f us on the backup's"
      % (med(per_op(13, 18)), med(per_op(15, 19)), med(per_op(17, 19))))
print("  the vCPU thread waited for a core %.0f%% of the time unprotected, %.0f%% protected"
      % (med(col(14)), med(col(16))))
PY
fi
if [ "$N" -gt 0 ]; then
echo "failover over $N SIGKILLs of the primary under load, $ARB arbiter:"
echo "  go-live (backup: link loss to live): $(summary "${live_ms[@]}")"
echo "  client-visible gap (kill to first reply): $(summary "${gap_ms[@]}")"
echo "  arbiter round trips per failover: $(printf '%s\n' "${trips[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "p50 %d, max %d", v[int((NR + 1) / 2)], v[NR] }')"
[ ${#reprotect_ms[@]} -eq 0 ] ||
	echo "  protected again (the dead host's daemon started again, to the pair protected): $(summary "${reprotect_ms[@]}") over ${#reprotect_ms[@]}"
fi

# 4. planned switchovers: the drill's own figures (its namespaces are its own).
if [ "${BENCH_FAILOVERS_ONLY:-0}" != 1 ] && [ "${BENCH_SWITCHES:-6}" -gt 0 ]; then
	echo "planned switchover ('ftvm promote') under load, ${BENCH_SWITCHES:-6} back and forth:"
	FT_SWITCHES=${BENCH_SWITCHES:-6} "$FT_DIR/drill-switchover.sh" >"$FT_TMP/switchover.out" 2>&1 ||
		{ tail -n 5 "$FT_TMP/switchover.out"; echo "  (the switchover drill failed: figures above are partial)"; }
	grep -E 'ms: p50' "$FT_TMP/switchover.out" | sed 's/^/  /'
fi

# 5. a new backup with an empty log after the guest ran a while under load: protected again from the
# primary's checkpoint (at the default interval: its last, or one taken for the backup), then
# without one (a LOG.ckpt.bad beside the backup's log: it asks for none and replays the whole log),
# one after the other on the same pair.
SPARE_S=${BENCH_SPARE_S:-30}
if [ "${BENCH_FAILOVERS_ONLY:-0}" != 1 ] && [ "$SPARE_S" -gt 0 ]; then
	ft_round spare
	ft_pair_up 120
	ft_clients load --clients 4 --duration "$SPARE_S" --keys 5 --timeout 30
	ft_wait load $((SPARE_S + 60))
	spare_line="a new backup (empty log) after $SPARE_S s of load, to the pair protected:"
	for how in checkpoint whole; do
		ft_kill backup KILL
		ft_wait_for 30 eval '! ft_protected primary' || ft_fail "the primary still says protected after its backup died"
		mv "$FT_RUN/backup.out" "$FT_RUN/backup-before-$how.out"
		rm -f "$FT_RUN"/backup.ftlog*
		[ "$how" = whole ] && touch "$FT_RUN/backup.ftlog.ckpt.bad"
		log_mb=$(( $(stat -c %s "$FT_RUN/primary.ftlog") >> 20 ))
		t0=$(date +%s%N)
		ft_start_backup
		if ft_wait_for 600 ft_protected primary; then
			spare_line+=" $how $(( ($(date +%s%N) - t0) / 1000000 )) ms (log $log_mb MiB);"
		else
			spare_line+=" $how: not within 600 s;"
		fi
	done
	if ft_out_has primary "taking (a fresh )?one for it first"; then spare_line+=" (a checkpoint taken for it)"
	else spare_line+=" (the primary's last checkpoint, young enough)"; fi
	ft_out_has primary "sending it the checkpoint" || spare_line+=" (the primary sent no checkpoint)"
	echo "$spare_line"
	ft_stop_pair load
fi
