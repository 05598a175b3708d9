#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench: prints ftvm's guest MIPS, boot-to-init time and cpubench time beside QEMU's (-icount shift=0).
import os, re, subprocess, sys, time

BUILD = os.environ.get("BUILD", "build")
FTVM = os.environ.get("FTVM", os.path.join(BUILD, "ftvm"))
IMAGE = os.path.join(BUILD, "domT", "Image")
INITRD = os.path.join(BUILD, "domT", "initrd.cpio")
LOOP = os.path.join(BUILD, "bench", "loop.elf")
BIOS = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
QEMU = ["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", "512M", "-icount", "shift=0"]
LOOP_STEPS = 100000000 * 8


def run_until(cmd, marker, timeout):
    """Seconds from start until marker appears on stdout (None if never), then the total run time."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seen, buf = None, b""
    try:
        while True:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            buf += chunk
            if seen is None and marker and marker.encode() in buf:
                seen = time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                p.kill()
                break
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
    return seen, time.monotonic() - t0, buf.decode(errors="replace"), p.returncode


def best_of(n, f):
    results = [f() for _ in range(n)]
    return min(results, key=lambda r: r[0] if r[0] is not None else 1e9)


def fmt(x, unit):
    return "n/a" if x is None else "%.3f %s" % (x, unit)


def main():
    have_qemu = subprocess.call(["which", "qemu-system-riscv64"], stdout=subprocess.DEVNULL) == 0
    print("== guest MIPS: bare-metal integer loop, %d M instructions" % (LOOP_STEPS // 1000000))
    _, t_ftvm, out, rc = best_of(3, lambda: run_until([FTVM, "run", "--bios", "none", "--kernel", LOOP,
                                                      "--no-console-input", "--stats"], None, 120))
    m = re.search(r"after (\d+) steps, ([\d.]+) s", out)
    if rc != 0 or not m:
        print("ftvm: the loop did not run (exit %s): %s" % (rc, out.strip()[-200:]))
        return
    steps = int(m.group(1))
    ftvm_mips = steps / t_ftvm / 1e6
    print("ftvm: %.2f s, %.0f MIPS" % (t_ftvm, ftvm_mips))
    if have_qemu:
        _, t_q, _, rc = best_of(3, lambda: run_until(QEMU + ["-bios", "none", "-kernel", LOOP], None, 120))
        print("qemu: %.2f s, %.0f MIPS (exit %s; wall time includes QEMU's start-up)" % (t_q, steps / t_q / 1e6, rc))
        print("ratio ftvm/qemu: %.2f" % ((steps / t_ftvm) / (steps / t_q)))

    if not (os.path.exists(IMAGE) and os.path.exists(INITRD)):
        print("(domT not built: skipping Linux figures)")
        return
    append = "console=ttyS0 panic=-1 ftvm.run=poweroff"
    print("== boot to init (domT: OpenSBI + Linux 6.1 + initramfs), best of 3")
    b_ftvm = best_of(3, lambda: run_until([FTVM, "run", "--kernel", IMAGE, "--initrd", INITRD, "--net", "none",
                                          "--no-console-input", "--append", append], "domT init: ready", 120))
    print("ftvm: %s to init" % fmt(b_ftvm[0], "s"))
    if have_qemu:
        b_q = best_of(3, lambda: run_until(QEMU + ["-bios", BIOS, "-kernel", IMAGE, "-initrd", INITRD,
                                                   "-append", append], "domT init: ready", 120))
        print("qemu: %s to init" % fmt(b_q[0], "s"))
        if b_ftvm[0] and b_q[0]:
            print("ratio ftvm/qemu boot time: %.2f" % (b_ftvm[0] / b_q[0]))

    print("== guest clock against host clock over ~60 s (cpubench, then idle)")
    r = run_until([FTVM, "run", "--kernel", IMAGE, "--initrd", INITRD, "--net", "none", "--no-console-input",
                   "--stats", "--append", "console=ttyS0 panic=-1 ftvm.run=cpubench,idle:40 ftvm.cpubench=80000"],
                  None, 300)
    m = re.search(r", ([\d.]+) s \(([\d.]+) s idle\).*guest clock ([\d.]+) s \(drift ([-+\d.]+) ms\)", r[2])
    if m:
        wall, drift = float(m.group(1)), float(m.group(4))
        print("ftvm: %.1f s of host time (%.1f s idle), guest clock drift %+.1f ms = %+.1f ms per minute"
              % (wall, float(m.group(2)), drift, drift * 60 / wall))

    print("== cpubench in the Linux guest (wall time of the workload, from init ready to power-off)")
    append = "console=ttyS0 panic=-1 ftvm.run=cpubench"
    r = run_until([FTVM, "run", "--kernel", IMAGE, "--initrd", INITRD, "--net", "none", "--no-console-input",
                   "--stats", "--append", append], "domT init: ready", 600)
    m = re.search(r"after (\d+) steps, ([\d.]+) s \(([\d.]+) s idle\), ([\d.]+) MIPS busy", r[2])
    g = re.search(r"cpubench: .*elapsed_us=(\d+)", r[2])
    if r[0] is not None:
        print("ftvm: %.2f s for cpubench; %s MIPS over the whole run; guest says %s us"
              % (r[1] - r[0], m.group(4) if m else "n/a", g.group(1) if g else "n/a"))
    if have_qemu:
        q = run_until(QEMU + ["-bios", BIOS, "-kernel", IMAGE, "-initrd", INITRD, "-append", append],
                      "domT init: ready", 600)
        if q[0] is not None:
            print("qemu: %.2f s for cpubench" % (q[1] - q[0]))
            if r[0] is not None:
                print("ratio ftvm/qemu cpubench speed: %.2f" % ((q[1] - q[0]) / (r[1] - r[0])))


if __name__ == "__main__":
    main()
