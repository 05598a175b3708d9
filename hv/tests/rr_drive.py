#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# rr_drive: runs an ftvm command with its console on a pipe, waits for guest output, types input.
# Used by the record/replay tests: python3 rr_drive.py SCRIPT.json
import json, os, random, socket, subprocess, sys, time


class Guest:
    def __init__(self, argv, log):
        self.log = open(log, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.out = b""
        os.set_blocking(self.p.stdout.fileno(), False)

    def pump(self):
        try:
            chunk = self.p.stdout.read()
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            self.out += chunk
            self.log.write(chunk)
            self.log.flush()

    def wait_for(self, text, timeout, after=0):
        end = time.time() + timeout
        while time.time() < end:
            self.pump()
            if self.out.find(text.encode(), after) >= 0:
                return self.out.find(text.encode(), after)
            if self.p.poll() is not None:
                self.pump()
                break
            time.sleep(0.02)
        raise SystemExit("timed out waiting for %r; console tail: %r" % (text, self.out[-300:]))

    def type(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def finish(self, timeout):
        end = time.time() + timeout
        while self.p.poll() is None and time.time() < end:
            self.pump()
            time.sleep(0.02)
        if self.p.poll() is None:
            self.p.kill()
            raise SystemExit("guest did not stop")
        self.pump()
        return self.p.returncode


def ftkv_session(port, rounds, rng):
    """Requests over a fresh connection; returns the final counter."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rw")
    n = 0
    for i in range(rounds):
        f.write("INCR hits\n"); f.flush()
        r = f.readline().strip()
        if not r.startswith("VALUE "):
            raise SystemExit("INCR -> %r" % r)
        n = int(r.split()[1])
        f.write("SET k%d %s\n" % (i, "x" * rng.randint(1, 200))); f.flush()
        if f.readline().strip() != "OK":
            raise SystemExit("SET failed")
        time.sleep(rng.random() * 0.05)
    s.close()
    return n


def main():
    spec = json.load(open(sys.argv[1]))
    rng = random.Random(spec.get("seed", 1))
    g = Guest(spec["argv"], spec["log"])
    for step in spec["steps"]:
        kind = step[0]
        if kind == "wait":
            g.wait_for(step[1], step[2])
        elif kind == "type":
            g.type(step[1])
        elif kind == "sleep_random":
            time.sleep(rng.random() * step[1])
        elif kind == "ftkv":
            deadline = time.time() + step[3]
            while True:
                try:
                    n = ftkv_session(step[1], step[2], rng)
                    break
                except (OSError, SystemExit) as e:
                    if time.time() > deadline:
                        raise SystemExit("ftkv: %s" % e)
                    time.sleep(0.3)
            print("ftkv counter %d" % n)
    rc = g.finish(spec.get("timeout", 120))
    open(spec["log"] + ".console", "wb").write(g.out)
    print("exit %d" % rc)
    sys.exit(0 if rc == spec.get("want_exit", 0) else 1)


if __name__ == "__main__":
    main()
