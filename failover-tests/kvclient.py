#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kvclient: concurrent ftkv clients that record a history of every operation, for the drills.

Each client is a thread with one TCP connection for its whole life, issuing one request at a time
(SET key n / GET key / INCR key over a small key set) until --duration seconds or --ops operations
have passed, or --stop-file appears.  Every operation becomes one JSON line in --history:

  {"client": 0, "op": "set", "key": "k3", "value": "1000017", "invoke_ns": ..., "complete_ns": ...,
   "type": "ok" | "fail" | "info", "result": "OK" | "VALUE 5" | "NOTFOUND" | "ERR ..." | null,
   "error": "..."}

Times are nanoseconds of one monotonic clock shared by all clients.  "ok" means the server
answered; "fail" means it answered ERR (the operation did not take effect); "info" means the
connection failed or timed out with the request sent, so whether it took effect is unknown
(complete_ns is then null).  A client whose connection fails stops, unless --reconnect, when it
carries on as a new client number on a new connection.  With --final-read, once the load ends one
more client reads every key on a fresh connection, so the history shows what survived.

Summary on stdout (one JSON line): operations by type, connection failures, the longest wait for
one reply and when it started (ms after the start), the start as Unix time in ns (to place events).
The final reader is client 10000.
"""
import argparse
import json
import random
import socket
import sys
import threading
import time


class History:
    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "fail": 0, "info": 0}

    def add(self, rec):
        with self.lock:
            self.counts[rec["type"]] += 1
            self.f.write(json.dumps(rec, sort_keys=True) + "\n")
            self.f.flush()


class Conn:
    """One TCP connection speaking ftkv's line protocol."""

    def __init__(self, host, port, timeout):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(timeout)
        self.buf = b""

    def request(self, line):
        self.s.sendall(line.encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n", 1)
        return reply.decode(errors="replace").rstrip("\r")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def now_ns(t0):
    return time.monotonic_ns() - t0


def classify(op, reply):
    if reply.startswith("ERR"):
        return "fail"
    ok = {"set": ("OK",), "get": ("VALUE ", "NOTFOUND"), "incr": ("VALUE ",), "del": ("OK", "NOTFOUND")}
    if any(reply == w or (w.endswith(" ") and reply.startswith(w)) for w in ok[op]):
        return "ok"
    raise ValueError("unexpected reply %r to %s" % (reply, op))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.max_wait_ns = 0
        self.max_wait_at_ns = 0
        self.conn_failures = []
        self.clients_done = 0

    def wait(self, invoke, complete):
        with self.lock:
            if complete - invoke > self.max_wait_ns:
                self.max_wait_ns = complete - invoke
                self.max_wait_at_ns = invoke


def run_client(cid, args, hist, stats, t0, deadline, rng, next_cid):
    """One client: returns when its budget is spent or its connection failed for good."""
    keys = ["k%d" % i for i in range(args.keys)]
    weights = [float(w) for w in args.mix.split(",")]
    done = 0
    conn = None
    while done < args.ops and time.monotonic() < deadline:
        if conn is None:
            try:
                conn = Conn(args.host, args.port, args.timeout)
            except OSError as e:
                stats.conn_failures.append({"client": cid, "at_ns": now_ns(t0), "error": "connect: %s" % e})
                if not args.reconnect:
                    return
                time.sleep(0.2)
                continue
        if args.stop_file and done % 8 == 0:
            try:
                open(args.stop_file).close()
                break
            except OSError:
                pass
        op = rng.choices(("set", "get", "incr"), weights)[0]
        key = rng.choice(keys)
        rec = {"client": cid, "op": op, "key": key, "value": None}
        if op == "set":
            rec["value"] = str((cid + 1) * 1000000 + done)
            line = "SET %s %s" % (key, rec["value"])
        else:
            line = "%s %s" % (op.upper(), key)
        rec["invoke_ns"] = now_ns(t0)
        try:
            reply = conn.request(line)
        except (OSError, ConnectionError) as e:
            rec.update(type="info", complete_ns=None, result=None, error=str(e) or type(e).__name__)
            hist.add(rec)
            stats.conn_failures.append({"client": cid, "at_ns": rec["invoke_ns"], "error": rec["error"]})
            conn.close()
            conn = None
            if not args.reconnect:
                return
            with stats.lock:
                cid = next_cid[0]
                next_cid[0] += 1
            continue
        rec["complete_ns"] = now_ns(t0)
        rec["result"] = reply
        rec["type"] = classify(op, reply)
        hist.add(rec)
        stats.wait(rec["invoke_ns"], rec["complete_ns"])
        done += 1
        if args.think_ms:
            time.sleep(rng.uniform(0, args.think_ms) / 1000.0)
    if conn:
        conn.close()
    with stats.lock:
        stats.clients_done += 1


FINAL_READER = 10000


def final_read(cid, args, hist, stats, t0):
    try:
        conn = Conn(args.host, args.port, args.timeout)
    except OSError as e:
        stats.conn_failures.append({"client": cid, "at_ns": now_ns(t0), "error": "final connect: %s" % e})
        return False
    for i in range(args.keys):
        rec = {"client": cid, "op": "get", "key": "k%d" % i, "value": None, "invoke_ns": now_ns(t0)}
        try:
            reply = conn.request("GET k%d" % i)
        except (OSError, ConnectionError) as e:
            rec.update(type="info", complete_ns=None, result=None, error=str(e))
            hist.add(rec)
            stats.conn_failures.append({"client": cid, "at_ns": rec["invoke_ns"], "error": "final read: %s" % e})
            return False
        rec.update(complete_ns=now_ns(t0), result=reply, type=classify("get", reply))
        hist.add(rec)
    conn.close()
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("--clients", type=int, default=4, help="concurrent connections (at most 64)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load (at most 3600)")
    ap.add_argument("--ops", type=int, default=1000000, help="operations per client at most")
    ap.add_argument("--keys", type=int, default=5)
    ap.add_argument("--mix", default="1,1,1", help="weights of SET,GET,INCR")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply")
    ap.add_argument("--think-ms", type=float, default=0.0, help="random pause after each operation")
    ap.add_argument("--reconnect", action="store_true", help="after a failed connection, carry on with a new one")
    ap.add_argument("--final-read", action="store_true", help="then read every key on a fresh connection")
    ap.add_argument("--stop-file", help="stop the load once this file exists")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--history", required=True, help="JSON lines output")
    args = ap.parse_args()
    if not 1 <= args.clients <= 64 or not 0 < args.duration <= 3600 or not 1 <= args.keys <= 10000:
        ap.error("--clients 1..64, --duration up to 3600 s, --keys 1..10000")

    hist = History(args.history)
    stats = Stats()
    t0 = time.monotonic_ns()
    start_unix_ns = time.time_ns()
    deadline = time.monotonic() + args.duration
    next_cid = [args.clients]
    threads = []
    for cid in range(args.clients):
        rng = random.Random(args.seed * 1000 + cid)
        t = threading.Thread(target=run_client, args=(cid, args, hist, stats, t0, deadline, rng, next_cid),
                             daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(args.duration + args.timeout + 5)
    final_ok = True
    if args.final_read:
        final_ok = final_read(FINAL_READER, args, hist, stats, t0)
    summary = dict(hist.counts)
    summary.update(start_unix_ns=start_unix_ns, clients=args.clients, clients_done=stats.clients_done, conn_failures=stats.conn_failures,
                   max_wait_ms=round(stats.max_wait_ns / 1e6, 1), max_wait_at_ms=round(stats.max_wait_at_ns / 1e6, 1),
                   final_read=final_ok if args.final_read else None)
    print(json.dumps(summary, sort_keys=True))
    sys.stdout.flush()
    # Exit 0 only if every client kept its connection to the end and the final read worked.
    return 0 if not stats.conn_failures and stats.clients_done == args.clients and final_ok else 1


if __name__ == "__main__":
    sys.exit(main())
