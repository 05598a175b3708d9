#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench_rr: record overhead, log bytes per second (idle, CPU-bound, network-bound), replay speed,
# and QEMU's record/replay figures for the same guest. Prints figures; asserts nothing.
import os, re, socket, subprocess, sys, tempfile, threading, time

BUILD = os.environ.get("BUILD", "build")
FTVM = os.environ.get("FTVM", os.path.join(BUILD, "ftvm"))
IMAGE = os.path.join(BUILD, "domT", "Image")
INITRD = os.path.join(BUILD, "domT", "initrd.cpio")
BIOS = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
TMP = tempfile.mkdtemp(prefix="ftvm-bench-")
GUEST = ["--kernel", IMAGE, "--initrd", INITRD, "--no-console-input", "--stats"]


def ftvm(args, timeout=600):
    t0 = time.monotonic()
    p = subprocess.run([FTVM] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return time.monotonic() - t0, p.stderr.decode(errors="replace"), p.returncode


def busy(err):
    m = re.search(r"after (\d+) steps, ([\d.]+) s \(([\d.]+) s idle\)", err)
    return (int(m.group(1)), float(m.group(2)) - float(m.group(3))) if m else (0, 0.0)


def logbytes(path):
    return os.path.getsize(path)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def net_payload(path):
    out = subprocess.run([FTVM, "log", "dump", path], capture_output=True, text=True).stdout
    frames = [int(x) for x in re.findall(r"net_rx\s+frame (\d+) bytes", out)]
    return len(frames), sum(frames)


def main():
    if not (os.path.exists(IMAGE) and os.path.exists(INITRD)):
        print("(domT not built: no record/replay figures)")
        return
    cpu = "console=ttyS0 panic=-1 ftvm.run=cpubench ftvm.cpubench=10000"
    print("== record overhead on cpubench (Linux guest, ~1 G instructions), best of 3")
    plain = min((ftvm(["run", "--net", "none", "--append", cpu] + GUEST) for _ in range(3)), key=lambda r: r[0])
    log = os.path.join(TMP, "cpu.ftlog")
    rec = min((ftvm(["record", "--log", log, "--net", "none", "--append", cpu] + GUEST) for _ in range(3)),
              key=lambda r: r[0])
    steps, _ = busy(rec[1])
    print("run:    %.3f s" % plain[0])
    print("record: %.3f s (overhead %+.1f%%)" % (rec[0], (rec[0] / plain[0] - 1) * 100))
    print("log, CPU-bound guest: %d bytes in %.2f s = %.0f bytes/s" % (logbytes(log), rec[0], logbytes(log) / rec[0]))
    rep = min((ftvm(["replay", log, "--quiet", "--stats"]) for _ in range(3)), key=lambda r: r[0])
    print("replay: %.3f s; replay speed / record speed = %.2f (exit %d)" % (rep[0], rec[0] / rep[0], rep[2]))

    print("== log bytes per second, idle Linux guest (20 s idle after boot)")
    log = os.path.join(TMP, "idle.ftlog")
    t, err, _ = ftvm(["record", "--log", log, "--net", "none",
                      "--append", "console=ttyS0 panic=-1 ftvm.run=idle:20"] + GUEST)
    print("idle: %d bytes in %.1f s = %.0f bytes/s (boot included)" % (logbytes(log), t, logbytes(log) / t))

    print("== network-bound guest: ftkv SETs of 1000-byte values over user-mode networking for ~5 s")
    log = os.path.join(TMP, "net.ftlog")
    port = free_port()
    p = subprocess.Popen([FTVM, "record", "--log", log, "--net", "user,hostfwd=tcp:127.0.0.1:%d-:7000" % port,
                          "--append", "console=ttyS0 panic=-1 ftvm.run=ftkv,idle:3600"] + GUEST,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    sent = 0
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except OSError:
            time.sleep(0.3)
    f = s.makefile("rwb")
    t0 = time.time()
    value = b"v" * 1000
    while time.time() - t0 < 5:
        for i in range(50):
            f.write(b"SET k%d %s\n" % (i, value))
        f.flush()
        for i in range(50):
            f.readline()
        sent += 50
    s.close()
    p.terminate()
    p.wait(timeout=30)
    frames, payload = net_payload(log)
    size = logbytes(log)
    print("%d requests; log %d bytes for %d frames carrying %d bytes: %.3f x payload + %.1f bytes/frame"
          % (sent, size, frames, payload, size / payload if payload else 0,
             (size - payload) / frames if frames else 0))
    if frames:
        print("goal form: 1.05 x payload + 16 bytes/frame = %d bytes; log is %d bytes"
              % (1.05 * payload + 16 * frames, size))

    if subprocess.call(["which", "qemu-system-riscv64"], stdout=subprocess.DEVNULL) != 0:
        return
    print("== QEMU 7.2 record/replay (-icount shift=auto,rr=record) on the same guest")
    for name, append, limit in (("cpubench", cpu, 600), ("idle 20 s", "console=ttyS0 panic=-1 ftvm.run=idle:20", 120)):
        rr = os.path.join(TMP, "qemu.rr")
        t0 = time.monotonic()
        subprocess.run(["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", "512M", "-bios", BIOS,
                        "-kernel", IMAGE, "-initrd", INITRD, "-append", append,
                        "-icount", "shift=auto,rr=record,rrfile=%s" % rr],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       timeout=limit)
        t = time.monotonic() - t0
        print("qemu %s: record %.2f s, log %d bytes (%.0f bytes/s)" % (name, t, os.path.getsize(rr),
                                                                      os.path.getsize(rr) / t))


if __name__ == "__main__":
    main()
