#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A person at domT's console can look around: each command the shell lists answers with what it
# should (typed on a terminal, as a person would), and poweroff ends the run with status 0.
set -u
. "$(dirname "$0")/../../hv/tests/lib.sh"
require_domT

python3 - "$FTVM" "$DOMT_IMAGE" "$DOMT_INITRD" <<'PY'
import os, pty, select, sys, time
ftvm, image, initrd = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(ftvm, [ftvm, "run", "--kernel", image, "--initrd", initrd, "--net", "user",
                    "--append", "console=ttyS0 ftvm.run=shell"])
out = b""
def wait_for(text, timeout=90):
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

# command typed -> what its answer must contain
cases = [
    (b"help", b"ip addr"),
    (b"uname -a", b"Linux"),
    (b"uname -m", b"riscv64"),
    (b"ps", b"/init"),
    (b"free", b"Mem:"),
    (b"uptime", b"load average"),
    (b"ip addr", b"inet 10.0.2.15/24"),
    (b"ip addr", b"inet 127.0.0.1/8"),
    (b"dmesg", b"Linux version"),
    (b"frobnicate", b"unknown command (try 'help')"),
]
wait_for(b"domT# ")
for cmd, want in cases:
    out = b""
    os.write(fd, cmd + b"\r")
    wait_for(want)
    wait_for(b"domT# ")
    print("ok: %s -> %s" % (cmd.decode(), want.decode()))
os.write(fd, b"poweroff\r")
end = time.time() + 30
while time.time() < end:
    wpid, status = os.waitpid(pid, os.WNOHANG)
    if wpid:
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit("poweroff: exit %d, want 0" % code)
        print("the shell answered every command; poweroff exited 0")
        sys.exit(0)
    try:
        os.read(fd, 4096)
    except OSError:
        pass
    time.sleep(0.1)
os.kill(pid, 9)
sys.exit("poweroff did not end the run")
PY
