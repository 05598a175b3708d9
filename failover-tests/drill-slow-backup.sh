#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill: a slow replication link (tbf, FT_SLOW_RATE, default 8mbit) and a slow backup (capped at
# FT_BACKUP_CPU percent of a CPU, default 25, through the cgroup cpu controller in 20 ms periods, so
# it is slow but never silent past the failure timeout) for FT_SLOW_SECONDS (default 8) under load
# from FT_CLIENTS ftkv clients.  The primary must pause rather than let the backup fall behind: the lag
# its status reports stays within --max-lag-ms (FT_MAX_LAG_MS, default 100), the backup never
# diverges, the clients keep their connections; then a SIGKILL of the primary fails over with
# nothing lost.  Exit 0 pass, 77 skip, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
ft_require_root
ft_require_domT
ft_require_daemons
[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || ft_skip "no cgroup v1 cpu controller"
FT_CLIENTS=${FT_CLIENTS:-4}
rate=${FT_SLOW_RATE:-8mbit} seconds=${FT_SLOW_SECONDS:-8} max_lag_ms=${FT_MAX_LAG_MS:-100} cpu=${FT_BACKUP_CPU:-25}
echo "seed $FT_SEED, link $rate, backup at $cpu% of a CPU for $seconds s, --max-lag-ms $max_lag_ms"
ft_topology
ft_round 1
FT_PRIMARY_OPTS="--max-lag-ms $max_lag_ms"
ft_pair_up 120
ft_tap_monitor
ft_clients load --clients "$FT_CLIENTS" --duration 600 --stop-file "$FT_RUN/stop" --keys 5 --final-read --timeout 30
sleep 1
ft_slow p rp "$rate"
ft_slow b rb "$rate"
ft_throttle backup "$cpu"
slow_from=$(date +%s%N)
for _ in $(seq 1 $((seconds * 10))); do
	echo "$(ft_now_ms) $(ft_status primary | tr -d '\n')" >>"$FT_RUN/status.log"
	sleep 0.1
done
ft_unthrottle backup
ft_unslow p rp
ft_unslow b rb
ft_note "slow period over"
ft_alive primary || { ft_show primary; ft_fail "the primary exited while the backup was slow"; }
ft_alive backup || { ft_show backup; ft_fail "the backup exited while slow"; }
ft_out_has backup "diverg" && { ft_show backup; ft_fail "the backup's replay diverged"; }
serving=$(ft_serving $(( slow_from / 1000000 )))
[ "$serving" = p ] || ft_fail "while the backup was slow '${serving:-nobody}' served, want the primary alone"

# The lag the primary reported, from every numeric status field whose name has "lag" and "ms".
lag_ok=1
python3 - "$FT_RUN/status.log" "$max_lag_ms" <<'PY' || lag_ok=0
import json, sys
limit, worst, samples = float(sys.argv[2]), None, 0
def walk(v, name=""):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from walk(x, k)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x, name)
    elif isinstance(v, (int, float)) and not isinstance(v, bool) and "lag" in name and "ms" in name:
        yield name, v
for line in open(sys.argv[1]):
    t, _, text = line.partition(" ")
    try:
        found = list(walk(json.loads(text)))
    except ValueError:
        continue
    for name, v in found:
        samples += 1
        if worst is None or v > worst[1]:
            worst = (name, v)
if not samples:
    sys.exit("the primary's status showed no lag in ms (a numeric field named like lag_ms)")
over = sum(1 for line in open(sys.argv[1]) for name, v in walk(json.loads(line.partition(" ")[2]) if line.partition(" ")[2].strip().startswith("{") else {}) if v > limit)
print("lag: worst %s = %s ms over %d samples, %d past the limit of %g ms" % (worst[0], worst[1], samples, over, limit))
sys.exit(0 if worst[1] <= limit else 1)
PY

echo "primary after the slow period: $(ft_status primary | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d.get(k) for k in ("protected", "lag_ms", "paused_s", "pauses")})' 2>&1)"
killed=$(date +%s%N)
ft_kill primary KILL
ft_note "primary SIGKILLed after the slow period"
sleep 4
serving=$(ft_serving $(( killed / 1000000 + 1000 )))
[ "$serving" = b ] || { ft_show backup; ft_fail "after the primary was killed '${serving:-nobody}' served, want the backup"; }
touch "$FT_RUN/stop"
ft_judge_clients load "$slow_from" || exit 1
python3 "$FT_DIR/histstats.py" "$FT_RUN/load.jsonl" "$FT_RUN/load.out" "$killed" ||
	ft_fail "no client operation completed after the primary was killed"
[ $lag_ok = 1 ] || ft_fail "the primary's reported lag went past --max-lag-ms $max_lag_ms (failover itself lost nothing)"
echo "slow link and slow backup: the primary paused, lag within $max_lag_ms ms, no divergence, nothing lost"
