/* SPDX-License-Identifier: MIT */
/* machine_internal: the layout of struct hv_machine, shared by machine.c, loader.c and fdt.c. */
#ifndef HV_MACHINE_INTERNAL_H
#define HV_MACHINE_INTERNAL_H

#include "hv.h"
#include "bus.h"
#include "hv/cpu/cpu.h"
#include "hv/dev/dev.h"
#include "hv/dev/devices.h"
#include "le.h"

#define MACHINE_MAX_REGIONS 16
/* Steps a hart runs before the next one gets the host thread (fixed: part of determinism). */
#define MACHINE_QUANTUM_STEPS 20000

struct mmio_region {
	uint64_t base, size;
	const struct dev_ops *ops;
	void *opaque;
};

struct boot_layout {
	uint64_t entry;		/* where every hart starts */
	uint64_t fdt_addr;
	uint64_t dynamic_info_addr;	/* OpenSBI fw_dynamic_info, 0 without firmware */
	uint64_t kernel_addr, kernel_end;
	uint64_t initrd_start, initrd_end;
};

struct hv_machine {
	struct guest_ram ram;	/* harts and devices hold pointers to it */
	struct bus bus;		/* what harts and the CLINT see of the machine */
	int nharts;
	enum hv_cpu_mode cpu_mode;
	enum hv_digest_hash digest_hash;	/* of hv_digest and hv_digest_dirty (rr/digest.c) */
	struct rv_jit *jit;	/* the translation cache when cpu_mode is HV_CPU_JIT */
	struct rv_hart harts[HV_MAX_HARTS];

	/* The event clock: steps over all harts, exact between slices. */
	uint64_t steps;
	struct rv_hart *running;	/* the hart inside rv_hart_run, or NULL */
	uint64_t slice_base, slice_hart_base;	/* steps, and the running hart's, when its slice began */
	int next_hart;
	uint64_t quantum_left;
	bool yield;		/* hv_yield: leave hv_run after this hart's slice */

	struct hv_clock clock;
	uint64_t clock_steps;	/* step at which clock.anchor_mtime holds */

	struct mmio_region regions[MACHINE_MAX_REGIONS];
	int nregions;
	struct syscon *syscon;
	struct clint *clint;
	struct plic *plic;
	struct uart *uart;
	struct virtio_mmio *blk, *net;
	struct irq_line hart_lines[HV_MAX_HARTS][4];	/* MSIP MTIP MEIP SEIP */

	enum hv_stop stop;	/* pending guest-requested stop; HV_STOP_BUDGET when none */
	int fail_code;

	struct hv_observer obs;
	struct hv_host_ops host;
	void *host_opaque;

	char *append;
	char *disk_spec;	/* hv_config.disk as given, for snapshots; NULL without a disk */
	struct boot_layout boot;
};

/*
 * The machine's state other than RAM, as parts in save order: snapshot
 * sections and digest input alike (machine_state.c). The numbers are part of
 * the snapshot format: never renumber, only add.
 */
enum machine_part {
	MPART_CORE = 1,		/* step count, clock, scheduler */
	MPART_HART = 2,		/* index: hart id */
	MPART_CLINT = 3,
	MPART_PLIC = 4,
	MPART_UART = 5,
	MPART_VIRTIO_BLK = 6,
	MPART_VIRTIO_NET = 7,
};
#define MACHINE_MAX_PARTS (HV_MAX_HARTS + 6)
struct machine_part_ref {
	enum machine_part part;
	int index;
};
int machine_parts(const struct hv_machine *m, struct machine_part_ref out[MACHINE_MAX_PARTS]);
const char *machine_part_name(enum machine_part p);
void machine_part_save(const struct hv_machine *m, struct machine_part_ref p, struct le_writer *w);
/* -EINVAL, with that part unchanged, for a record that is short, long or inconsistent. */
int machine_part_load(struct hv_machine *m, struct machine_part_ref p, struct le_reader *r)
	__attribute__((warn_unused_result));

/* RAM, harts at their reset state, devices wired; nothing loaded (snapshots fill it instead). */
int machine_create_bare(const struct hv_config *cfg, const struct hv_host_ops *host,
			void *host_opaque, struct hv_machine **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));

int loader_load(struct hv_machine *m, const struct hv_config *cfg, char *err, size_t err_len)
	__attribute__((warn_unused_result));
int fdt_build(struct hv_machine *m, const struct hv_config *cfg, void *buf, size_t buf_len,
	      char *err, size_t err_len) __attribute__((warn_unused_result));

#endif
