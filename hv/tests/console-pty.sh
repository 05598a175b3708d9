#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# On a terminal: typed input reaches the guest shell, and Ctrl-A x quits with exit status 5.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

python3 - "$FTVM" "$DOMT_IMAGE" "$DOMT_INITRD" <<'PY'
import os, pty, select, sys, time
ftvm, image, initrd = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(ftvm, [ftvm, "run", "--kernel", image, "--initrd", initrd, "--net", "none",
                    "--append", "console=ttyS0 ftvm.run=shell"])
out = b""
def wait_for(text, timeout=60):
    global out
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
        if text in out:
            return
    sys.exit("never saw %r; tail %r" % (text, out[-300:]))
wait_for(b"domT#")
os.write(fd, b"echo typed-on-a-tty\r")
wait_for(b"typed-on-a-tty\r\n")
os.write(fd, b"\x01x")
end = time.time() + 20
while time.time() < end:
    wpid, status = os.waitpid(pid, os.WNOHANG)
    if wpid:
        code = os.waitstatus_to_exitcode(status)
        if code != 5:
            sys.exit("Ctrl-A x: exit %d, want 5" % code)
        print("typed input reached the guest; Ctrl-A x quit with status 5")
        sys.exit(0)
    try:
        os.read(fd, 4096)
    except OSError:
        pass
    time.sleep(0.1)
os.kill(pid, 9)
sys.exit("Ctrl-A x did not quit")
PY
