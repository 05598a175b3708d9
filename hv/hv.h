/* SPDX-License-Identifier: MIT */
/* hv: the public API of ftvm's deterministic RISC-V machine. */
#ifndef HV_H
#define HV_H

#include <stddef.h>
#include <stdint.h>

#define HV_MAX_HARTS 8
/* Guest RAM: between these, a multiple of 4 KiB (hv_machine_create refuses anything else). */
#define HV_MIN_MEM_BYTES (16ULL << 20)
#define HV_MAX_MEM_BYTES (64ULL << 30)
#define HV_DIGEST_BYTES 32
/* Debian's OpenSBI (package opensbi): the M-mode firmware a Linux guest boots through by default. */
#define HV_DEFAULT_BIOS "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"

struct hv_machine;

/* How harts execute: the interpreter (reference) or the translator; both count steps exactly. */
enum hv_cpu_mode {
	HV_CPU_INTERP = 0,
	HV_CPU_JIT = 1,
};

struct hv_config {
	uint64_t mem_bytes;	/* guest RAM at 0x80000000 */
	int smp;		/* 1..HV_MAX_HARTS */
	const char *bios;	/* OpenSBI fw_dynamic.bin; NULL: kernel is a bare ELF run in M-mode */
	const char *kernel;	/* Linux Image (with bios) or ELF */
	const char *initrd;	/* optional */
	const char *append;	/* kernel command line, optional */
	const char *disk;	/* raw image for virtio-blk, optional */
	const char *net;	/* "user[,hostfwd=tcp::H-:G]..." or "tap:IFNAME", optional */
	enum hv_cpu_mode cpu;
};

/* Why hv_run returned. */
enum hv_stop {
	HV_STOP_BUDGET = 0,	/* the instruction budget ran out */
	HV_STOP_IDLE,		/* every hart waits for an interrupt (WFI) */
	HV_STOP_POWEROFF,	/* guest powered off (syscon 0x5555) */
	HV_STOP_REBOOT,		/* guest asked for a reset (syscon 0x7777) */
	HV_STOP_FAIL,		/* guest test failed (syscon code<<16|0x3333) */
	HV_STOP_HOST_ERROR,	/* a host-side device failure */
};

struct hv_stop_info {
	enum hv_stop why;
	int fail_code;		 /* HV_STOP_FAIL: the guest's code */
	uint64_t idle_until_mtime; /* HV_STOP_IDLE: earliest timer deadline, UINT64_MAX if none */
};

/* Non-deterministic inputs. Each is applied at an exact machine step count. */
enum hv_event_kind {
	HV_EV_CONSOLE_IN = 1,	/* bytes for the UART receiver */
	HV_EV_NET_RX = 2,	/* one Ethernet frame for virtio-net */
	HV_EV_CLOCK = 3,	/* new guest clock anchor and rate */
};

struct hv_clock {
	uint64_t anchor_mtime;	/* guest mtime at the event's step count */
	uint64_t rate_q32;	/* mtime ticks per step, 32.32 fixed point */
};

struct hv_event {
	enum hv_event_kind kind;
	uint64_t step;	/* machine step count it applies at */
	const uint8_t *data;	/* CONSOLE_IN, NET_RX */
	size_t len;
	struct hv_clock clock;	/* CLOCK */
};

/* Host-facing callbacks: where guest output goes. Optional. */
struct hv_host_ops {
	void (*console_out)(void *opaque, const uint8_t *buf, size_t len);
	void (*net_tx)(void *opaque, const uint8_t *frame, size_t len);
};

int hv_machine_create(const struct hv_config *cfg, const struct hv_host_ops *host,
		      void *host_opaque, struct hv_machine **out, char *err,
		      size_t err_len) __attribute__((warn_unused_result));
void hv_machine_destroy(struct hv_machine *m);

/* Run for at most budget steps; pure function of machine state and injected events. */
int hv_run(struct hv_machine *m, uint64_t budget, struct hv_stop_info *info)
	__attribute__((warn_unused_result));

/*
 * Ask a running hv_run to return soon (at the end of the current hart's
 * slice, at most one quantum later), with HV_STOP_BUDGET. For host callbacks:
 * output waiting on the log ends the slice early. Guest state does not depend on it.
 */
void hv_yield(struct hv_machine *m);

/* Steps so far: instructions retired plus traps taken, over all harts. */
uint64_t hv_steps(const struct hv_machine *m);
uint64_t hv_mtime(const struct hv_machine *m);
struct hv_clock hv_clock_get(const struct hv_machine *m);

