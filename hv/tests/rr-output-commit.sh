#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Output commit for a plain recorder: clients keep writing to ftkv in a guest on a TAP network
# while the recorder is SIGKILLed (MODE=kill) or its log fills a small disk (MODE=fulldisk);
# 'ftvm replay --then-live' on the same network then goes live, and every SET a client was
# told OK is still there, asked over the same TCP connections. MODE=checkpoint records with
# --checkpoint-s 1, so that the log is trimmed to the last checkpoint while the clients write,
# kills it the same way and goes live from that checkpoint ('replay --from LOG.ckpt').
set -u
. "$(dirname "$0")/lib.sh"
MODE=${MODE:-${1:-kill}}
require_domT
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces, TAP and tmpfs"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip (iproute2)"

ns=ftvmoc$$ cl=ftvmoe$$ mnt=
cleanup() {
	[ -n "${vm:-}" ] && kill -KILL "$vm" 2>/dev/null
	[ -n "${client:-}" ] && kill -KILL "$client" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip netns del "$cl" 2>/dev/null
	[ -n "$mnt" ] && umount "$mnt" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
tap_host_and_client "$ns" "$cl"

log=$TMP/live.ftlog
if [ "$MODE" = fulldisk ]; then
	mnt=$TMP/small
	mkdir -p "$mnt"
	mount -t tmpfs -o size=256k tmpfs "$mnt" || skip "cannot mount a small tmpfs"
	log=$mnt/live.ftlog
fi
append="console=ttyS0 panic=-1 ftvm.ip=10.77.0.2/24,10.77.0.1 ftvm.run=ftkv,idle:3600"
ckpt_opts=()
[ "$MODE" = checkpoint ] && ckpt_opts=(--checkpoint-s 1)
ip netns exec "$ns" "$FTVM" record --log "$log" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
	--net tap:tap0 --no-console-input --append "$append" "${ckpt_opts[@]}" >"$TMP/rec.out" 2>&1 &
vm=$!

# Four connections write keys as fast as answers come; each acknowledged SET is noted.
# After the go file, each connection reads back every key it was told OK for.
ip netns exec "$cl" python3 - "$TMP" >"$TMP/client.out" 2>&1 <<'PY' &
import os, socket, sys, threading, time
tmp = sys.argv[1]
N = 4
def connect():
    deadline = time.time() + 120
    while True:
        try:
            return socket.create_connection(("10.77.0.2", 7000), timeout=5)
        except OSError as e:
            if time.time() > deadline:
                sys.exit("cannot connect: %s" % e)
            time.sleep(0.5)
acked = [[] for _ in range(N)]
errors = []
def worker(i):
    s = connect()
    s.settimeout(180)
    f = s.makefile("rw")
    n = 0
    try:
        while not os.path.exists(tmp + "/stop"):
            n += 1
            f.write("SET c%d_k%d v%d\n" % (i, n, n)); f.flush()
            got = f.readline().strip()
            if got != "OK":
                errors.append("c%d SET %d -> %r" % (i, n, got)); return
            acked[i].append(n)
            if n == 20 and i == 0:
                open(tmp + "/loaded", "w").close()
        while not os.path.exists(tmp + "/go"):
            time.sleep(0.05)
        for k in acked[i]:
            f.write("GET c%d_k%d\n" % (i, k)); f.flush()
            got = f.readline().strip()
            if got != "VALUE v%d" % k:
                errors.append("c%d GET k%d -> %r after OK" % (i, k, got))
    except OSError as e:
        errors.append("c%d connection: %s" % (i, e))
ts = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
for t in ts: t.start()
for t in ts: t.join()
print("acknowledged SETs: %d" % sum(len(a) for a in acked), flush=True)
for e in errors[:20]:
    print("ERROR", e)
print("verified" if not errors else "LOST %d" % len(errors), flush=True)
sys.exit(1 if errors else 0)
PY
client=$!

for _ in $(seq 1 1200); do [ -e "$TMP/loaded" ] && break
	kill -0 $client 2>/dev/null || break; sleep 0.1; done
[ -e "$TMP/loaded" ] || { cat "$TMP/client.out"; tail -20 "$TMP/rec.out"; fail "the clients never got going"; }
trimmed() {
	"$FTVM" log dump --json "$log" 2>/dev/null | tail -n 1 |
		python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["trimmed_bytes"] == 0)'
}
if [ "$MODE" = checkpoint ]; then
	# Under the clients' load, a checkpoint is saved and the log trimmed to it (up to 60 s).
	for _ in $(seq 1 600); do trimmed && break; kill -0 $vm 2>/dev/null || break; sleep 0.1; done
	trimmed || { tail -5 "$TMP/rec.out"; fail "the recorder never trimmed its log to a checkpoint"; }
	echo "ok: $("$FTVM" log dump "$log" | grep '^trimmed: ')"
fi
if [ "$MODE" = kill ] || [ "$MODE" = checkpoint ]; then
	sleep "0.$(( RANDOM % 9 + 1 ))"
	kill -KILL $vm
	wait $vm 2>/dev/null
else
	# The log fills the disk; the recorder must stop by itself, having released nothing unlogged.
	for _ in $(seq 1 1200); do kill -0 $vm 2>/dev/null || break; sleep 0.1; done
	kill -0 $vm 2>/dev/null && fail "the recorder kept running on a full disk"
	wait $vm; rc=$?
	[ $rc -eq 1 ] || { tail -5 "$TMP/rec.out"; fail "recorder on a full disk exited $rc, want 1 (host error)"; }
	grep -q "No space left" "$TMP/rec.out" || { tail -5 "$TMP/rec.out"; fail "no clear message about the full disk"; }
	grep "ftvm" "$TMP/rec.out" | tail -3
fi
vm=
touch "$TMP/stop"

from_opts=()
if [ "$MODE" = checkpoint ]; then
	from_opts=(--from "$log.ckpt")
	cp "$log" "$TMP/whole-try.ftlog"
	refused "the trimmed log replayed from the boot" "the log was trimmed" \
		replay "$TMP/whole-try.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --net none
fi
ip netns exec "$ns" "$FTVM" replay "$log" "${from_opts[@]}" --then-live --quiet --net tap:tap0 \
	>"$TMP/replay.out" 2>&1 &
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
[ $rc -eq 0 ] || fail "acknowledged writes were lost or connections broke ($MODE)"
echo "every acknowledged SET survived ($MODE), over the same TCP connections"
