#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench_jit: the translator beside the interpreter and QEMU (-icount shift=0), figures and ratios from one run.
import os, re, resource, subprocess, sys, tempfile

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


def cpu_seconds(cmd, timeout=600):
    """Host CPU time (user + sys, every thread) the command used; None if it failed."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rc = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                         timeout=timeout)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime) if rc == 0 else None


def best_cpu(cmd):
    runs = [cpu_seconds(cmd) for _ in range(3)]
    return None if None in runs else min(runs)


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

    print("== translator: host CPU seconds for the same guest work, best of 3 (wall time above suffers on a "
          "shared machine; this does not)")
    loop_cmd = {"interp": [FTVM, "run", "--cpu", "interp", "--bios", "none", "--kernel", LOOP, "--no-console-input"],
                "jit": [FTVM, "run", "--cpu", "jit", "--bios", "none", "--kernel", LOOP, "--no-console-input"],
                "qemu": QEMU + ["-bios", "none", "-kernel", LOOP]}
    append = "console=ttyS0 panic=-1 ftvm.run=cpubench,poweroff"
    linux_cmd = {cpu: [FTVM, "run", "--cpu", cpu, "--virtual-clock", "--kernel", IMAGE, "--initrd", INITRD,
                       "--net", "none", "--no-console-input", "--append", append] for cpu in ("interp", "jit")}
    linux_cmd["qemu"] = QEMU + ["-bios", BIOS, "-kernel", IMAGE, "-initrd", INITRD, "-append", append]
    for what, cmds in (("loop", loop_cmd), ("boot + cpubench + power-off", linux_cmd)):
        cs = {k: best_cpu(v) for k, v in cmds.items() if k != "qemu" or have_qemu}
        print("%s: %s" % (what, ", ".join("%s %s" % (k, "n/a" if v is None else "%.2f s" % v) for k, v in cs.items())))
        print("  speed ratios: jit/interp %s, jit/qemu %s" % (ratio(cs.get("interp"), cs.get("jit")),
                                                          ratio(cs.get("qemu"), cs.get("jit"))))

    print("== translator: record overhead on boot + cpubench (host CPU seconds, record against run, best of 3)")
    with tempfile.TemporaryDirectory() as d:
        for cpu in ("interp", "jit"):
            base = ["--cpu", cpu, "--kernel", IMAGE, "--initrd", INITRD, "--net", "none", "--no-console-input",
                    "--append", append]
            run = best_cpu([FTVM, "run"] + base)
            rec = best_cpu([FTVM, "record", "--log", os.path.join(d, cpu + ".ftlog")] + base)
            print("ftvm --cpu %-6s record %s, run %s, overhead %s" % (
                cpu, "n/a" if rec is None else "%.2f s" % rec, "n/a" if run is None else "%.2f s" % run,
                "n/a" if not rec or not run else "%+.1f%%" % (100 * (rec / run - 1))))


if __name__ == "__main__":
    main()