/* Apply an event now (ev->step must equal hv_steps()). */
int hv_inject(struct hv_machine *m, const struct hv_event *ev)
	__attribute__((warn_unused_result));

/*
 * The hash of hv_digest and hv_digest_dirty. The values are those of the
 * replay log's digest-hash header tag (docs/log-format.md), where an absent
 * tag means SHA-256. A machine starts with XXH3-128 (16 bytes, the other 16
 * of a digest zero); a replay takes the hash its log names, so that every
 * DIGEST it checks is computed as it was recorded.
 */
enum hv_digest_hash {
	HV_DIGEST_SHA256 = 0,
	HV_DIGEST_XXH3 = 1,
};
void hv_set_digest_hash(struct hv_machine *m, enum hv_digest_hash hash);
enum hv_digest_hash hv_get_digest_hash(const struct hv_machine *m);
/* "sha256" or "xxh3"; NULL for an unknown value. */
const char *hv_digest_hash_name(enum hv_digest_hash hash);

/* The digest hash over architectural state of every hart, device state and RAM. */
void hv_digest(struct hv_machine *m, uint8_t out[HV_DIGEST_BYTES]);

/*
 * For record/replay: track the RAM pages written, so that a digest can cover
 * them without hashing all of RAM. Enable before the first step.
 */
int hv_track_dirty(struct hv_machine *m) __attribute__((warn_unused_result));
/* The digest hash over harts, devices and the pages written since the last call (then forgotten). */
void hv_digest_dirty(struct hv_machine *m, uint8_t out[HV_DIGEST_BYTES]);
/* A cheap 64-bit check of every hart's registers and CSRs, taken with each input event. */
uint64_t hv_check(const struct hv_machine *m);

/* Where a hart is, for divergence reports. */
uint64_t hv_hart_pc(const struct hv_machine *m, int hart);
int hv_nharts(const struct hv_machine *m);
uint64_t hv_mem_bytes(const struct hv_machine *m);
void hv_hart_regs(const struct hv_machine *m, int hart, uint64_t x[32], uint64_t *pc);
/* The raw bits of the instruction at va for that hart, 0 if not readable without side effects. */
uint32_t hv_hart_insn(const struct hv_machine *m, int hart, uint64_t va);
/* Test hook for divergence drills: flip bit of x[reg] of hart 0 now. */
void hv_perturb(struct hv_machine *m, int reg, int bit);

/* The guest NIC's MAC address (0 if the machine has no network). */
int hv_net_mac(const struct hv_machine *m, uint8_t mac[6]);
/* Guest free RX buffers for virtio-net: 0 if a frame injected now would be queued. */
int hv_net_rx_ready(const struct hv_machine *m);
/* Bytes the UART receiver can take now (a CONSOLE_IN event must not exceed it). */
size_t hv_console_rx_room(const struct hv_machine *m);
/* Guest disk I/Os the host refused so far (0 without a disk), and the first one's errno. */
uint64_t hv_disk_host_errors(const struct hv_machine *m, int *first_errno);

/*
 * Observer: hv reports what happens inside (the seed's report_monitored_*).
 * Costs one predictable branch where an event can happen when none is set.
 */
enum hv_obs_kind {
	HV_OBS_IRQ = 1,		/* arg: interrupt cause taken by hart */
	HV_OBS_CONSOLE_IN,	/* arg: bytes */
	HV_OBS_NET_IN,		/* arg: frame bytes */
	HV_OBS_NET_OUT,		/* arg: frame bytes */
	HV_OBS_CLOCK,		/* arg: new rate_q32 */
	HV_OBS_DIGEST,		/* arg: first 8 digest bytes */
	HV_OBS_PAUSE_BEGIN,	/* the replay queue is full: the vCPU waits */
	HV_OBS_PAUSE_END,	/* arg: ns paused */
};
struct hv_obs_event {
	enum hv_obs_kind kind;
	uint64_t step;
	int hart;
	uint64_t arg;
};
struct hv_observer {
	void (*event)(void *opaque, const struct hv_obs_event *ev);
	void *opaque;
};
/* NULL clears it. */
void hv_set_observer(struct hv_machine *m, const struct hv_observer *obs);
/* Report an event from outside the core (recorder: digests, pauses). */
void hv_observe(struct hv_machine *m, enum hv_obs_kind kind, int hart, uint64_t arg);
const char *hv_obs_name(enum hv_obs_kind kind);

#define HV_MTIME_HZ 10000000ULL

#endif
