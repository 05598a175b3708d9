#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""linearizable: checks a kvclient history against a key-value register model (Wing & Gong's search
with Lowe's memoization, as Jepsen's Knossos and Porcupine do).

Model, per key (keys are independent, and linearizability is local, so each key is checked alone):
the state is the key's value as a string, or None when absent.
  set v     -> OK;            state = v
  get       -> VALUE v | NOTFOUND, which must equal the state
  incr      -> VALUE n;       state None counts as 0; n must be int(state) + 1; state = n
  del       -> OK if present, NOTFOUND if absent; state = None
An "ok" operation took effect once, at some instant between its invoke and complete times.
A "fail" operation (ERR) took no effect and is left out.  An "info" operation (outcome unknown)
may have taken effect at any instant after its invocation, or never: it has no return event, so
the search may leave it out.

The search (WGL): a list of call and return events in time order.  Take the first call whose
operation the model accepts in the current state, linearize it (remove its call and return) and
go on from the front; meeting a return event whose call is still in the list means no pending
operation could go first, so undo the last choice and try the next call.  Every (set of
linearized operations, state) pair reached is cached, so no configuration is explored twice.
Success when no return event is left.

Usage: linearizable.py HISTORY.jsonl [--max-configs N]
Exit status: 0 linearizable, 1 not linearizable (the key and the operation that cannot be placed
are printed), 2 bad input, 3 undecided within --max-configs (reported, never taken as a pass).
"""
import argparse
import json
import sys

INF = float("inf")


class Op:
    __slots__ = ("id", "client", "kind", "key", "value", "result", "invoke", "complete", "info")

    def __init__(self, idx, rec):
        self.id = idx
        self.client = rec.get("client")
        self.kind = rec["op"]
        self.key = rec["key"]
        self.value = rec.get("value")
        self.info = rec["type"] == "info"
        self.invoke = rec["invoke_ns"]
        self.complete = INF if self.info else rec["complete_ns"]
        self.result = None if self.info else rec["result"]
        if self.kind not in ("set", "get", "incr", "del"):
            raise ValueError("unknown operation %r" % self.kind)
        if not self.info and self.complete < self.invoke:
            raise ValueError("operation completes before it is invoked")

    def __repr__(self):
        what = "%s %s%s" % (self.kind.upper(), self.key, "" if self.value is None else " " + str(self.value))
        res = "?" if self.info else self.result
        end = "never" if self.info else "%.3f ms" % (self.complete / 1e6)
        return "[client %s] %s -> %s (invoked %.3f ms, completed %s)" % (self.client, what, res, self.invoke / 1e6, end)


def step(state, op):
    """Returns (accepted, new state) for op applied to state."""
    k, r = op.kind, op.result
    if k == "set":
        return True, op.value
    if k == "get":
        if op.info:
            return True, state
        if r == "NOTFOUND":
            return state is None, state
        return state is not None and r == "VALUE " + state, state
    if k == "incr":
        try:
            n = 0 if state is None else int(state)
        except ValueError:
            # ftkv refuses to increment a non-integer: the operation would have failed, no effect.
            return op.info, state
        if op.info:
            return True, str(n + 1)
        return r == "VALUE %d" % (n + 1), str(n + 1)
    # del
    if op.info:
        return True, None
    return (r == "OK") == (state is not None), None


class Entry:
    __slots__ = ("op", "is_call", "match", "prev", "next")

    def __init__(self, op, is_call):
        self.op, self.is_call = op, is_call
        self.match = self.prev = self.next = None


def check_key(ops, max_configs):
    """WGL search over the operations of one key.  Returns (verdict, detail): verdict True, False,
    or None when the search gave up after max_configs configurations."""
    ops = [o for o in ops if not (o.info and o.kind == "get")]  # an unknown read constrains nothing
    events = []
    for o in ops:
        events.append((o.invoke, 0, o, True))
        if not o.info:
            events.append((o.complete, 1, o, False))
    # At equal times calls go first: operations that touch the same instant count as concurrent.
    events.sort(key=lambda e: (e[0], e[1], e[2].id))
    head = Entry(None, False)
    prev = head
    calls = {}
    for _, _, o, is_call in events:
        e = Entry(o, is_call)
        e.prev, prev.next = prev, e
        prev = e
        if is_call:
            calls[o.id] = e
        else:
            calls[o.id].match = e
    returns_left = sum(1 for o in ops if not o.info)

    def lift(e):
        e.prev.next = e.next
        if e.next:
            e.next.prev = e.prev
        m = e.match
        if m:
            m.prev.next = m.next
            if m.next:
                m.next.prev = m.prev

    def unlift(e):
        m = e.match
        if m:
            m.prev.next = m
            if m.next:
                m.next.prev = m
        e.prev.next = e
        if e.next:
            e.next.prev = e

    state = None
    linearized = 0
    cache = set()
    stack = []
    entry = head.next
    best_depth, stuck_at, states_at_stuck = 0, None, set()
    while returns_left:
        if entry is None:
            # Only calls of info operations remain ahead, and some return is still unmatched:
            # cannot happen, since a return follows its own call.
            raise AssertionError("WGL list ended with returns left")
        if entry.is_call:
            ok, new_state = step(state, entry.op)
            if ok:
                new_lin = linearized | (1 << entry.op.id)
                cfg = (new_lin, new_state)
                if cfg not in cache:
                    if len(cache) >= max_configs:
                        return None, "gave up after %d configurations" % max_configs
                    cache.add(cfg)
                    stack.append((entry, state))
                    state, linearized = new_state, new_lin
                    if entry.match:
                        returns_left -= 1
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # A return whose call is still waiting: nothing left can be linearized before it.
            if len(stack) >= best_depth:
                if len(stack) > best_depth:
                    states_at_stuck = set()
                best_depth, stuck_at = len(stack), entry.op
                states_at_stuck.add(state)
            if not stack:
                break
            e, state = stack.pop()
            linearized &= ~(1 << e.op.id)
            if e.match:
                returns_left += 1
            unlift(e)
            entry = e.next
    if not returns_left:
        return True, "%d operations, %d configurations" % (len(ops), len(cache))
    states = ", ".join(sorted(repr(s) for s in states_at_stuck)[:8])
    return False, ("cannot linearize %r after %d operations; the value could be only one of: %s"
                   % (stuck_at, best_depth, states))


def load(path):
    ops = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if rec["type"] == "fail":
                    continue
                ops.append(Op(len(ops), rec))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError("%s:%d: %s" % (path, n, e))
    return ops


def check(ops, max_configs=2000000):
    """Returns (verdict, {key: (verdict, detail)}) with verdict True, False or None."""
    by_key = {}
    for o in ops:
        by_key.setdefault(o.key, []).append(o)
    results = {}
    for key in sorted(by_key):
        kops = by_key[key]
        for i, o in enumerate(kops):
            o.id = i
        results[key] = check_key(kops, max_configs)
    verdicts = [v for v, _ in results.values()]
    if False in verdicts:
        return False, results
    if None in verdicts:
        return None, results
    return True, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("history")
    ap.add_argument("--max-configs", type=int, default=2000000)
    args = ap.parse_args()
    try:
        ops = load(args.history)
    except (OSError, ValueError) as e:
        print("linearizable: %s" % e)
        return 2
    verdict, results = check(ops, args.max_configs)
    n_info = sum(1 for o in ops if o.info)
    for key, (v, detail) in sorted(results.items()):
        if v is not True:
            print("key %s: %s: %s" % (key, "NOT linearizable" if v is False else "undecided", detail))
    word = {True: "linearizable", False: "NOT linearizable", None: "undecided"}[verdict]
    print("history %s: %d operations (%d with unknown outcome) on %d keys: %s"
          % (args.history, len(ops), n_info, len(results), word))
    return {True: 0, False: 1, None: 3}[verdict]


if __name__ == "__main__":
    sys.exit(main())
