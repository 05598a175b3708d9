#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""histstats: what the clients saw around a fault, from a kvclient history and its summary.

Usage: histstats.py HISTORY.jsonl SUMMARY EVENT_UNIX_NS
SUMMARY is kvclient's output (its last line is the JSON summary, with start_unix_ns); EVENT is when
the drill injected the fault (date +%s%N).  Prints one JSON line: operations completed before and
after the event (the final reader left out), the client-visible gap the event caused (the longest
stretch without a reply from any client that ends after the event and begins at most 5 s after it:
replies already on the wire still arrive just after it), the longest such stretch in the whole run,
and the slowest single reply.  Exit 1 if no load client completed an operation after the event."""
import json
import sys

FINAL_READER = 10000
GAP_WINDOW_NS = 5 * 10**9


def main():
    hist, summ, event = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(summ) as f:
        summary = json.loads(f.read().strip().splitlines()[-1])
    at = event - summary["start_unix_ns"]
    done = []
    slowest = 0
    with open(hist) as f:
        for line in f:
            r = json.loads(line)
            if r["client"] == FINAL_READER or r["complete_ns"] is None:
                continue
            done.append(r["complete_ns"])
            slowest = max(slowest, r["complete_ns"] - r["invoke_ns"])
    done.sort()
    before = [t for t in done if t <= at]
    after = [t for t in done if t > at]
    pairs = list(zip(done, done[1:]))
    stall = max((b - a for a, b in pairs), default=0)
    around = [b - a for a, b in pairs if b > at and a <= at + GAP_WINDOW_NS]
    gap = max(around) if around else None
    out = {"event_ms": round(at / 1e6, 1), "ok_before": len(before), "ok_after": len(after),
           "gap_ms": None if gap is None else round(gap / 1e6, 1), "longest_stall_ms": round(stall / 1e6, 1),
           "slowest_reply_ms": round(slowest / 1e6, 1)}
    print("figures: " + json.dumps(out, sort_keys=True))
    return 0 if after else 1


if __name__ == "__main__":
    sys.exit(main())
