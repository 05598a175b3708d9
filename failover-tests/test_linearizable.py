#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests for linearizable.py: hand-made histories it must accept and reject, random histories of a
real atomic register (always linearizable) and the same histories with one read falsified, and the
command line on a kvclient-shaped file.  Exit 0 pass, 1 fail."""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linearizable as lin  # noqa: E402

failures = []


def H(*rows):
    """Rows: (client, op, key, value, invoke, complete|None, result|None); None complete = info."""
    ops = []
    for i, (c, op, key, value, t0, t1, result) in enumerate(rows):
        rec = {"client": c, "op": op, "key": key, "value": value, "invoke_ns": t0, "complete_ns": t1,
               "type": "info" if t1 is None else "ok", "result": result}
        ops.append(lin.Op(i, rec))
    return ops


def expect(name, ops, want):
    got, results = lin.check(ops)
    if got is not want:
        failures.append(name)
        print("FAIL %s: want %s, got %s: %s" % (name, want, got, results))
    else:
        print("ok   %s" % name)


# --- accepted -----------------------------------------------------------------------------
expect("sequential set/get/incr/del", H(
    (0, "set", "a", "5", 0, 1, "OK"),
    (0, "get", "a", None, 2, 3, "VALUE 5"),
    (0, "incr", "a", None, 4, 5, "VALUE 6"),
    (0, "del", "a", None, 6, 7, "OK"),
    (0, "get", "a", None, 8, 9, "NOTFOUND"),
    (0, "del", "a", None, 10, 11, "NOTFOUND"),
    (0, "incr", "a", None, 12, 13, "VALUE 1"),
), True)
expect("read concurrent with a write sees the old value", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (1, "set", "a", "2", 2, 10, "OK"),
    (0, "get", "a", None, 3, 4, "VALUE 1"),
    (0, "get", "a", None, 5, 6, "VALUE 2"),
), True)
expect("two concurrent writes, reads agree on one order", H(
    (0, "set", "a", "1", 0, 10, "OK"),
    (1, "set", "a", "2", 0, 10, "OK"),
    (2, "get", "a", None, 11, 12, "VALUE 1"),
    (2, "get", "a", None, 13, 14, "VALUE 1"),
), True)
expect("concurrent increments in reverse completion order", H(
    (0, "incr", "c", None, 0, 10, "VALUE 2"),
    (1, "incr", "c", None, 1, 5, "VALUE 1"),
    (2, "get", "c", None, 11, 12, "VALUE 2"),
), True)
expect("an info write that took effect", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (1, "set", "a", "9", 2, None, None),
    (0, "get", "a", None, 50, 51, "VALUE 9"),
), True)
expect("an info write that never took effect", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (1, "set", "a", "9", 2, None, None),
    (0, "get", "a", None, 50, 51, "VALUE 1"),
), True)
expect("an info increment seen late", H(
    (0, "incr", "c", None, 0, 1, "VALUE 1"),
    (1, "incr", "c", None, 2, None, None),
    (0, "get", "c", None, 5, 6, "VALUE 1"),
    (0, "get", "c", None, 7, 8, "VALUE 2"),
), True)
expect("keys are independent", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (0, "set", "b", "2", 2, 3, "OK"),
    (1, "get", "a", None, 4, 5, "VALUE 1"),
    (1, "get", "b", None, 4, 5, "VALUE 2"),
), True)
expect("operations touching the same instant are concurrent", H(
    (0, "set", "a", "1", 0, 5, "OK"),
    (1, "get", "a", None, 5, 6, "NOTFOUND"),
), True)

# --- rejected -----------------------------------------------------------------------------
expect("stale read", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (0, "set", "a", "2", 2, 3, "OK"),
    (1, "get", "a", None, 4, 5, "VALUE 1"),
), False)
expect("lost acknowledged write (read after failover sees the value before it)", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (1, "set", "a", "2", 2, 3, "OK"),
    (2, "set", "b", "7", 2, None, None),
    (1, "get", "a", None, 100, 101, "VALUE 1"),
), False)
expect("lost acknowledged write (key gone)", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (1, "get", "a", None, 100, 101, "NOTFOUND"),
), False)
expect("read of a never-written value", H(
    (0, "set", "a", "1", 0, 10, "OK"),
    (1, "set", "a", "2", 0, 10, "OK"),
    (2, "get", "a", None, 3, 4, "VALUE 3"),
), False)
expect("lost acknowledged increment", H(
    (0, "incr", "c", None, 0, 1, "VALUE 1"),
    (1, "incr", "c", None, 2, 3, "VALUE 2"),
    (0, "incr", "c", None, 4, 5, "VALUE 2"),
), False)
expect("reads disagree on the order of two writes", H(
    (0, "set", "a", "1", 0, 10, "OK"),
    (1, "set", "a", "2", 0, 10, "OK"),
    (2, "get", "a", None, 11, 12, "VALUE 1"),
    (3, "get", "a", None, 13, 14, "VALUE 2"),
), False)
expect("an info write cannot explain a read before it was invoked", H(
    (0, "set", "a", "1", 0, 1, "OK"),
    (0, "get", "a", None, 2, 3, "VALUE 9"),
    (1, "set", "a", "9", 4, None, None),
), False)
expect("an info write cannot be undone once seen", H(
    (1, "set", "a", "9", 0, None, None),
    (0, "get", "a", None, 2, 3, "VALUE 9"),
    (0, "get", "a", None, 4, 5, "NOTFOUND"),
), False)


# --- random histories of a real register --------------------------------------------------
def random_history(rng, n_clients, n_ops, n_keys, info_p):
    """Clients issue operations with overlapping intervals; each takes effect at a random instant
    inside its interval against a real dict, so the history is linearizable by construction.
    Info operations take effect or not at random, possibly long after their invocation."""
    store, events, recs = {}, [], []
    t = [rng.randrange(5) for _ in range(n_clients)]
    for i in range(n_ops):
        c = rng.randrange(n_clients)
        t0 = t[c] + rng.randrange(1, 4)
        t1 = t0 + rng.randrange(1, 30)
        t[c] = t1
        op = rng.choice(("set", "get", "incr", "del", "incr", "get"))
        key = "k%d" % rng.randrange(n_keys)
        rec = {"client": c, "op": op, "key": key, "value": str(i) if op == "set" else None,
               "invoke_ns": t0, "complete_ns": t1}
        if rng.random() < info_p:
            rec["type"] = "info"
            rec["complete_ns"] = None
            t[c] = 10 ** 9  # the client is gone
            at = t0 + rng.randrange(1, 200) if rng.random() < 0.5 else None
        else:
            rec["type"] = "ok"
            at = rng.uniform(t0, t1)
        recs.append(rec)
        if at is not None:
            events.append((at, i))
    for at, i in sorted(events):
        rec = recs[i]
        k = rec["key"]
        if rec["op"] == "set":
            store[k], res = rec["value"], "OK"
        elif rec["op"] == "get":
            res = "VALUE " + store[k] if k in store else "NOTFOUND"
        elif rec["op"] == "incr":
            store[k] = str(int(store.get(k, "0")) + 1)
            res = "VALUE " + store[k]
        else:
            res = "OK" if store.pop(k, None) is not None else "NOTFOUND"
        rec["result"] = res if rec["type"] == "ok" else None
    return recs


def to_ops(recs):
    return [lin.Op(i, r) for i, r in enumerate(recs)]


rng = random.Random(20261130)
bad_random = 0
for trial in range(60):
    recs = random_history(rng, n_clients=rng.randrange(2, 7), n_ops=rng.randrange(10, 120),
                          n_keys=rng.randrange(1, 4), info_p=0.03)
    got, results = lin.check(to_ops(recs))
    if got is not True:
        bad_random += 1
        print("FAIL random linearizable history %d rejected: %s" % (trial, results))
    # Falsify one completed read: a value nobody ever wrote must be rejected.
    reads = [r for r in recs if r["op"] == "get" and r["type"] == "ok"]
    if reads:
        victim = rng.choice(reads)
        saved = victim["result"]
        victim["result"] = "VALUE never-written"
        got, _ = lin.check(to_ops(recs))
        victim["result"] = saved
        if got is not False:
            bad_random += 1
            print("FAIL random history %d with a falsified read accepted" % trial)
if bad_random:
    failures.append("random histories")
else:
    print("ok   60 random register histories accepted, each with a falsified read rejected")

# A larger, busier history must still be decided quickly (memoization).
recs = random_history(random.Random(7), n_clients=8, n_ops=2000, n_keys=3, info_p=0.01)
got, results = lin.check(to_ops(recs))
if got is not True:
    failures.append("large history")
    print("FAIL large history: %s" % {k: v for k, v in results.items() if v[0] is not True})
else:
    print("ok   2000-operation history of 8 clients accepted")

# --- the command line on a kvclient-shaped file -------------------------------------------
with tempfile.TemporaryDirectory() as d:
    good = os.path.join(d, "good.jsonl")
    bad = os.path.join(d, "bad.jsonl")
    rows = [
        {"client": 0, "op": "set", "key": "k0", "value": "1000000", "invoke_ns": 0, "complete_ns": 5,
         "type": "ok", "result": "OK"},
        {"client": 1, "op": "incr", "key": "k0", "value": None, "invoke_ns": 6, "complete_ns": 9,
         "type": "ok", "result": "VALUE 1000001"},
        {"client": 1, "op": "incr", "key": "k1", "value": None, "invoke_ns": 6, "complete_ns": 9,
         "type": "fail", "result": "ERR value is not an integer"},
        {"client": 2, "op": "get", "key": "k0", "value": None, "invoke_ns": 10, "complete_ns": None,
         "type": "info", "result": None, "error": "timed out"},
    ]
    with open(good, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    rows.append({"client": 0, "op": "get", "key": "k0", "value": None, "invoke_ns": 20, "complete_ns": 21,
                 "type": "ok", "result": "VALUE 1000000"})
    with open(bad, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    me = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linearizable.py")
    for path, want in ((good, 0), (bad, 1)):
        p = subprocess.run([sys.executable, me, path], capture_output=True, text=True)
        if p.returncode != want:
            failures.append("cli " + os.path.basename(path))
            print("FAIL cli %s: exit %d, want %d: %s" % (path, p.returncode, want, p.stdout))
        else:
            print("ok   cli exit %d: %s" % (p.returncode, p.stdout.strip().splitlines()[-1]))
    with open(bad, "a") as f:
        f.write("{not json\n")
    p = subprocess.run([sys.executable, me, bad], capture_output=True, text=True)
    if p.returncode != 2:
        failures.append("cli bad input")
        print("FAIL cli: malformed line gave exit %d, want 2" % p.returncode)
    else:
        print("ok   cli refuses a malformed line: %s" % p.stdout.strip())

if failures:
    print("%d failed: %s" % (len(failures), ", ".join(failures)))
    sys.exit(1)
print("all linearizability checker tests passed")
