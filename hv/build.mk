# SPDX-License-Identifier: MIT
# hv: the deterministic machine (libhv.a) and the ftvm command.

# The folders are the layers: cpu/ (a hart: interpreter, translator, MMU, soft-float),
# dev/ (device models), rr/ (record, replay, the determinism layer, sessions), rq/ (the
# replay queue), host/ (network backends, thread scheduling); the machine that wires them stays here.
HV_OBJS += hv/cpu/cpu.o hv/cpu/csr.o hv/cpu/state.o hv/cpu/rvc.o hv/cpu/fp.o hv/cpu/mmu.o
HV_OBJS += hv/cpu/softfp/fpu.o hv/cpu/softfp/fpu_cvt.o
include hv/cpu/build.mk
HV_OBJS += hv/dev/syscon.o hv/dev/clint.o hv/dev/plic.o hv/dev/uart.o
HV_OBJS += hv/dev/virtio_mmio.o hv/dev/virtio_blk.o hv/dev/virtio_net.o
HV_OBJS += hv/machine.o hv/machine_state.o hv/snapshot.o hv/loader.o hv/fdt.o hv/errmsg.o hv/crc32c.o
# host side: the only code besides rr/ that touches host I/O
HV_OBJS += hv/host/slirp.o hv/host/tap.o hv/host/sched.o
# rr: one file per source of non-determinism (clock, console, net: host side and log form),
# the log codec and reader, record, replay, bisect, digest, output commit, going live, sessions
HV_OBJS += hv/rr/clock.o hv/rr/console.o hv/rr/net.o
HV_OBJS += hv/rr/log.o hv/rr/reader.o hv/rr/image.o hv/rr/record.o hv/rr/replay.o hv/rr/bisect.o
HV_OBJS += hv/rr/digest.o hv/rr/output_commit.o hv/rr/live.o hv/rr/session.o hv/rr/trim.o
HV_OBJS += hv/rq/queue.o

LIBHV := $(BUILD)/libhv.a
FTVM := $(BUILD)/ftvm

all: $(FTVM)

$(LIBHV): $(addprefix $(BUILD)/,$(HV_OBJS))
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(FTVM): $(addprefix $(BUILD)/,$(FTVM_OBJS)) $(LIBHV) $(LIBXPORT)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Unit tests: one program per test_*.c, linked against libhv (run under ASan/UBSan in CI).
UNIT_TESTS +=
UNIT_TESTS += $(BUILD)/hv/tests/test_cpu
# DMA writes reach the incremental digest: two machines whose disks differ in one block.
UNIT_TESTS += $(BUILD)/hv/tests/test_dma_dirty
# The images' digests in a log header follow the files, though each is hashed once per process.
UNIT_TESTS += $(BUILD)/hv/tests/test_rr_image
# Snapshots: save and load a small machine, every damaged byte and truncation refused.
UNIT_TESTS += $(BUILD)/hv/tests/test_snapshot
# ... and Linux with disk and network, saved by 'ftvm snapshot save', resumed by snapshot_twin.
SYSTEM_TESTS += hv/tests/snapshot-linux.sh
# ... and a snapshot taken during a replay goes on with the rest of the log, every check matching.
SYSTEM_TESTS += hv/tests/snapshot-replay.sh
# ... and a recording stopped into a snapshot goes on in another process; one replay crosses the seam.
SYSTEM_TESTS += hv/tests/record-continue.sh
SYSTEM_TESTS += hv/tests/run-from-snapshot.sh
# The log names its digest hash: XXH3-128 and SHA-256 logs replay, dump and catch a changed digest.
SYSTEM_TESTS += hv/tests/rr-digest-hash.sh
# make install DESTDIR=... PREFIX=/usr, then the installed ftvm boots its guest; make uninstall.
SYSTEM_TESTS += hv/tests/install.sh
SYSTEM_TEST_DEPS += $(BUILD)/hv/tests/snapshot_twin
$(BUILD)/hv/tests/snapshot_twin: $(BUILD)/hv/tests/snapshot_twin.o $(LIBHV)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/hv/tests/test_%: $(BUILD)/hv/tests/test_%.o $(LIBHV)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# test_fpu needs only the soft-float objects and the host libm as its oracle.
UNIT_TESTS += $(BUILD)/hv/tests/test_fpu
$(BUILD)/hv/tests/test_fpu: $(addprefix $(BUILD)/hv/,tests/test_fpu.o cpu/softfp/fpu.o cpu/softfp/fpu_cvt.o)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

UNIT_TESTS += $(BUILD)/hv/tests/test_net_backend
$(BUILD)/hv/tests/test_net_backend: $(BUILD)/hv/tests/test_net_backend.o $(BUILD)/hv/host/slirp.o $(BUILD)/hv/host/tap.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# test_devices links only the platform device models; it gives the CLINT a test bus (bus.h).
UNIT_TESTS += $(BUILD)/hv/tests/test_devices
$(BUILD)/hv/tests/test_devices: $(addprefix $(BUILD)/hv/,tests/test_devices.o dev/syscon.o dev/clint.o dev/plic.o dev/uart.o)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# Benchmarks: `make bench` prints MIPS and boot time for ftvm and QEMU.
$(BUILD)/bench/loop.elf: hv/bench/loop.S
	$(quiet) RVCC $@
	@mkdir -p $(dir $@)
	$(Q)$(RISCV_CC) -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -fno-pie -no-pie -static \
		-Wl,-Ttext=0x80000000 -Wl,-N -Wl,--build-id=none -Wl,--no-warn-rwx-segments -o $@ $<
