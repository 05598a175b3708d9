#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 'make run' says how to leave and how to reach ftkv, and the command it prints reaches ftkv from
# the host; Ctrl-A x then quits.
set -u
. "$(dirname "$0")/../../hv/tests/lib.sh"
require_domT
root=$(cd "$(dirname "$0")/../.." && pwd)
port=$(free_port)

python3 - "$root" "$BUILD" "$port" <<'PY'
import os, pty, re, select, subprocess, sys, time
root, build, port = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.chdir(root)
    os.execvp("make", ["make", "--no-print-directory", "-s", "BUILD=" + build, "RUN_KV_PORT=" + port, "run"])
out = b""
def wait_for(text, timeout=120):
    global out
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
        if text in out:
            return
    os.kill(pid, 9)
    sys.exit("never saw %r; tail %r" % (text, out[-600:]))
wait_for(b"domT shell:")
text = out.decode(errors="replace")
for want in ("Ctrl-A x quits", "127.0.0.1:%s" % port, "nc -q1 127.0.0.1 %s" % port):
    if want not in text:
        sys.exit("make run does not say %r" % want)
cmd = re.search(r"without nc: (bash -c .*)\r?\n", text)
if not cmd:
    sys.exit("make run prints no way to reach ftkv without nc")
subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%s; echo SET a 42 >&3; head -n1 <&3" % port],
               capture_output=True, timeout=20)
r = subprocess.run(cmd.group(1).strip(), shell=True, capture_output=True, timeout=20)
if r.stdout.strip() != b"VALUE 42":
    sys.exit("the printed command got %r from ftkv (stderr %r)" % (r.stdout, r.stderr))
print("ok: the printed command reached ftkv: GET a -> VALUE 42")
os.write(fd, b"\x01x")
end = time.time() + 30
while time.time() < end:
    wpid, status = os.waitpid(pid, os.WNOHANG)
    if wpid:
        print("ok: Ctrl-A x ended make run")
        sys.exit(0)
    try:
        os.read(fd, 4096)
    except OSError:
        pass
    time.sleep(0.1)
os.kill(pid, 9)
sys.exit("Ctrl-A x did not end make run")
PY
