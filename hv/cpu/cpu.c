/* SPDX-License-Identifier: MIT */
/* cpu: the RV64GC hart interpreter loop and reset (RVC expansion: rvc.c; state: state.c). */
#include "hv/cpu/cpu_internal.h"

#include <string.h>

/*
 * With no code page cached, fetches in [NO_CODE_BASE, NO_CODE_BASE + 0xffc]
 * still pass the one-compare fast path: they read zeros from no_code_page,
 * an illegal instruction, and the illegal path then fetches properly.
 */
#define NO_CODE_BASE 1ull
#define NO_CODE_ADDEND ((uintptr_t)no_code_page - NO_CODE_BASE)
static const uint8_t no_code_page[RV_PAGE_SIZE];
#define OP(major) ((major) >> 2)
void rv_hart_init(struct rv_hart *h, const struct bus *bus, const struct guest_ram *ram,
		  int hartid)
{
	rv_rvc_init();
	memset(h, 0, sizeof(*h));
	h->bus = bus;
	h->ram = ram;
	h->mhartid = (uint64_t)hartid;
	rv_hart_reset(h, ram ? ram->base : 0);
}

/* Privileged spec 3.4; the step counter is the machine's clock and survives a reset. */
void rv_hart_reset(struct rv_hart *h, uint64_t pc)
{
	const struct bus *bus = h->bus;
	const struct guest_ram *ram = h->ram;
	uint64_t hartid = h->mhartid, steps = h->steps, mip_dev = h->mip_dev;
	struct rv_jit *jit = h->jit;

	memset(h, 0, sizeof(*h));
	h->bus = bus;
	h->ram = ram;
	h->mhartid = hartid;
	h->steps = steps;
	h->mip_dev = mip_dev;
	h->jit = jit;
	h->priv = RV_PRIV_M;
	h->pc = pc;
	rv_csr_reset(h);
}

void rv_hart_set_irq(struct rv_hart *h, int bit, int level)
{
	uint64_t mask = 1ull << bit;

	if (level)
		h->mip_dev |= mask;
	else
		h->mip_dev &= ~mask;
}

bool rv_hart_wakeable(const struct rv_hart *h)
{
	return ((h->mip | h->mip_dev) & h->mie) != 0;
}

static inline uint64_t load_host(const void *p, unsigned f3)
{
	switch (f3) {
	case 0: { int8_t v; memcpy(&v, p, 1); return (uint64_t)(int64_t)v; }
	case 1: { int16_t v; memcpy(&v, p, 2); return (uint64_t)(int64_t)v; }
	case 2: { int32_t v; memcpy(&v, p, 4); return (uint64_t)(int64_t)v; }
	case 4: { uint8_t v; memcpy(&v, p, 1); return v; }
	case 5: { uint16_t v; memcpy(&v, p, 2); return v; }
	case 6: { uint32_t v; memcpy(&v, p, 4); return v; }
	default: { uint64_t v; memcpy(&v, p, 8); return v; }
	}
}

static inline uint64_t load_extend(uint64_t v, unsigned f3)
{
	switch (f3) {
	case 0: return (uint64_t)(int64_t)(int8_t)v;
	case 1: return (uint64_t)(int64_t)(int16_t)v;
	case 2: return (uint64_t)(int64_t)(int32_t)v;
	case 4: return (uint8_t)v;
	case 5: return (uint16_t)v;
	case 6: return (uint32_t)v;
	default: return v;
	}
}

