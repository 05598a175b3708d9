#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""relay: a TCP relay for the replication link that can delay, stall and damage the stream.

This kernel has no netem, so delay and stream faults come from a relay of our own, put between the
primary (which dials the relay) and the backup (which the relay dials).

  relay.py --listen ADDR:PORT --to ADDR:PORT --control DIR [--delay-ms N] [--max-buffer-bytes N]

Every chunk is forwarded --delay-ms after it arrived, in order, both ways (at most --max-buffer-bytes
held per direction; past that the relay stops reading, so TCP pushes back).  Commands arrive as files
in DIR: the drill writes DIR/cmd.tmp and renames it to DIR/cmd; the relay reads and deletes it within
20 ms and appends what it did to DIR/log.  Commands act on the primary-to-backup direction of every
open connection:
  corrupt    flip one bit in the middle of the next chunk
  truncate   forward half of the next chunk, then close both sides (FIN): a stream cut mid-record
  cut        reset both sides at once (RST)
  replay     send again a chunk already forwarded (bytes the receiver has seen)
  stall      stop forwarding (the bytes are held: silence without an error)
  resume     forward again, the held bytes first
  delay N    set the delay to N ms
New connections are accepted throughout."""
import argparse
import asyncio
import os
import socket
import struct
import sys
import time


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


class Relay:
    def __init__(self, args):
        self.args = args
        self.delay = args.delay_ms / 1000.0
        self.pumps = []  # primary-to-backup pumps of open connections
        self.conn_id = 0
        self.log = open(os.path.join(args.control, "log"), "a", buffering=1)

    def note(self, text):
        self.log.write("%.3f %s\n" % (time.time(), text))


class Pump:
    """One direction of one connection: read, hold for the delay, write."""

    def __init__(self, relay, name, reader, writer):
        self.relay, self.name = relay, name
        self.reader, self.writer = reader, writer
        self.queue = asyncio.Queue()
        self.held_bytes = 0
        self.room = asyncio.Event()
        self.room.set()
        self.pending = []  # one-shot faults for the next chunk
        self.stalled = asyncio.Event()
        self.stalled.set()  # set = flowing
        self.sent = []  # recent chunks, for replay
        self.close = None  # closes the whole connection: set by handle()

    async def read_loop(self):
        try:
            while True:
                await self.room.wait()
                data = await self.reader.read(65536)
                if not data:
                    break
                self.held_bytes += len(data)
                if self.held_bytes >= self.relay.args.max_buffer_bytes:
                    self.room.clear()
                await self.queue.put((time.monotonic(), data))
        except (ConnectionError, OSError):
            pass
        await self.queue.put((time.monotonic(), None))

    async def write_loop(self, on_close):
        try:
            while True:
                t, data = await self.queue.get()
                if data is None:
                    break
                wait = t + self.relay.delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self.stalled.wait()
                self.held_bytes -= len(data)
                if self.held_bytes < self.relay.args.max_buffer_bytes:
                    self.room.set()
                if self.pending:
                    fault = self.pending.pop(0)
                    if fault == "corrupt":
                        data = bytearray(data)
                        data[len(data) // 2] ^= 0x10
                        data = bytes(data)
                        self.relay.note("%s: flipped a bit at byte %d of a %d-byte chunk" % (self.name, len(data) // 2, len(data)))
                    elif fault == "truncate":
                        self.writer.write(data[: max(1, len(data) // 2)])
                        await self.writer.drain()
                        self.relay.note("%s: forwarded %d of %d bytes, then closed" % (self.name, max(1, len(data) // 2), len(data)))
                        on_close(rst=False)
                        return
                    elif fault == "replay" and self.sent:
                        old = self.sent[0]
                        self.writer.write(old)
                        self.relay.note("%s: sent again %d bytes already forwarded" % (self.name, len(old)))
                self.writer.write(data)
                await self.writer.drain()
                self.sent.append(data)
                if len(self.sent) > 16:
                    self.sent.pop(0)
        except (ConnectionError, OSError):
            pass
        on_close(rst=False)


async def handle(relay, p_reader, p_writer):
    relay.conn_id += 1
    cid = relay.conn_id
    try:
        b_reader, b_writer = await asyncio.open_connection(*addr(relay.args.to))
    except OSError as e:
        relay.note("conn %d: cannot reach %s: %s" % (cid, relay.args.to, e))
        p_writer.close()
        return
    relay.note("conn %d: open" % cid)
    to_b = Pump(relay, "conn %d primary->backup" % cid, p_reader, b_writer)
    to_p = Pump(relay, "conn %d backup->primary" % cid, b_reader, p_writer)
    done = asyncio.Event()

    def close(rst):
        if done.is_set():
            return
        done.set()
        for w in (p_writer, b_writer):
            sock = w.get_extra_info("socket")
            if rst and sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            w.close()
        relay.note("conn %d: closed%s" % (cid, " (reset)" if rst else ""))

    to_b.close = close
    relay.pumps.append(to_b)
    tasks = [asyncio.create_task(x) for x in (to_b.read_loop(), to_b.write_loop(close), to_p.read_loop(),
                                              to_p.write_loop(close))]
    await done.wait()
    for t in tasks:
        t.cancel()
    relay.pumps.remove(to_b)


async def control(relay):
    path = os.path.join(relay.args.control, "cmd")
    while True:
        await asyncio.sleep(0.02)
        try:
            with open(path) as f:
                words = f.read().split()
            os.unlink(path)
        except OSError:
            continue
        if not words:
            continue
        cmd = words[0]
        relay.note("command %s (%d open connections)" % (" ".join(words), len(relay.pumps)))
        if cmd == "delay" and len(words) == 2:
            relay.delay = int(words[1]) / 1000.0
        for p in list(relay.pumps):
            if cmd in ("corrupt", "truncate", "replay"):
                p.pending.append(cmd)
            elif cmd == "cut":
                p.close(rst=True)
            elif cmd == "stall":
                p.stalled.clear()
            elif cmd == "resume":
                p.stalled.set()


async def main_async(args):
    relay = Relay(args)
    host, port = addr(args.listen)
    server = await asyncio.start_server(lambda r, w: handle(relay, r, w), host, port, reuse_address=True)
    relay.note("listening on %s, forwarding to %s, delay %d ms" % (args.listen, args.to, args.delay_ms))
    print("relay: listening on %s, forwarding to %s" % (args.listen, args.to), flush=True)
    async with server:
        await asyncio.gather(server.serve_forever(), control(relay))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--control", required=True, help="directory for commands and the log")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--max-buffer-bytes", type=int, default=64 << 20)
    args = ap.parse_args()
    os.makedirs(args.control, exist_ok=True)
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
