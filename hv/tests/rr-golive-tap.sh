#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Go-live: a client in its own network namespace holds a TCP connection to ftkv in a guest on a
# TAP network; the recorder is SIGKILLed mid-session; 'ftvm replay --then-live' on the same TAP
# network replays the log and goes live, and the same TCP connection carries on.
set -u
. "$(dirname "$0")/lib.sh"
require_domT
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces and TAP"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip (iproute2)"

ns=ftvmgl$$ cl=ftvmcl$$
cleanup() {
	[ -n "${vm:-}" ] && kill -KILL "$vm" 2>/dev/null
	[ -n "${client:-}" ] && kill -KILL "$client" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip netns del "$cl" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
tap_host_and_client "$ns" "$cl"

log=$TMP/live.ftlog
append="console=ttyS0 panic=-1 ftvm.ip=10.77.0.2/24,10.77.0.1 ftvm.run=ftkv,idle:3600"
ip netns exec "$ns" "$FTVM" record --log "$log" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--net tap:tap0 --no-console-input --append "$append" >"$TMP/rec.out" 2>&1 &
vm=$!

# One connection for the whole test; the second half waits for the go file.
ip netns exec "$cl" python3 - "$TMP/go" >"$TMP/client.out" 2>&1 <<'PY' &
import os, socket, sys, time
go = sys.argv[1]
deadline = time.time() + 120
while True:
    try:
        s = socket.create_connection(("10.77.0.2", 7000), timeout=5)
        break
    except OSError as e:
        if time.time() > deadline:
            sys.exit("cannot connect: %s" % e)
        time.sleep(0.5)
s.settimeout(120)
f = s.makefile("rw")
def incr(want):
    f.write("INCR hits\n"); f.flush()
    got = f.readline().strip()
    if got != "VALUE %d" % want:
        sys.exit("INCR -> %r, want VALUE %d" % (got, want))
for i in range(1, 6):
    incr(i)
print("phase1 done", flush=True)
while not os.path.exists(go):
    time.sleep(0.1)
for i in range(6, 11):
    incr(i)
f.write("GET hits\n"); f.flush()
print("phase2 %s" % f.readline().strip(), flush=True)
PY
client=$!

for _ in $(seq 1 1200); do grep -q "phase1 done" "$TMP/client.out" && break
	kill -0 $client 2>/dev/null || break; sleep 0.1; done
grep -q "phase1 done" "$TMP/client.out" || { cat "$TMP/client.out"; tail -20 "$TMP/rec.out"; fail "first half of the session failed"; }
sleep 0.5	# the recorder closes a chunk with events within 20 ms
kill -KILL $vm
wait $vm 2>/dev/null
vm=

ip netns exec "$ns" "$FTVM" replay "$log" --then-live --quiet --net tap:tap0 >"$TMP/replay.out" 2>&1 &
vm=$!
for _ in $(seq 1 600); do grep -q "live at step" "$TMP/replay.out" && break
	kill -0 $vm 2>/dev/null || break; sleep 0.1; done
grep -q "live at step" "$TMP/replay.out" || { cat "$TMP/replay.out"; fail "the replay did not go live"; }
touch "$TMP/go"
wait $client
rc=$?
cat "$TMP/client.out"
grep "ftvm replay" "$TMP/replay.out"
kill -TERM $vm
wait $vm 2>/dev/null
vm=
[ $rc -eq 0 ] && grep -q "phase2 VALUE 10" "$TMP/client.out" || fail "the TCP session did not survive the failover"
echo "the same TCP connection carried on after the recorder died and the replay went live"