static inline void store_host(void *p, uint64_t v, unsigned f3)
{
	switch (f3) {
	case 0: { uint8_t t = (uint8_t)v; memcpy(p, &t, 1); break; }
	case 1: { uint16_t t = (uint16_t)v; memcpy(p, &t, 2); break; }
	case 2: { uint32_t t = (uint32_t)v; memcpy(p, &t, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

static inline const struct rv_tlb_entry *tlb_hit(const struct rv_tlb_entry *tlb, uint64_t va,
						 unsigned size, uint64_t tag)
{
	const struct rv_tlb_entry *e = &tlb[RV_TLB_INDEX(va)];

	/* The last byte's page against va's entry: one compare also rules out page crossing. */
	if (likely(e->vpn_tag == ((va + size - 1) >> RV_PAGE_SHIFT) + tag))
		return e;
	return NULL;
}

static inline uint64_t imm_s(uint32_t insn)
{
	return (uint64_t)(int64_t)(int32_t)((uint32_t)((int32_t)insn >> 20 & ~0x1f) |
					    ((insn >> 7) & 0x1f));
}

static inline uint64_t imm_b(uint32_t insn)
{
	return (uint64_t)(int64_t)(int32_t)((uint32_t)((int32_t)(insn & 0x80000000) >> 19) |
					    ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e) |
					    ((insn << 4) & 0x800));
}

static inline uint64_t imm_j(uint32_t insn)
{
	return (uint64_t)(int64_t)(int32_t)((uint32_t)((int32_t)(insn & 0x80000000) >> 11) |
					    (insn & 0xff000) | ((insn >> 9) & 0x800) |
					    ((insn >> 20) & 0x7fe));
}

static inline uint64_t div_s(int64_t a, int64_t b)
{
	if (b == 0)
		return ~0ull;
	if (a == INT64_MIN && b == -1)
		return (uint64_t)a;
	return (uint64_t)(a / b);
}

static inline uint64_t rem_s(int64_t a, int64_t b)
{
	if (b == 0)
		return (uint64_t)a;
	if (a == INT64_MIN && b == -1)
		return 0;
	return (uint64_t)(a % b);
}

static inline uint64_t div_u(uint64_t a, uint64_t b)
{
	return b ? a / b : ~0ull;
}

static inline uint64_t rem_u(uint64_t a, uint64_t b)
{
	return b ? a % b : a;
}

static inline uint64_t sx32(uint64_t v)
{
	return (uint64_t)(int64_t)(int32_t)v;
}

static uint64_t amo_op(unsigned f5, uint64_t old, uint64_t b, bool word, bool *ok)
{
	int64_t sa = word ? (int32_t)old : (int64_t)old;
	int64_t sb = word ? (int32_t)b : (int64_t)b;
	uint64_t ua = word ? (uint32_t)old : old;
	uint64_t ub = word ? (uint32_t)b : b;

	*ok = true;
	switch (f5) {
	case 0x00: return old + b;
	case 0x01: return b;
	case 0x04: return old ^ b;
	case 0x08: return old | b;
	case 0x0c: return old & b;
	case 0x10: return sa < sb ? old : b;
	case 0x14: return sa > sb ? old : b;
	case 0x18: return ua < ub ? old : b;
	case 0x1c: return ua > ub ? old : b;
	default: *ok = false; return 0;
	}
}

uint64_t rv_amo_op(unsigned f5, uint64_t old, uint64_t b, bool word, bool *ok)
{
	return amo_op(f5, old, b, word, ok);
}

/*
 * The interpreter. pc and the step count live in locals; h->steps, minstret
 * and mcycle are brought up to date (rv_sync) before anything that can call
 * into the machine or observe them, and interrupts are sampled at "sample",
 * where every path that can change pending or enabled state ends up.
 */
__attribute__((optimize("no-gcse", "no-crossjumping")))
uint64_t rv_hart_run(struct rv_hart *h, uint64_t budget)
{
	uint64_t *const x = h->x;
	const uint64_t start = h->steps;
	const uint64_t end = start + budget;
	uint64_t steps = start;
	uint64_t pc = h->pc, npc = 0, tval = 0, code_base = NO_CODE_BASE;
	uintptr_t code_addend = NO_CODE_ADDEND;
	uint64_t data_tag = 1;
	uint32_t insn = 0, raw16 = 0;
	int exc = 0;

	if (h->wfi) {
		if (!rv_hart_wakeable(h))
			return 0;
		h->wfi = false;
	}
#define rd ((insn >> 7) & 31)
#define rs1 ((insn >> 15) & 31)
#define rs2 ((insn >> 20) & 31)
#define f3 ((insn >> 12) & 7)
#define imm_i ((int64_t)((int32_t)insn >> 20))
/* Index of the dispatch table: major opcode bits 6:2, then funct3. */
#define SLOT(major, fn3) (OP(major) << 3 | (fn3))
/*
 * Fetch and dispatch, repeated at the end of every fast handler so each
 * has its own indirect jump; anything unusual goes through "fetch_slow".
 */
#define DISPATCH()							\
	do {								\
		if (unlikely(steps >= end))				\
			goto out;					\
		x[0] = 0;						\
		if (unlikely(pc - code_base > 0xffc))			\
			goto fetch_slow;				\
		memcpy(&insn, (const void *)(uintptr_t)(pc + code_addend), 4); \
		if ((insn & 3) != 3) {					\
			raw16 = insn & 0xffff;				\
			insn = rv_rvc_table[raw16];			\
			npc = pc + 2;					\
		} else {						\
			npc = pc + 4;					\
		}							\
		goto *dispatch[(insn >> 2 & 31) << 3 | f3];		\
	} while (0)
#define NEXT()								\
	do {								\
		pc = npc;						\
		steps++;						\
		DISPATCH();						\
	} while (0)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
	static const void *const dispatch[256] = {
		[0 ... 255] = &&generic,
		[SLOT(0x37, 0) ... SLOT(0x37, 7)] = &&op_lui,
		[SLOT(0x17, 0) ... SLOT(0x17, 7)] = &&op_auipc,
		[SLOT(0x6f, 0) ... SLOT(0x6f, 7)] = &&op_jal,
		[SLOT(0x67, 0)] = &&op_jalr,
		[SLOT(0x63, 0)] = &&op_beq, [SLOT(0x63, 1)] = &&op_bne,
		[SLOT(0x63, 4)] = &&op_blt, [SLOT(0x63, 5)] = &&op_bge,
		[SLOT(0x63, 6)] = &&op_bltu, [SLOT(0x63, 7)] = &&op_bgeu,
		[SLOT(0x03, 0)] = &&op_lb, [SLOT(0x03, 1)] = &&op_lh, [SLOT(0x03, 2)] = &&op_lw,
		[SLOT(0x03, 3)] = &&op_ld, [SLOT(0x03, 4)] = &&op_lbu, [SLOT(0x03, 5)] = &&op_lhu,
		[SLOT(0x03, 6)] = &&op_lwu,
		[SLOT(0x23, 0)] = &&op_sb, [SLOT(0x23, 1)] = &&op_sh, [SLOT(0x23, 2)] = &&op_sw,
		[SLOT(0x23, 3)] = &&op_sd,
		[SLOT(0x13, 0)] = &&op_addi, [SLOT(0x13, 1)] = &&op_slli,
		[SLOT(0x13, 2)] = &&op_slti, [SLOT(0x13, 3)] = &&op_sltiu,
		[SLOT(0x13, 4)] = &&op_xori, [SLOT(0x13, 5)] = &&op_srxi,
		[SLOT(0x13, 6)] = &&op_ori, [SLOT(0x13, 7)] = &&op_andi,
		[SLOT(0x1b, 0)] = &&op_addiw,
		[SLOT(0x33, 0)] = &&op_add_sub, [SLOT(0x33, 1)] = &&op_sll,
		[SLOT(0x33, 2)] = &&op_slt, [SLOT(0x33, 3)] = &&op_sltu,
		[SLOT(0x33, 4)] = &&op_xor, [SLOT(0x33, 5)] = &&op_srl_sra,
		[SLOT(0x33, 6)] = &&op_or, [SLOT(0x33, 7)] = &&op_and,
		[SLOT(0x1b, 1)] = &&op_slliw, [SLOT(0x1b, 5)] = &&op_srxiw,
		[SLOT(0x3b, 0)] = &&op_addw_subw, [SLOT(0x3b, 1)] = &&op_sllw,
		[SLOT(0x3b, 5)] = &&op_srlw_sraw, [SLOT(0x3b, 7)] = &&op_remuw,
		[SLOT(0x07, 3)] = &&op_fld, [SLOT(0x27, 3)] = &&op_fsd,
	};
#pragma GCC diagnostic pop

	goto sample;

dispatch_next:
	NEXT();

fetch_slow:
	{
		{
refetch:
			uintptr_t ad;
			exc = rv_mmu_code_page(h, pc, &ad);
			if (exc) {
				tval = pc;
				goto exception;
			}
			code_base = pc & ~(uint64_t)0xfff;
			code_addend = ad;
			if ((pc & 0xfff) <= 0xffc) {
				memcpy(&insn, (const void *)(uintptr_t)(pc + ad), 4);
			} else {
				uint16_t lo, hi;
				memcpy(&lo, (const void *)(uintptr_t)(pc + ad), 2);
				insn = lo;
				if ((lo & 3) == 3) {
					/* A 32-bit instruction straddling two pages. */
					exc = rv_mmu_code_page(h, pc + 2, &ad);
					if (exc) {
						tval = pc + 2;
						goto exception;
					}
					memcpy(&hi, (const void *)(uintptr_t)(pc + 2 + ad), 2);
					insn |= (uint32_t)hi << 16;
				}
			}
		}
		if ((insn & 3) != 3) {
			raw16 = insn & 0xffff;
			insn = rv_rvc_table[raw16];
			npc = pc + 2;
		} else {
			npc = pc + 4;
		}
		goto *dispatch[(insn >> 2 & 31) << 3 | f3];

generic:
		/*
		 * The slow cases only: loads and stores that miss the TLB, MISC-MEM,
		 * SYSTEM, AMO, FP, DIVW/REMW and reserved encodings; RV64I and M
		 * otherwise run in the handlers below. Dispatch on bits 6:2.
		 */
		switch ((insn >> 2) & 31) {
		case OP(0x03): { /* LOAD */
			uint64_t va = x[rs1] + imm_i, v;
			if (f3 == 7)
				goto illegal;
			unsigned size = 1u << (f3 & 3);
			const struct rv_tlb_entry *e = tlb_hit(h->tlb_read, va, size, data_tag);
			if (likely(e != NULL)) {
				x[rd] = load_host((const void *)(uintptr_t)(va + e->host_addend), f3);
				break;
			}
			rv_sync(h, steps);
			h->pc = pc;
			exc = rv_mmu_load(h, va, (int)size, &v, &tval);
			if (exc)
				goto exception;
			x[rd] = load_extend(v, f3);
			goto retire_sample;
		}
		case OP(0x23): { /* STORE */
			uint64_t va = x[rs1] + imm_s(insn);
			if (f3 > 3)
				goto illegal;
			unsigned size = 1u << f3;
			const struct rv_tlb_entry *e = tlb_hit(h->tlb_write, va, size, data_tag);
			if (likely(e != NULL)) {
				store_host((void *)(uintptr_t)(va + e->host_addend), x[rs2], f3);
				break;
			}
			rv_sync(h, steps);
			h->pc = pc;
			exc = rv_mmu_store(h, va, (int)size, x[rs2], &tval);
			if (exc)
				goto exception;
			goto retire_sample;
		}
		case OP(0x3b): { /* OP-32: only DIVW and REMW come here; the handlers take the rest */
			int32_t sa = (int32_t)x[rs1], sb = (int32_t)x[rs2];
			if ((insn >> 25) != 1)
				goto illegal;
			if (f3 == 4)
				x[rd] = sb == 0 ? ~0ull : (sa == INT32_MIN && sb == -1)
					? sx32((uint32_t)sa) : sx32((uint32_t)(sa / sb));
			else if (f3 == 6)
				x[rd] = sb == 0 ? sx32((uint32_t)sa) : (sa == INT32_MIN && sb == -1)
					? 0 : sx32((uint32_t)(sa % sb));
			else
				goto illegal;
			break;
		}
		case OP(0x0f): /* MISC-MEM */
			if (f3 == 0)
				break;
			if (f3 == 1)	/* FENCE.I: the code page pointer is dropped at sample. */
				goto retire_sample;
			goto illegal;
		case OP(0x73): { /* SYSTEM */
			if (f3 == 0) {
				rv_sync(h, steps);
				h->pc = pc;
				if (insn == 0x00000073) {
					exc = h->priv == RV_PRIV_U ? RV_EXC_ECALL_U
					    : h->priv == RV_PRIV_S ? RV_EXC_ECALL_S : RV_EXC_ECALL_M;
					tval = 0;
					goto exception;
				}
				if (insn == 0x00100073) {
					exc = RV_EXC_BREAKPOINT;
					tval = pc;
					goto exception;
				}
				if (insn == 0x30200073) {
					if (rv_mret(h))
						goto illegal;
					npc = h->pc;
					goto retire_sample;
				}
				if (insn == 0x10200073) {
					if (rv_sret(h))
						goto illegal;
					npc = h->pc;
					goto retire_sample;
				}
				if (insn == 0x10500073) {
					if (h->priv == RV_PRIV_U ||
					    (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TW)))
						goto illegal;
					pc = npc;
					steps++;
					h->wfi = true;
					goto out;
				}
				if ((insn & 0xfe007fff) == 0x12000073) { /* SFENCE.VMA */
					if (h->priv == RV_PRIV_U ||
					    (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)))
						goto illegal;
					rv_tlb_flush(h);
					goto retire_sample;
				}
				goto illegal;
			}
			if (f3 == 4)
				goto illegal;
			uint64_t old;
			rv_sync(h, steps);
			h->pc = pc;
			if (rv_csr_insn(h, insn, &old))
				goto illegal;
			x[rd] = old;
			goto retire_sample;
		}
		case OP(0x2f): { /* AMO */
			if (f3 != 2 && f3 != 3)
				goto illegal;
			unsigned f5 = insn >> 27, size = f3 == 2 ? 4 : 8;
			uint64_t va = x[rs1], pa, v;
			void *p;
			bool ok;
			if (f5 == 2 && rs2)
				goto illegal;
			if (f5 != 2 && f5 != 3) {
				amo_op(f5, 0, 0, false, &ok);
				if (!ok)
					goto illegal;
			}
			if (va & (size - 1)) {
				exc = f5 == 2 ? RV_EXC_LOAD_MISALIGNED : RV_EXC_STORE_MISALIGNED;
				tval = va;
				goto exception;
			}
			rv_sync(h, steps);
			h->pc = pc;
			exc = rv_mmu_ram_ptr(h, va, (int)size, f5 == 2 ? RV_ACC_LOAD : RV_ACC_STORE,
					     &pa, &p);
			if (exc) {
				tval = va;
				goto exception;
			}
			v = load_host(p, f3);
			if (f5 == 2) {		/* LR */
				h->resv_addr = pa;
				h->resv_val = v;
				h->resv_valid = true;
				x[rd] = v;
			} else if (f5 == 3) {	/* SC */
				/*
				 * Harts run in turns, so a store by another hart between LR
				 * and SC shows only as a changed value (as QEMU's cmpxchg).
				 */
				bool hit = h->resv_valid && h->resv_addr == pa && v == h->resv_val;
				if (hit)
					store_host(p, x[rs2], f3);
				h->resv_valid = false;
				x[rd] = !hit;
			} else {
				store_host(p, amo_op(f5, v, x[rs2], size == 4, &ok), f3);
				x[rd] = v;
			}
			goto retire_sample;
		}
		case OP(0x07): { /* LOAD-FP */
			uint64_t va = x[rs1] + imm_i, v;
			if ((f3 != 2 && f3 != 3) || rv_fs_off(h))
				goto illegal;
			unsigned lf3 = f3 == 2 ? 6 : 3;
			unsigned size = 1u << f3;
			const struct rv_tlb_entry *e = tlb_hit(h->tlb_read, va, size, data_tag);
			if (likely(e != NULL)) {
				v = load_host((const void *)(uintptr_t)(va + e->host_addend), lf3);
			} else {
				rv_sync(h, steps);
				h->pc = pc;
				exc = rv_mmu_load(h, va, (int)size, &v, &tval);
				if (exc)
					goto exception;
			}
			h->f[rd] = f3 == 2 ? (v & 0xffffffffull) | 0xffffffff00000000ull : v;
			rv_fs_dirty(h);
			if (e)
				break;
			goto retire_sample;
		}
		case OP(0x27): { /* STORE-FP */
			uint64_t va = x[rs1] + imm_s(insn);
			if ((f3 != 2 && f3 != 3) || rv_fs_off(h))
				goto illegal;
			unsigned size = 1u << f3;
			const struct rv_tlb_entry *e = tlb_hit(h->tlb_write, va, size, data_tag);
			if (likely(e != NULL)) {
				store_host((void *)(uintptr_t)(va + e->host_addend), h->f[rs2], f3);
				break;
			}
			rv_sync(h, steps);
			h->pc = pc;
			exc = rv_mmu_store(h, va, (int)size, h->f[rs2], &tval);
			if (exc)
				goto exception;
			goto retire_sample;
		}
		case OP(0x43): case OP(0x47): case OP(0x4b): case OP(0x4f): case OP(0x53):
			if (rv_fp_exec(h, insn))
				goto illegal;
			break;
		/* Listed so that the jump table covers all 32 values without a range check. */
		case 0x02: case 0x07: case 0x0a: case 0x0f: case 0x15: case 0x16: case 0x17:
		case 0x1a: case 0x1d: case 0x1e: case 0x1f:
		default: /* reserved encodings the handlers leave to this path */
			goto illegal;
		}
		goto dispatch_next;

op_lui:
		x[rd] = sx32(insn & 0xfffff000);
		NEXT();
op_auipc:
		x[rd] = pc + sx32(insn & 0xfffff000);
		NEXT();
op_jal:
		x[rd] = npc;
		npc = pc + imm_j(insn);
		NEXT();
op_jalr: {
		uint64_t t = (x[rs1] + imm_i) & ~1ull;
		x[rd] = npc;
		npc = t;
		NEXT();
	}
#define BRANCH(name, cond)						\
name: {									\
		uint64_t a = x[rs1], b = x[rs2];			\
		if (cond)						\
			npc = pc + imm_b(insn);				\
		NEXT();							\
	}
		BRANCH(op_beq, a == b)
		BRANCH(op_bne, a != b)
		BRANCH(op_blt, (int64_t)a < (int64_t)b)
		BRANCH(op_bge, (int64_t)a >= (int64_t)b)
		BRANCH(op_bltu, a < b)
		BRANCH(op_bgeu, a >= b)
#undef BRANCH
/* Loads and stores that miss the TLB take the generic path, which does the whole job. */
#define LOAD(name, fn3)							\
name: {									\
		uint64_t va = x[rs1] + imm_i;				\
		const struct rv_tlb_entry *e = tlb_hit(h->tlb_read, va, 1u << ((fn3) & 3), data_tag); \
		if (unlikely(e == NULL))				\
			goto generic;					\
		x[rd] = load_host((const void *)(uintptr_t)(va + e->host_addend), fn3); \
		NEXT();							\
	}
		LOAD(op_lb, 0)
		LOAD(op_lh, 1)
		LOAD(op_lw, 2)
		LOAD(op_ld, 3)
		LOAD(op_lbu, 4)
		LOAD(op_lhu, 5)
		LOAD(op_lwu, 6)
#undef LOAD
#define STORE(name, fn3)						\
name: {									\
		uint64_t va = x[rs1] + imm_s(insn);			\
		const struct rv_tlb_entry *e = tlb_hit(h->tlb_write, va, 1u << (fn3), data_tag); \
		if (unlikely(e == NULL))				\
			goto generic;					\
		store_host((void *)(uintptr_t)(va + e->host_addend), x[rs2], fn3); \
		NEXT();							\
	}
		STORE(op_sb, 0)
		STORE(op_sh, 1)
		STORE(op_sw, 2)
		STORE(op_sd, 3)
#undef STORE
op_addi:
		x[rd] = x[rs1] + imm_i;
		NEXT();
op_slli:
		if (insn >> 26)
			goto illegal;
		x[rd] = x[rs1] << (imm_i & 63);
		NEXT();
op_slti:
		x[rd] = (int64_t)x[rs1] < imm_i;
		NEXT();
op_sltiu:
		x[rd] = x[rs1] < (uint64_t)imm_i;
		NEXT();
op_xori:
		x[rd] = x[rs1] ^ imm_i;
		NEXT();
op_srxi:
		if ((insn >> 26) == 0)
			x[rd] = x[rs1] >> (imm_i & 63);
		else if ((insn >> 26) == 0x10)
			x[rd] = (uint64_t)((int64_t)x[rs1] >> (imm_i & 63));
		else
			goto illegal;
		NEXT();
op_ori:
		x[rd] = x[rs1] | imm_i;
		NEXT();
op_andi:
		x[rd] = x[rs1] & imm_i;
		NEXT();
op_addiw:
		x[rd] = sx32((uint32_t)x[rs1] + (uint32_t)imm_i);
		NEXT();
/* OP and OP-32 by funct3, with funct7 choosing base (0), SUB/SRA (0x20) or M extension (1). */
#define ALU(name, base, mext)						\
name: {									\
		uint64_t a = x[rs1], b = x[rs2];			\
		if ((insn >> 25) == 0)					\
			x[rd] = (base);					\
		else if ((insn >> 25) == 1)				\
			x[rd] = (mext);					\
		else							\
			goto illegal;					\
		NEXT();							\
	}
		ALU(op_sll, a << (b & 63),
		    (uint64_t)(((__int128)(int64_t)a * (__int128)(int64_t)b) >> 64))
		ALU(op_slt, (int64_t)a < (int64_t)b,
		    (uint64_t)(((__int128)(int64_t)a * (__int128)b) >> 64))
		ALU(op_sltu, a < b, (uint64_t)(((unsigned __int128)a * b) >> 64))
		ALU(op_xor, a ^ b, div_s((int64_t)a, (int64_t)b))
		ALU(op_or, a | b, rem_s((int64_t)a, (int64_t)b))
		ALU(op_and, a & b, rem_u(a, b))
#undef ALU
#define ALU3(name, base, alt, mext)					\
name: {									\
		uint64_t a = x[rs1], b = x[rs2];			\
		if ((insn >> 25) == 0)					\
			x[rd] = (base);					\
		else if ((insn >> 25) == 0x20)				\
			x[rd] = (alt);					\
		else if ((insn >> 25) == 1)				\
			x[rd] = (mext);					\
		else							\
			goto illegal;					\
		NEXT();							\
	}
		ALU3(op_add_sub, a + b, a - b, a * b)
		ALU3(op_srl_sra, a >> (b & 63), (uint64_t)((int64_t)a >> (b & 63)), div_u(a, b))
		ALU3(op_addw_subw, sx32((uint32_t)a + (uint32_t)b), sx32((uint32_t)a - (uint32_t)b),
		     sx32((uint32_t)a * (uint32_t)b))
		ALU3(op_srlw_sraw, sx32((uint32_t)a >> (b & 31)),
		     (uint64_t)(int64_t)((int32_t)a >> (b & 31)),
		     sx32((uint32_t)b ? (uint32_t)a / (uint32_t)b : ~0u))
#undef ALU3
op_sllw:
		if (insn >> 25)
			goto illegal;
		x[rd] = sx32((uint32_t)x[rs1] << (x[rs2] & 31));
		NEXT();
op_remuw: {
		uint32_t a = (uint32_t)x[rs1], b = (uint32_t)x[rs2];
		if ((insn >> 25) != 1)
			goto illegal;
		x[rd] = sx32(b ? a % b : a);
		NEXT();
	}
op_slliw:
		if (insn >> 25)
			goto illegal;
		x[rd] = sx32((uint32_t)x[rs1] << rs2);
		NEXT();
op_srxiw:
		if ((insn >> 25) == 0)
			x[rd] = sx32((uint32_t)x[rs1] >> rs2);
		else if ((insn >> 25) == 0x20)
			x[rd] = (uint64_t)(int64_t)((int32_t)x[rs1] >> rs2);
		else
			goto illegal;
		NEXT();
op_fld: {
		uint64_t va = x[rs1] + imm_i;
		const struct rv_tlb_entry *e = tlb_hit(h->tlb_read, va, 8, data_tag);
		if (unlikely(e == NULL || rv_fs_off(h)))
			goto generic;
		h->f[rd] = load_host((const void *)(uintptr_t)(va + e->host_addend), 3);
		rv_fs_dirty(h);
		NEXT();
	}
op_fsd: {
		uint64_t va = x[rs1] + imm_s(insn);
		const struct rv_tlb_entry *e = tlb_hit(h->tlb_write, va, 8, data_tag);
		if (unlikely(e == NULL || rv_fs_off(h)))
			goto generic;
		store_host((void *)(uintptr_t)(va + e->host_addend), h->f[rs2], 3);
		NEXT();
	}

illegal:
		if (unlikely(code_base == NO_CODE_BASE))
			goto refetch;
		exc = RV_EXC_ILLEGAL;
		tval = npc - pc == 2 ? raw16 : insn;
exception:
		rv_sync(h, steps);
		h->pc = pc;
		rv_trap(h, (uint64_t)exc, tval);
		steps++;
		h->steps = steps;
		pc = h->pc;
		goto sample;

retire_sample:
		pc = npc;
		steps++;
sample:
		rv_sync(h, steps);
		code_base = NO_CODE_BASE;
		code_addend = NO_CODE_ADDEND;
		if (unlikely(h->exit_req)) {
			h->exit_req = false;
			h->exit_taken = true;
			goto out;
		}
		if (steps < end) {
			int irq = rv_irq_pending(h);
			if (irq >= 0) {
				h->pc = pc;
				if (unlikely(h->observe_irqs))
					bus_observe_irq(h->bus, (int)h->mhartid, irq);
				rv_take_irq(h, irq);
				steps++;
				h->steps = steps;
				pc = h->pc;
			}
		}
		data_tag = rv_tlb_data_tag(h);
		DISPATCH();
	}
out:
	x[0] = 0;
	rv_sync(h, steps);
	h->pc = pc;
	return steps - start;
#undef NEXT
#undef DISPATCH
#undef SLOT
#undef rd
#undef rs1
#undef rs2
#undef f3
#undef imm_i
}
