#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench_jit: the translator beside the interpreter and QEMU (-icount shift=0), figures and ratios from one run.
import os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from bench import BIOS, FTVM, IMAGE, INITRD, LOOP, QEMU, best_of, run_until  # noqa: E402

APPEND_BOOT = "console=ttyS0 panic=-1 ftvm.run=poweroff"
APPEND_CPU = "console=ttyS0 panic=-1 ftvm.run=cpubench"


def loop_seconds(cmd):
    _, t, out, rc = best_of(3, lambda: run_until(cmd, None, 120))
    return (t if rc == 0 else None), out


def ftvm_linux(cpu, append, marker, record_log=None):
    cmd = [FTVM, "record", "--log", record_log] if record_log else [FTVM, "run"]
    cmd += ["--cpu", cpu, "--kernel", IMAGE, "--initrd", INITRD, "--net", "none", "--no-console-input",
            "--append", append]
    return run_until(cmd, marker, 600)


def ratio(a, b):
    return "n/a" if not a or not b else "%.2f" % (a / b)


def main():
    have_qemu = subprocess.call(["which", "qemu-system-riscv64"], stdout=subprocess.DEVNULL) == 0
    steps = 100000000 * 8
    print("== translator: bare-metal integer loop, %d M instructions, best of 3 (start-up included)"
          % (steps // 1000000))
    t = {}
    for cpu in ("interp", "jit"):
        t[cpu], out = loop_seconds([FTVM, "run", "--cpu", cpu, "--bios", "none", "--kernel", LOOP,
                                    "--no-console-input", "--stats"])
        m = re.search(r"after (\d+) steps", out)
        if m:
            steps = int(m.group(1))
        print("ftvm --cpu %-6s %s" % (cpu, "failed" if not t[cpu] else
                                      "%.3f s, %.0f MIPS" % (t[cpu], steps / t[cpu] / 1e6)))
    if have_qemu:
        t["qemu"], _ = loop_seconds(QEMU + ["-bios", "none", "-kernel", LOOP])
        if t["qemu"]:
            print("qemu -icount 0   %.3f s, %.0f MIPS" % (t["qemu"], steps / t["qemu"] / 1e6))
    print("loop speed ratios: jit/interp %s, jit/qemu %s, interp/qemu %s"
          % (ratio(t["interp"], t["jit"]), ratio(t.get("qemu"), t["jit"]), ratio(t.get("qemu"), t["interp"])))

    if not (os.path.exists(IMAGE) and os.path.exists(INITRD)):
        print("(domT not built: skipping Linux figures)")
        return
    print("== translator: Linux boot to init, best of 3")
    b = {}
    for cpu in ("interp", "jit"):
        b[cpu] = best_of(3, lambda: ftvm_linux(cpu, APPEND_BOOT, "domT init: ready"))[0]
        print("ftvm --cpu %-6s %s" % (cpu, "n/a" if b[cpu] is None else "%.3f s to init" % b[cpu]))
    if have_qemu:
        b["qemu"] = best_of(3, lambda: run_until(QEMU + ["-bios", BIOS, "-kernel", IMAGE, "-initrd", INITRD,
                                                        "-append", APPEND_BOOT], "domT init: ready", 120))[0]
        print("qemu -icount 0   %s" % ("n/a" if b["qemu"] is None else "%.3f s to init" % b["qemu"]))
    print("boot time ratios: interp/jit %s, qemu/jit %s" % (ratio(b["interp"], b["jit"]),
                                                          ratio(b.get("qemu"), b["jit"])))

    print("== translator: cpubench in the Linux guest (wall time from init ready to power-off)")
    c = {}
    for cpu in ("interp", "jit"):
        r = ftvm_linux(cpu, APPEND_CPU, "domT init: ready")
        c[cpu] = None if r[0] is None else r[1] - r[0]
        print("ftvm --cpu %-6s %s" % (cpu, "n/a" if c[cpu] is None else "%.2f s" % c[cpu]))
    if have_qemu:
        q = run_until(QEMU + ["-bios", BIOS, "-kernel", IMAGE, "-initrd", INITRD, "-append", APPEND_CPU],
                      "domT init: ready", 600)
        c["qemu"] = None if q[0] is None else q[1] - q[0]
        print("qemu -icount 0   %s" % ("n/a" if c["qemu"] is None else "%.2f s" % c["qemu"]))
    print("cpubench speed ratios: jit/interp %s, jit/qemu %s" % (ratio(c["interp"], c["jit"]),
                                                                ratio(c.get("qemu"), c["jit"])))

    print("== translator: record overhead on cpubench (record against run, same --cpu)")
    with tempfile.TemporaryDirectory() as d:
        for cpu in ("interp", "jit"):
            r = ftvm_linux(cpu, APPEND_CPU, "domT init: ready", os.path.join(d, cpu + ".ftlog"))
            rec = None if r[0] is None else r[1] - r[0]
            print("ftvm --cpu %-6s record %s, run %s, overhead %s" % (
                cpu, "n/a" if rec is None else "%.2f s" % rec,
                "n/a" if c[cpu] is None else "%.2f s" % c[cpu],
                "n/a" if rec is None or not c[cpu] else "%+.1f%%" % (100 * (rec / c[cpu] - 1))))


if __name__ == "__main__":
    main()
