/* SPDX-License-Identifier: MIT */
/* jit: the RISC-V -> x86-64 block translator, as the machine, the harts and the MMU see it. */
#ifndef HV_CPU_JIT_H
#define HV_CPU_JIT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/cpu/cpu.h"

struct rv_jit;

/* Whether this host can run translated code (x86-64 only). */
bool rv_jit_supported(void);
struct guest_ram;

/*
 * One translation cache for the harts of a machine and their RAM (which it
 * hooks so that device writes drop translated code); NULL when out of
 * memory or unsupported.
 */
struct rv_jit *rv_jit_create(struct rv_hart *harts, int nharts, struct guest_ram *ram);
void rv_jit_destroy(struct rv_jit *j);

/*
 * rv_hart_run with translated blocks: the same contract (budget, WFI,
 * exit_req) and the same step count, instruction for instruction; the
 * interpreter runs whatever the translator does not handle.
 */
uint64_t rv_jit_run(struct rv_hart *h, uint64_t budget);

/* A store reached guest physical page pa through the MMU slow path or a device: drop its translations. */
void rv_jit_note_store(struct rv_jit *j, uint64_t pa);
/* Drop every translation. */
void rv_jit_flush(struct rv_jit *j);
/* A FENCE.I: pages with translations are compared with their copies before they run again. */
void rv_jit_fence_i(struct rv_jit *j);

struct rv_jit_stats {
	uint64_t blocks_translated, flushes, blocks_run, interp_steps, chains;
	uint64_t page_drops;	/* one page's blocks dropped: a store or a device wrote it */
};
void rv_jit_get_stats(const struct rv_jit *j, struct rv_jit_stats *st);

#endif
