/* SPDX-License-Identifier: MIT */
/* cpu_internal: what the interpreter, CSR, FP and MMU files of one hart share. */
#ifndef HV_CPU_INTERNAL_H
#define HV_CPU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/cpu/cpu.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define RV_MUST_CHECK __attribute__((warn_unused_result))

/* Exception causes (privileged spec 3.1.15, table 3.6). */
enum {
	RV_EXC_INSN_MISALIGNED = 0, RV_EXC_INSN_ACCESS = 1, RV_EXC_ILLEGAL = 2,
	RV_EXC_BREAKPOINT = 3, RV_EXC_LOAD_MISALIGNED = 4, RV_EXC_LOAD_ACCESS = 5,
	RV_EXC_STORE_MISALIGNED = 6, RV_EXC_STORE_ACCESS = 7, RV_EXC_ECALL_U = 8,
	RV_EXC_ECALL_S = 9, RV_EXC_ECALL_M = 11, RV_EXC_INSN_PAGE = 12,
	RV_EXC_LOAD_PAGE = 13, RV_EXC_STORE_PAGE = 15,
};

/* mstatus fields (privileged spec 3.1.6). */
#define MSTATUS_SIE	(1ull << 1)
#define MSTATUS_MIE	(1ull << 3)
#define MSTATUS_SPIE	(1ull << 5)
#define MSTATUS_MPIE	(1ull << 7)
#define MSTATUS_SPP	(1ull << 8)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP	(3ull << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS	(3ull << 13)
#define MSTATUS_MPRV	(1ull << 17)
#define MSTATUS_SUM	(1ull << 18)
#define MSTATUS_MXR	(1ull << 19)
#define MSTATUS_TVM	(1ull << 20)
#define MSTATUS_TW	(1ull << 21)
#define MSTATUS_TSR	(1ull << 22)
#define MSTATUS_UXL	(3ull << 32)
#define MSTATUS_SXL	(3ull << 34)
#define MSTATUS_SD	(1ull << 63)
#define MSTATUS_XL64	((2ull << 32) | (2ull << 34))

#define MIP_SSIP (1ull << RV_IRQ_SSIP)
#define MIP_MSIP (1ull << RV_IRQ_MSIP)
#define MIP_STIP (1ull << RV_IRQ_STIP)
#define MIP_MTIP (1ull << RV_IRQ_MTIP)
#define MIP_SEIP (1ull << RV_IRQ_SEIP)
#define MIP_MEIP (1ull << RV_IRQ_MEIP)
#define MIP_S_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)

enum rv_access { RV_ACC_FETCH = 0, RV_ACC_LOAD = 1, RV_ACC_STORE = 2 };

#define RV_PAGE_SHIFT 12
#define RV_PAGE_SIZE 4096u
#define RV_TLB_INDEX(va) (((va) >> RV_PAGE_SHIFT) & (RV_TLB_ENTRIES - 1))

/*
 * A TLB entry's vpn_tag is vpn + 1 plus, from bit 56 up, what the
 * translation was made under: the fetch privilege for tlb_code; for data,
 * the effective privilege (MPRV/MPP), SUM and MXR. Privilege and mstatus
 * changes then need no flush; satp writes and SFENCE.VMA still flush.
 */
#define RV_TLB_CTX_SHIFT 56

static inline uint64_t rv_tlb_code_tag(const struct rv_hart *h)
{
	return 1 + ((uint64_t)h->priv << RV_TLB_CTX_SHIFT);
}

static inline uint64_t rv_tlb_data_tag(const struct rv_hart *h)
{
	uint64_t s = h->mstatus;
	uint64_t p = (s & MSTATUS_MPRV) ? (s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT : h->priv;

	return 1 + ((p | (s & (MSTATUS_SUM | MSTATUS_MXR)) >> 16) << RV_TLB_CTX_SHIFT);
}

/*
 * Retired instructions between h->steps and the interpreter's local count
 * reach minstret/mcycle here; traps are added to h->steps by the caller
 * without passing through, since they do not retire.
 */
static inline void rv_sync(struct rv_hart *h, uint64_t steps)
{
	uint64_t d = steps - h->steps;

	if (!(h->mcountinhibit & 1))
		h->mcycle += d;
	if (!(h->mcountinhibit & 4))
		h->minstret += d;
	h->steps = steps;
}

static inline bool rv_fs_off(const struct rv_hart *h)
{
	return (h->mstatus & MSTATUS_FS) == 0;
}

static inline void rv_fs_dirty(struct rv_hart *h)
{
	h->mstatus |= MSTATUS_FS;
}

/*
 * rvc.c: every 16-bit RVC encoding mapped to the 32-bit instruction it
 * stands for (0xffffffff if reserved), built once by rv_rvc_init (rv_hart_init
 * calls it); the interpreter indexes the table directly.
 */
extern uint32_t rv_rvc_table[1 << 16] __attribute__((visibility("hidden")));
void rv_rvc_init(void);
uint32_t rv_rvc_insn(uint32_t c);

/* cpu.c: the value an AMO with funct5 f5 stores; *ok false for a reserved f5. */
uint64_t rv_amo_op(unsigned f5, uint64_t old, uint64_t b, bool word, bool *ok);

/* csr.c: CSRs, traps, interrupts, xRET. */
/* Execute a Zicsr instruction; 0, or -1 for an illegal instruction. */
int rv_csr_insn(struct rv_hart *h, uint32_t insn, uint64_t *rd_val) RV_MUST_CHECK;
/* Enter the trap handler for an exception at h->pc. */
void rv_trap(struct rv_hart *h, uint64_t cause, uint64_t tval);
/* The interrupt to take now, or -1. */
int rv_irq_pending(const struct rv_hart *h);
/* Take interrupt irq with h->pc as the resume address. */
void rv_take_irq(struct rv_hart *h, int irq);
/* 0 with h->pc set to the return address, or -1 (illegal instruction). */
int rv_mret(struct rv_hart *h) RV_MUST_CHECK;
int rv_sret(struct rv_hart *h) RV_MUST_CHECK;
void rv_csr_reset(struct rv_hart *h);

/* fp.c: OP-FP and the fused multiply-adds; 0, or -1 for illegal. */
int rv_fp_exec(struct rv_hart *h, uint32_t insn) RV_MUST_CHECK;

/* mmu.c: translation and the slow paths of memory access; return 0 or an exception cause. */
void rv_tlb_flush(struct rv_hart *h);
int rv_mmu_code_page(struct rv_hart *h, uint64_t va, uintptr_t *addend) RV_MUST_CHECK;
int rv_mmu_load(struct rv_hart *h, uint64_t va, int size, uint64_t *val, uint64_t *tval)
	RV_MUST_CHECK;
int rv_mmu_store(struct rv_hart *h, uint64_t va, int size, uint64_t val, uint64_t *tval)
	RV_MUST_CHECK;
/* Host pointer of a naturally aligned RAM word, for LR/SC/AMO (acc: LOAD or STORE). */
int rv_mmu_ram_ptr(struct rv_hart *h, uint64_t va, int size, enum rv_access acc, uint64_t *pa,
		   void **host) RV_MUST_CHECK;

#endif
