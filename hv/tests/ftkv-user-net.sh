#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ftkv in the guest answers a host client through user-mode networking (libslirp hostfwd).
set -u
. "$(dirname "$0")/lib.sh"
require_domT

port=$(free_port)
timeout -k 5 240 "$FTVM" run --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" --no-console-input \
	--net "user,hostfwd=tcp:127.0.0.1:$port-:7000" \
	--append "console=ttyS0 panic=-1 ftvm.run=ftkv,idle:3600" >"$TMP/console" 2>&1 &
vm=$!
python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.time() + 180
def session():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rw")
    def cmd(line):
        f.write(line + "\n"); f.flush()
        return f.readline().strip()
    return s, cmd
last = None
while time.time() < deadline:
    try:
        s, cmd = session()
        r = cmd("PING")
        if r == "PONG":
            break
        last = "PING -> %r" % r
        s.close()
    except OSError as e:
        last = str(e)
    time.sleep(0.5)
else:
    sys.exit("ftkv never answered PING: %s" % last)
checks = [("SET alpha 42", "OK"), ("GET alpha", "VALUE 42"), ("INCR hits", "VALUE 1"),
          ("INCR hits", "VALUE 2"), ("GET missing", "NOTFOUND"), ("DEL alpha", "OK"),
          ("GET alpha", "NOTFOUND")]
for req, want in checks:
    got = cmd(req)
    if got != want:
        sys.exit("%s -> %r, want %r" % (req, got, want))
# A second connection sees the same store.
s2, cmd2 = session()
if cmd2("GET hits") != "VALUE 2":
    sys.exit("second connection does not see the counter")
print("ftkv answered %d requests over user-mode networking" % (len(checks) + 2))
PY
rc=$?
kill -TERM $vm 2>/dev/null
wait $vm 2>/dev/null
[ $rc -eq 0 ] || { show_console; fail "ftkv session failed"; }
