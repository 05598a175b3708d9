/* SPDX-License-Identifier: MIT */
/* cpu: one RV64GC hart (RV64IMAFDC, Zicsr, Zifencei; M/S/U; Sv39/Sv48) as the machine drives it. */
#ifndef HV_CPU_H
#define HV_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/bus.h"
#include "hv/mem.h"

/* mip bits that devices drive (privileged spec 3.1.9). */
enum {
	RV_IRQ_SSIP = 1, RV_IRQ_MSIP = 3, RV_IRQ_STIP = 5, RV_IRQ_MTIP = 7,
	RV_IRQ_SEIP = 9, RV_IRQ_MEIP = 11,
};

enum { RV_PRIV_U = 0, RV_PRIV_S = 1, RV_PRIV_M = 3 };

#define RV_TLB_ENTRIES 256

struct rv_tlb_entry {
	uint64_t vpn_tag;	/* vpn + 1, translation context from bit 56 (cpu_internal.h); 0 = invalid */
	uintptr_t host_addend;	/* host pointer = vaddr + addend (RAM pages only) */
};

struct rv_jit;

struct rv_hart {
	uint64_t x[32];
	uint64_t f[32];		/* single values NaN-boxed */
	uint64_t pc;
	uint8_t priv;
	uint32_t fflags;
	uint32_t frm;
	bool wfi;		/* stalled in WFI until (mip & mie) != 0 */
	bool exit_req;		/* leave rv_hart_run after the current instruction */
	bool observe_irqs;	/* report taken interrupts to bus->observe_irq */

	uint64_t steps;		/* instructions retired + traps taken: the event clock */
	uint64_t minstret;	/* retired, as the CSR shows it (writable) */
	uint64_t mcycle;

	uint64_t mhartid;
	uint64_t mstatus, misa, medeleg, mideleg, mie, mip;
	uint64_t mtvec, mscratch, mepc, mcause, mtval, mcounteren, mcountinhibit;
	uint64_t menvcfg, senvcfg;
	uint64_t stvec, sscratch, sepc, scause, stval, scounteren, satp;
	uint64_t pmpcfg[16], pmpaddr[64];
	uint64_t tselect, tdata1, tdata2, tdata3;
	uint64_t mip_dev;	/* bits driven by irq lines (MSIP MTIP MEIP SEIP), ORed into mip reads */

	uint64_t resv_addr;	/* LR/SC reservation (physical) */
	bool resv_valid;
	uint64_t resv_val;	/* value LR read: SC also fails if another hart changed it since */

	/* Translation caches, tagged by context; flushed on satp writes, sfence.vma and digests. */
	struct rv_tlb_entry tlb_read[RV_TLB_ENTRIES];
	struct rv_tlb_entry tlb_write[RV_TLB_ENTRIES];
	struct rv_tlb_entry tlb_code[RV_TLB_ENTRIES];

	const struct bus *bus;	/* MMIO, guest time and the irq hook; the machine's */
	const struct guest_ram *ram;

	/* The translator (hv/cpu/jit.h), NULL when the interpreter runs alone; not guest state. */
	struct rv_jit *jit;
	uint64_t jit_data_tag;	/* rv_tlb_data_tag while translated code runs */
	uint64_t jit_code_tag;	/* rv_tlb_code_tag while translated code runs */
	bool exit_taken;	/* rv_hart_run left on exit_req (the translator's dispatcher reads it) */
};

void rv_hart_init(struct rv_hart *h, const struct bus *bus, const struct guest_ram *ram,
		  int hartid);
/* Reset to M-mode at pc with the reset values of the privileged spec. */
void rv_hart_reset(struct rv_hart *h, uint64_t pc);

/*
 * Execute until budget steps are taken, the hart enters WFI, or exit_req is
 * set. Returns the steps taken (h->steps advances by the same amount).
 * Interrupts are sampled at entry and after any instruction that may change
 * pending or enabled state (CSR writes, MMIO accesses, xRET, WFI wake).
 */
uint64_t rv_hart_run(struct rv_hart *h, uint64_t budget);

/* Level of a device-driven mip bit (RV_IRQ_MSIP/MTIP/MEIP/SEIP). */
void rv_hart_set_irq(struct rv_hart *h, int bit, int level);
/* True when a WFI-stalled hart should resume: (mip & mie) != 0. */
bool rv_hart_wakeable(const struct rv_hart *h);
/* Drop every cached translation (the machine does so when it clears dirty-page bits). */
void rv_hart_flush_tlb(struct rv_hart *h);
/* The instruction at va if it can be read without side effects (for divergence reports). */
bool rv_hart_peek_insn(const struct rv_hart *h, uint64_t va, uint32_t *insn);
/*
 * Architectural state through the little-endian serializer (state.c):
 * what snapshots store and digests hash. Load refuses (-EINVAL) a short or
 * inconsistent record, or one of another hart id, and leaves h unchanged then.
 */
struct le_writer;
struct le_reader;
void rv_hart_save(const struct rv_hart *h, struct le_writer *w);
int rv_hart_load(struct rv_hart *h, struct le_reader *r) __attribute__((warn_unused_result));
/* Bytes rv_hart_save writes. */
#define RV_HART_SAVE_BYTES ((39 + 32 + 32 + 16 + 64) * 8)

#endif
