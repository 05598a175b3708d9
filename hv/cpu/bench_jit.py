#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench_jit: the translator beside the interpreter and QEMU (-icount shift=0), figures and ratios from one run.
import os, re, resource, statistics, subprocess, sys, tempfile, time

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


def cpu_wall_seconds(cmd, timeout=600):
    """(host CPU time (user + sys, every thread), wall time) the command used; (None, None) if it failed."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                         timeout=timeout)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        return None, None
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), wall


def cpu_seconds(cmd, timeout=600):
    """Host CPU time (user + sys, every thread) the command used; None if it failed."""
    return cpu_wall_seconds(cmd, timeout)[0]


# Runs per figure for the CPU-time sections (BENCH_RUNS, default 5): the machine is shared, so
# every figure is a median with its spread, and the commands compared are interleaved run by run.
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
# Pairs for the record overhead (BENCH_RR_RUNS, default 12): a 2% goal on a ~1 s run is ~20 ms, about
# the run-to-run spread, so it takes more pairs than the speed figures; each pair runs in alternating order.
RR_RUNS = int(os.environ.get("BENCH_RR_RUNS", "12"))
# BENCH_JIT_ONLY=record: only the record overhead section (the others are unchanged when they run).
ONLY = os.environ.get("BENCH_JIT_ONLY", "")


def cpu_series(cmds):
    """{name: [host CPU seconds per run]} for {name: argv}, interleaved; None for a failed run."""
    out = {k: [] for k in cmds}
    for _ in range(RUNS):
        for k, cmd in cmds.items():
            out[k].append(cpu_seconds(cmd))
    return out


def med(v):
    return None if not v or None in v else statistics.median(v)


def spread(v):
    return "n/a" if med(v) is None else "%.3f s [%.3f-%.3f]" % (med(v), min(v), max(v))


def ratio(a, b):
    return "n/a" if not a or not b else "%.2f" % (a / b)


def ratio_spread(a, b):
    """Median ratio a/b over paired runs, with its lowest and highest pair."""
    if med(a) is None or med(b) is None:
        return "n/a"
    r = [x / y for x, y in zip(a, b)]
    return "%.2f [%.2f-%.2f]" % (statistics.median(r), min(r), max(r))


def pct(v):
    """Median [lowest-highest] of per-pair percentages, with the middle half (quartiles)."""
    if len(v) < 4:
        return "%+.1f%% [%+.1f%% to %+.1f%%]" % (statistics.median(v), min(v), max(v))
    q = statistics.quantiles(v, n=4)
    return "%+.1f%% [%+.1f%% to %+.1f%%, middle half %+.1f%% to %+.1f%%]" % (
        statistics.median(v), min(v), max(v), q[0], q[2])


def record_overhead(workloads):
    """
    Record against run on the same guest, paired runs in alternating order, host CPU and wall time,
    for each workload (name, the guest's options for a --cpu).
    Other work on a shared host only ever adds time, so beside the per-pair median the fastest
    record against the fastest run is printed too: both sides treated alike, the least disturbed.
    """
    with tempfile.TemporaryDirectory() as d:
        for name, guest in workloads:
            print("== translator: record overhead on %s (record against run on the same guest, %d pairs "
                  "in alternating order; per-pair overhead: median [min-max, middle half])" % (name, RR_RUNS))
            for cpu in ("interp", "jit"):
                base = ["--cpu", cpu, "--no-console-input"] + guest
                cmds = {"run": [FTVM, "run"] + base,
                        "record": [FTVM, "record", "--log", os.path.join(d, cpu + ".ftlog")] + base}
                cpu_s = {k: [] for k in cmds}
                wall_s = {k: [] for k in cmds}
                failed = False
                for i in range(RR_RUNS):
                    for k in (("run", "record") if i % 2 == 0 else ("record", "run")):
                        c, w = cpu_wall_seconds(cmds[k])
                        failed = failed or c is None
                        cpu_s[k].append(c)
                        wall_s[k].append(w)
                if failed:
                    print("ftvm --cpu %-6s a run failed: n/a" % cpu)
                    continue
                for what, v in (("CPU", cpu_s), ("wall", wall_s)):
                    over = [100 * (r / p - 1) for r, p in zip(v["record"], v["run"])]
                    print("ftvm --cpu %-6s %-4s record %s, run %s, overhead %s; fastest of each %+.1f%%" % (
                        cpu, what, spread(v["record"]), spread(v["run"]), pct(over),
                        100 * (min(v["record"]) / min(v["run"]) - 1)))


def record_workloads(append):
    linux = ["--kernel", IMAGE, "--initrd", INITRD, "--net", "none"]
    return [("the bare-metal loop", ["--bios", "none", "--kernel", LOOP]),
            ("boot + power-off", linux + ["--append", APPEND_BOOT]),
            ("boot + cpubench + power-off", linux + ["--append", append])]


def main():
    append = "console=ttyS0 panic=-1 ftvm.run=cpubench,poweroff"
    if ONLY == "record":
        if not (os.path.exists(IMAGE) and os.path.exists(INITRD)):
            print("(domT not built: no record overhead figures)")
        else:
            record_overhead(record_workloads(append))
        return
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

    print("== translator: host CPU seconds for the same guest work, median [min-max] of %d interleaved runs "
          "(wall time above suffers on a shared machine; this does not)" % RUNS)
    loop_cmd = {"interp": [FTVM, "run", "--cpu", "interp", "--bios", "none", "--kernel", LOOP, "--no-console-input"],
                "jit": [FTVM, "run", "--cpu", "jit", "--bios", "none", "--kernel", LOOP, "--no-console-input"]}
    if have_qemu:
        loop_cmd["qemu"] = QEMU + ["-bios", "none", "-kernel", LOOP]

    def linux_cmds(append):
        cmds = {cpu: [FTVM, "run", "--cpu", cpu, "--virtual-clock", "--kernel", IMAGE, "--initrd", INITRD,
                      "--net", "none", "--no-console-input", "--append", append] for cpu in ("interp", "jit")}
        if have_qemu:
            cmds["qemu"] = QEMU + ["-bios", BIOS, "-kernel", IMAGE, "-initrd", INITRD, "-append", append]
        return cmds

    series = {}
    for what, cmds in (("loop", loop_cmd), ("boot + power-off", linux_cmds(APPEND_BOOT)),
                       ("boot + cpubench + power-off", linux_cmds(append))):
        cs = series[what] = cpu_series(cmds)
        print("%s: %s" % (what, ", ".join("%s %s" % (k, spread(v)) for k, v in cs.items())))
        print("  speed ratios: jit/interp %s, jit/qemu %s" % (ratio_spread(cs.get("interp"), cs.get("jit")),
                                                          ratio_spread(cs.get("qemu"), cs.get("jit"))))
    # cpubench alone: the same runs less the boot, run by run.
    boot, full = series["boot + power-off"], series["boot + cpubench + power-off"]
    alone = {k: [None if f is None or b is None else f - b for f, b in zip(full[k], boot[k])] for k in full}
    print("cpubench alone (the two above, less the boot): %s" % ", ".join(
        "%s %s" % (k, spread(v)) for k, v in alone.items()))
    print("  speed ratios: jit/interp %s, jit/qemu %s" % (ratio_spread(alone.get("interp"), alone.get("jit")),
                                                      ratio_spread(alone.get("qemu"), alone.get("jit"))))

    record_overhead(record_workloads(append))


if __name__ == "__main__":
    main()