BENCHES += bench-hv bench-rr
BENCH_DEPS += $(BUILD)/bench/loop.elf
.PHONY: bench-hv bench-rr
bench-rr: $(FTVM)
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) python3 hv/bench/bench_rr.py
bench-hv: $(FTVM) $(BUILD)/bench/loop.elf
	$(Q)BUILD=$(BUILD) FTVM=$(FTVM) python3 hv/bench/bench.py

SYSTEM_TESTS += hv/tests/bad-input.sh
SYSTEM_TESTS += hv/tests/linux-boot.sh
SYSTEM_TESTS += hv/tests/ftkv-user-net.sh
SYSTEM_TESTS += hv/tests/disk-persist.sh
SYSTEM_TESTS += hv/tests/twin-run.sh
SYSTEM_TESTS += hv/tests/console-pty.sh
SYSTEM_TESTS += hv/tests/rr-linux.sh
SYSTEM_TESTS += hv/tests/rr-jitter.sh
SYSTEM_TESTS += hv/tests/rr-crash.sh
SYSTEM_TESTS += hv/tests/rr-diverge.sh
SYSTEM_TESTS += hv/tests/rr-golive-tap.sh
SYSTEM_TESTS += hv/tests/rr-output-commit.sh
SYSTEM_TESTS += hv/tests/rr-output-commit-fulldisk.sh
SYSTEM_TESTS += hv/tests/rr-output-commit-checkpoint.sh
SYSTEM_TESTS += hv/tests/asan-guest.sh

# virtio: the unit test links the virtio objects alone; the libFuzzer target builds with $(CLANG).
UNIT_TESTS += $(BUILD)/hv/tests/test_virtio
SYSTEM_TESTS += hv/fuzz/fuzz-smoke.sh
VIRTIO_OBJS := $(addprefix $(BUILD)/hv/dev/,virtio_mmio.o virtio_blk.o virtio_net.o)
$(BUILD)/hv/tests/test_virtio: $(BUILD)/hv/tests/test_virtio.o $(VIRTIO_OBJS)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
FUZZ_VIRTQ_SRCS := hv/fuzz/fuzz_virtq.c hv/dev/virtio_mmio.c hv/dev/virtio_blk.c hv/dev/virtio_net.c
fuzz: $(BUILD)/fuzz/fuzz_virtq
$(BUILD)/fuzz/fuzz_virtq: $(FUZZ_VIRTQ_SRCS) $(wildcard hv/*.h hv/*/*.h)
	$(quiet) FUZZ $@
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(WARNINGS) -I. -D_GNU_SOURCE -o $@ $(FUZZ_VIRTQ_SRCS)

# replay log: the format codec, 'ftvm log dump', its unit test (codec + dump tool only) and its libFuzzer target.
UNIT_TESTS += $(BUILD)/hv/tests/test_rr_log
$(BUILD)/hv/tests/test_rr_log: $(addprefix $(BUILD)/hv/,tests/test_rr_log.o rr/log.o rr/reader.o crc32c.o errmsg.o) $(BUILD)/cli/log_dump.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
FUZZ_RR_LOG_SRCS := hv/fuzz/fuzz_rr_log.c hv/rr/log.c hv/rr/reader.c hv/crc32c.c hv/errmsg.c
fuzz: $(BUILD)/fuzz/fuzz_rr_log
$(BUILD)/fuzz/fuzz_rr_log: $(FUZZ_RR_LOG_SRCS) $(wildcard hv/*.h hv/*/*.h)
	$(quiet) FUZZ $@
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(WARNINGS) -I. -D_GNU_SOURCE -o $@ $(FUZZ_RR_LOG_SRCS)

# snapshot decoder: libFuzzer target. The decoder, the machine and its devices are built with clang
# and instrumented; the CPU and the host side (GNU C that clang refuses) link in as gcc built them.
FUZZ_SNAPSHOT_HV := snapshot machine_state machine rr/digest cpu/state dev/syscon dev/clint dev/plic \
	dev/uart dev/virtio_mmio dev/virtio_blk dev/virtio_net loader fdt crc32c errmsg
FUZZ_SNAPSHOT_SRCS := hv/fuzz/fuzz_snapshot.c $(patsubst %,hv/%.c,$(FUZZ_SNAPSHOT_HV))
FUZZ_SNAPSHOT_GCC := $(addprefix $(BUILD)/,$(filter-out $(patsubst %,hv/%.o,$(FUZZ_SNAPSHOT_HV)),$(HV_OBJS)))
fuzz: $(BUILD)/fuzz/fuzz_snapshot
$(BUILD)/fuzz/fuzz_snapshot: $(FUZZ_SNAPSHOT_SRCS) $(FUZZ_SNAPSHOT_GCC) $(wildcard hv/*.h hv/*/*.h hv/*/*/*.h)
	$(quiet) FUZZ $@
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(WARNINGS) $(CPPFLAGS) -o $@ $(FUZZ_SNAPSHOT_SRCS) $(FUZZ_SNAPSHOT_GCC) $(PKG_LIBS)

UNIT_TESTS += $(BUILD)/hv/tests/test_rr_queue
$(BUILD)/hv/tests/test_rr_queue: $(BUILD)/hv/tests/test_rr_queue.o $(BUILD)/hv/rq/queue.o
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lpthread
