/* SPDX-License-Identifier: MIT */
/* jit_emit_x86: translates a block of RV64IM (and RVC) instructions into x86-64 machine code. */
#include "jit_internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * Register use in translated code (System V ABI, Intel SDM vol. 2 encodings):
 *   rbx  the hart (guest x[] at offset 0), r12  steps at the block's start,
 *   r13  the step at which to stop,  r14  where an exit puts its chain slot,
 *   rax rcx rdx rsi  scratch,
 *   rbp r15 r10 r11 rdi r8 r9  the register cache (below); rdi rsi rdx rcx
 *   r8 r9 are also the helper call arguments.
 * Guest registers live in struct rv_hart; inside a block the cache keeps
 * the ones in use in host registers. Steps are added once per block: a
 * block runs whole or not at all, and a helper that leaves mid-block has
 * set h->pc and h->steps itself.
 */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
enum { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7, CC_L = 12, CC_GE = 13 };
/* Group-1 ALU /digit and the r, r/m opcodes of the same operations. */
enum { ALU_ADD = 0, ALU_OR = 1, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7 };
enum { SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

#define OFF_X(r) ((int32_t)(offsetof(struct rv_hart, x) + 8 * (r)))
#define OFF_PC ((int32_t)offsetof(struct rv_hart, pc))
#define OFF_STEPS ((int32_t)offsetof(struct rv_hart, steps))
#define OFF_DTAG ((int32_t)offsetof(struct rv_hart, jit_data_tag))
#define OFF_CTAG ((int32_t)offsetof(struct rv_hart, jit_code_tag))
#define OFF_TLB_CODE ((int32_t)offsetof(struct rv_hart, tlb_code))
#define OFF_TLB_READ ((int32_t)offsetof(struct rv_hart, tlb_read))
#define OFF_TLB_WRITE ((int32_t)offsetof(struct rv_hart, tlb_write))

_Static_assert(sizeof(struct rv_tlb_entry) == 16, "TLB index scaling assumes 16-byte entries");
_Static_assert(RV_TLB_ENTRIES == 256, "TLB index mask assumes 256 entries");
_Static_assert(sizeof(struct jit_jc_entry) == 32, "jump cache index scaling assumes 32-byte entries");

/*
 * The register cache: within a block, guest registers live in host
 * registers, loaded at first use and written back to struct rv_hart
 * (when changed) before anything that may read them there: every exit,
 * every helper call, a slot's reuse. A block starts with the cache empty,
 * so any chained or looked-up entry sees the same state. Slots 0 and 1
 * are callee-saved and survive helper calls; the others do not.
 */
#define CACHE_SLOTS 7
static const int cache_host[CACHE_SLOTS] = { RBP, R15, R10, R11, RDI, R8, R9 };
#define CACHE_CALLEE_SAVED 2

struct cache {
	uint8_t guest[CACHE_SLOTS];	/* the guest register a slot holds, 0: none */
	uint8_t dirty;			/* slots whose register differs from struct rv_hart */
};

/*
 * A load or store's TLB miss, emitted after the block so the hit path runs
 * straight through; cache is the register cache at the miss, which the
 * slow path writes back before its call and restores before it resumes.
 */
#define SLOW_MISSES 6
struct slow_path {
	uint8_t *miss[SLOW_MISSES], *resume;
	uint64_t pc;
	uint32_t insn;
	uint8_t len, idx;
	struct cache cache;
};

/* A load site whose addend guess missed: take the TLB's and keep it for next time. */
struct addend_fix {
	uint8_t *miss, *resume;
	uint64_t *site;
};

struct emit {
	uint8_t *p, *end;
	bool full;
	struct slow_path slow[JIT_MAX_BLOCK_INSNS];
	unsigned nslow;
	struct addend_fix fix[JIT_MAX_BLOCK_INSNS];
	unsigned nfix;
	/*
	 * The guest register rax holds, valid only while nothing has been
	 * emitted since st_x stored rax to it (every byte clears it), so the
	 * next instruction's load of that register can reuse rax.
	 */
	int rax_holds;
	struct cache c;
	uint32_t lru[CACHE_SLOTS], tick;
};

static void b8(struct emit *e, uint8_t v)
{
	e->rax_holds = -1;
	if (e->p < e->end)
		*e->p++ = v;
	else
		e->full = true;
}

static void b32(struct emit *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b8(e, (uint8_t)(v >> (8 * i)));
}

static void b64(struct emit *e, uint64_t v)
{
	b32(e, (uint32_t)v);
	b32(e, (uint32_t)(v >> 32));
}

static void rex(struct emit *e, bool w, int reg, int index, int base, bool force)
{
	uint8_t v = (uint8_t)(0x40 | w << 3 | (reg >> 3) << 2 | (index >= 8) << 1 | (base >> 3));

	if (v != 0x40 || force)
		b8(e, v);
}

static void opcode(struct emit *e, uint32_t opc)
{
	if (opc > 0xffff)
		b8(e, (uint8_t)(opc >> 16));
	if (opc > 0xff)
		b8(e, (uint8_t)(opc >> 8));
	b8(e, (uint8_t)opc);
}

/* op reg, [base + index + disp] (or the other direction, as opc says); index < 0: none. */
static void op_mem(struct emit *e, bool w, uint32_t opc, int reg, int base, int index, int32_t disp)
{
	int mod = disp >= -128 && disp <= 127 ? 1 : 2;

	rex(e, w, reg & 15, index < 0 ? 0 : index, base, false);
	opcode(e, opc);
	if (index < 0 && (base & 7) != RSP) {
		b8(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
	} else {
		b8(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
		b8(e, (uint8_t)(((index < 0 ? RSP : index) & 7) << 3 | (base & 7)));
	}
	if (mod == 1)
		b8(e, (uint8_t)disp);
	else
		b32(e, (uint32_t)disp);
}

/* op reg, rm with both in registers. */
static void op_reg(struct emit *e, bool w, uint32_t opc, int reg, int rm)
{
	rex(e, w, reg, 0, rm, false);
	opcode(e, opc);
	b8(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

static int cache_find(const struct emit *e, unsigned r)
{
	for (int k = 0; k < CACHE_SLOTS; k++)
		if (e->c.guest[k] == r)
			return k;
	return -1;
}

static void cache_write_back(struct emit *e, const struct cache *c, int k)
{
	if ((c->dirty >> k) & 1)
		op_mem(e, true, 0x89, cache_host[k], RBX, -1, OFF_X(c->guest[k]));
}

/* A slot for guest register r (r != 0), holding nothing yet: a free one, else the least recently used. */
static int cache_alloc(struct emit *e, unsigned r)
{
	int k = cache_find(e, r);

	if (k >= 0)
		return k;
	for (int i = 0; i < CACHE_SLOTS && k < 0; i++)
		if (!e->c.guest[i])
			k = i;
	if (k < 0) {
		k = 0;
		for (int i = 1; i < CACHE_SLOTS; i++)
			if (e->lru[i] < e->lru[k])
				k = i;
	}
	cache_write_back(e, &e->c, k);
	e->c.dirty &= (uint8_t)~(1u << k);
	e->c.guest[k] = (uint8_t)r;
	return k;
}

/* Before an exit or a helper: struct rv_hart gets every changed register; drop: forget them too. */
static void cache_flush(struct emit *e, bool drop)
{
	for (int k = 0; k < CACHE_SLOTS; k++)
		cache_write_back(e, &e->c, k);
	e->c.dirty = 0;
	if (drop)
		memset(e->c.guest, 0, sizeof(e->c.guest));
}

/* The host register holding guest register r (r != 0), loading it on a miss. */
static int cache_get(struct emit *e, unsigned r)
{
	int k = cache_find(e, r);

	if (k < 0) {
		k = cache_alloc(e, r);
		op_mem(e, true, 0x8b, cache_host[k], RBX, -1, OFF_X(r));
	}
	e->lru[k] = ++e->tick;
	return cache_host[k];
}

/* The host register that will hold guest register r's new value (r != 0). */
static int cache_set(struct emit *e, unsigned r)
{
	int k = cache_alloc(e, r);

	e->c.dirty |= (uint8_t)(1u << k);
	e->lru[k] = ++e->tick;
	return cache_host[k];
}

static void ld_x(struct emit *e, int reg, unsigned r)
{
	if (r != 0 && (int)r == e->rax_holds) {
		if (reg != RAX)
			op_reg(e, true, 0x8b, reg, RAX);
		return;
	}
	if (r == 0)
		op_reg(e, false, 0x33, reg, reg);	/* xor r32, r32 */
	else
		op_reg(e, true, 0x8b, reg, cache_get(e, r));
}

static void ld_x32(struct emit *e, int reg, unsigned r)
{
	if (r != 0 && (int)r == e->rax_holds) {
		if (reg != RAX)
			op_reg(e, false, 0x8b, reg, RAX);
		return;
	}
	if (r == 0)
		op_reg(e, false, 0x33, reg, reg);
	else
		op_reg(e, false, 0x8b, reg, cache_get(e, r));
}

static void st_x(struct emit *e, unsigned r, int reg)
{
	if (!r)
		return;
	op_reg(e, true, 0x8b, cache_set(e, r), reg);
	if (reg == RAX)
		e->rax_holds = (int)r;
}

static bool fits_s32(uint64_t v)
{
	return (int64_t)v == (int32_t)v;
}

static void mov_imm(struct emit *e, int reg, uint64_t v)
{
	if (v <= 0xffffffffu) {
		rex(e, false, 0, 0, reg, false);
		b8(e, (uint8_t)(0xb8 + (reg & 7)));
		b32(e, (uint32_t)v);
	} else if (fits_s32(v)) {
		op_reg(e, true, 0xc7, 0, reg);
		b32(e, (uint32_t)v);
	} else {
		rex(e, true, 0, 0, reg, false);
		b8(e, (uint8_t)(0xb8 + (reg & 7)));
		b64(e, v);
	}
}

/* x[r] = v */
static void st_x_imm(struct emit *e, unsigned r, uint64_t v)
{
	if (r)
		mov_imm(e, cache_set(e, r), v);
}

static void alu_ri(struct emit *e, bool w, int ext, int reg, int32_t imm)
{
	if (imm >= -128 && imm <= 127) {
		op_reg(e, w, 0x83, ext, reg);
		b8(e, (uint8_t)imm);
	} else {
		op_reg(e, w, 0x81, ext, reg);
		b32(e, (uint32_t)imm);
	}
}

static void shift_ri(struct emit *e, bool w, int ext, int reg, unsigned sh)
{
	op_reg(e, w, 0xc1, ext, reg);
	b8(e, (uint8_t)sh);
}

static void shift_cl(struct emit *e, bool w, int ext, int reg)
{
	op_reg(e, w, 0xd3, ext, reg);
}

/* rax = condition cc (flags already set). */
static void setcc_rax(struct emit *e, int cc)
{
	op_reg(e, false, 0x0f90 + (uint32_t)cc, 0, RAX);
	op_reg(e, false, 0x0fb6, RAX, RAX);
}

static void movsxd_rax(struct emit *e)
{
	op_reg(e, true, 0x63, RAX, RAX);
}

static uint8_t *jcc32(struct emit *e, int cc)
{
	b8(e, 0x0f);
	b8(e, (uint8_t)(0x80 + cc));
	b32(e, 0);
	return e->p;
}

static uint8_t *jmp32(struct emit *e)
{
	b8(e, 0xe9);
	b32(e, 0);
	return e->p;
}

/* Point the rel32 that ends at end (as jcc32/jmp32 return) to target. */
static void fix32(struct emit *e, uint8_t *end, const uint8_t *target)
{
	if (e->full || !end)
		return;
	int32_t rel = (int32_t)(target - end);
	memcpy(end - 4, &rel, 4);
}

static void jmp_to(struct emit *e, const uint8_t *target)
{
	fix32(e, jmp32(e), target);
}

static void call_abs(struct emit *e, const void *fn)
{
	mov_imm(e, RAX, (uint64_t)(uintptr_t)fn);
	op_reg(e, false, 0xff, 2, RAX);
}

/* lea reg, [base + disp] */
static void lea(struct emit *e, int reg, int base, int32_t disp)
{
	op_mem(e, true, 0x8d, reg, base, -1, disp);
}

/* slot is the end of a jmp or jcc rel32 (what a chainable exit stores through r14). */
void jit_patch_chain(uint8_t *slot, const uint8_t *target)
{
	int32_t rel = (int32_t)(target - slot);

	memcpy(slot - 4, &rel, 4);
}

/*
 * Go on at pc: a chainable exit (same page) starts with a jmp that a later
 * lookup points at the target's block; any other goes through the jump cache.
 */
static void emit_exit_via(struct rv_jit *j, struct emit *e, uint64_t pc, bool chainable,
			  uint8_t *via)
{
	fix32(e, via, e->p);
	if (!chainable) {
		mov_imm(e, RAX, pc);
		jmp_to(e, j->jump_rax);
		return;
	}
	mov_imm(e, RAX, pc);
	op_mem(e, true, 0x89, RAX, RBX, -1, OFF_PC);
	mov_imm(e, RAX, (uint64_t)(uintptr_t)via);
	op_mem(e, true, 0x89, RAX, R14, -1, 0);
	jmp_to(e, j->epilogue);
}

static void emit_exit(struct rv_jit *j, struct emit *e, uint64_t pc, bool chainable)
{
	emit_exit_via(j, e, pc, chainable, jmp32(e));
}

/* Leave to the dispatcher with h->pc = pc (the budget is short: the interpreter finishes it). */
static void emit_leave(struct rv_jit *j, struct emit *e, uint64_t pc)
{
	mov_imm(e, RAX, pc);
	op_mem(e, true, 0x89, RAX, RBX, -1, OFF_PC);
	op_mem(e, true, 0xc7, 0, R14, -1, 0);
	b32(e, 0);
	jmp_to(e, j->epilogue);
}

void jit_emit_runtime(struct rv_jit *j)
{
	struct emit e = { .p = j->buf, .end = j->buf + JIT_CODE_BYTES };
	static const uint8_t pro[] = {
		0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, /* push rbx rbp r12-r15 */
		0x48, 0x83, 0xec, 0x08,		/* sub rsp, 8: calls see an aligned stack */
	};
	static const uint8_t epi[] = {
		0x48, 0x83, 0xc4, 0x08,		/* add rsp, 8 */
		0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3,
	};

	j->entry = (jit_entry_fn)(void *)e.p;
	for (size_t i = 0; i < sizeof(pro); i++)
		b8(&e, pro[i]);
	op_reg(&e, true, 0x8b, RBX, RDI);
	op_reg(&e, true, 0x8b, R12, RSI);
	op_reg(&e, true, 0x8b, R13, RDX);
	op_reg(&e, true, 0x8b, R14, R8);
	op_reg(&e, false, 0xff, 4, RCX);	/* jmp rcx */

	j->epilogue = e.p;
	op_reg(&e, true, 0x8b, RAX, R12);
	for (size_t i = 0; i < sizeof(epi); i++)
		b8(&e, epi[i]);

	j->exit_synced = e.p;
	op_mem(&e, true, 0x8b, R12, RBX, -1, OFF_STEPS);
	op_mem(&e, true, 0xc7, 0, R14, -1, 0);
	b32(&e, 0);
	jmp_to(&e, j->epilogue);

	/*
	 * jump_rax: h->pc = rax; then the code TLB probe (as rv_mmu_code_page's
	 * fast path) and the jump cache; any miss leaves to the dispatcher.
	 */
	j->jump_rax = e.p;
	op_mem(&e, true, 0x89, RAX, RBX, -1, OFF_PC);
	op_reg(&e, true, 0x8b, RCX, RAX);
	shift_ri(&e, true, SH_SHR, RCX, 8);
	alu_ri(&e, false, ALU_AND, RCX, 0xff0);
	op_reg(&e, true, 0x8b, RDX, RAX);
	shift_ri(&e, true, SH_SHR, RDX, RV_PAGE_SHIFT);
	op_mem(&e, true, 0x03, RDX, RBX, -1, OFF_CTAG);
	op_mem(&e, true, 0x3b, RDX, RBX, RCX, OFF_TLB_CODE);
	uint8_t *miss1 = jcc32(&e, CC_NE);
	op_mem(&e, true, 0x8b, RDX, RBX, RCX, OFF_TLB_CODE + 8);
	op_reg(&e, true, 0x8b, RCX, RAX);
	shift_ri(&e, true, SH_SHR, RCX, 1);
	alu_ri(&e, false, ALU_AND, RCX, (1 << JIT_JC_BITS) - 1);
	shift_ri(&e, false, SH_SHL, RCX, 5);
	mov_imm(&e, RSI, (uint64_t)(uintptr_t)j->jc);
	op_reg(&e, true, 0x03, RSI, RCX);
	op_mem(&e, true, 0x3b, RAX, RSI, -1, 0);
	uint8_t *miss2 = jcc32(&e, CC_NE);
	op_mem(&e, true, 0x3b, RDX, RSI, -1, 8);
	uint8_t *miss3 = jcc32(&e, CC_NE);
	op_mem(&e, false, 0xff, 4, RSI, -1, 16);	/* jmp [rsi + 16] */
	fix32(&e, miss1, e.p);
	fix32(&e, miss2, e.p);
	fix32(&e, miss3, e.p);
	op_mem(&e, true, 0xc7, 0, R14, -1, 0);
	b32(&e, 0);
	jmp_to(&e, j->epilogue);
	j->used = j->base_used = (size_t)(e.p - j->buf);
}

static inline uint32_t fetch_insn(const uint8_t *page, unsigned off, unsigned *len)
{
	uint16_t lo, hi;

	memcpy(&lo, page + off, 2);
	if ((lo & 3) != 3) {
		*len = 2;
		return rv_rvc_insn(lo);
	}
	if (off > RV_PAGE_SIZE - 4) {
		*len = 0;	/* straddles the page: the interpreter fetches it */
		return 0;
	}
	memcpy(&hi, page + off + 2, 2);
	*len = 4;
	return (uint32_t)lo | (uint32_t)hi << 16;
}

#define RD(i) (((i) >> 7) & 31)
#define RS1(i) (((i) >> 15) & 31)
#define RS2(i) (((i) >> 20) & 31)
#define F3(i) (((i) >> 12) & 7)
#define F7(i) ((i) >> 25)
#define IMM_I(i) ((int32_t)(i) >> 20)

static int32_t imm_s(uint32_t i)
{
	return (int32_t)((uint32_t)((int32_t)i >> 20 & ~0x1f) | ((i >> 7) & 0x1f));
}

static int64_t imm_b(uint32_t i)
{
	return (int32_t)((uint32_t)((int32_t)(i & 0x80000000) >> 19) | ((i >> 20) & 0x7e0) |
			 ((i >> 7) & 0x1e) | ((i << 4) & 0x800));
}

static int64_t imm_j(uint32_t i)
{
	return (int32_t)((uint32_t)((int32_t)(i & 0x80000000) >> 11) | (i & 0xff000) |
			 ((i >> 9) & 0x800) | ((i >> 20) & 0x7fe));
}

/* Exactly the encodings the interpreter accepts, minus the ones left to it (cpu.c). */
bool jit_insn_supported(uint32_t i)
{
	unsigned f3 = F3(i), f7 = F7(i);

	switch (i & 0x7f) {
	case 0x37: case 0x17: case 0x6f:
		return true;
	case 0x67:
		return f3 == 0;
	case 0x63:
		return f3 != 2 && f3 != 3;
	case 0x03:
		return f3 != 7;
	case 0x23:
		return f3 <= 3;
	case 0x13:
		if (f3 == 1)
			return (i >> 26) == 0;
		if (f3 == 5)
			return (i >> 26) == 0 || (i >> 26) == 0x10;
		return true;
	case 0x1b:
		return f3 == 0 || (f3 == 1 && f7 == 0) || (f3 == 5 && (f7 == 0 || f7 == 0x20));
	case 0x33:
		return f7 == 0 || f7 == 1 || (f7 == 0x20 && (f3 == 0 || f3 == 5));
	case 0x3b:
		if (f7 == 0)
			return f3 == 0 || f3 == 1 || f3 == 5;
		if (f7 == 0x20)
			return f3 == 0 || f3 == 5;
		return f7 == 1 && f3 != 1 && f3 != 2 && f3 != 3;
	case 0x0f:
		return f3 == 0;	/* FENCE */
	case 0x07: case 0x27:
		return f3 == 2 || f3 == 3;
	case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
		return true;	/* the helper traps what rv_fp_exec refuses */
	case 0x2f:
		return true;	/* the helper traps what the interpreter would */
	case 0x73: {
		/* CSRs whose access changes no interrupt, translation or privilege state. */
		unsigned csr = i >> 20;
		return f3 != 0 && f3 != 4 && (csr == 0x001 || csr == 0x002 || csr == 0x003 ||
					      csr == 0xc00 || csr == 0xc01 || csr == 0xc02);
	}
	default:
		return false;
	}
}

static bool ends_block(uint32_t i)
{
	unsigned op = i & 0x7f;

	return op == 0x63 || op == 0x6f || op == 0x67;
}

/* The TLB probe of cpu.c's tlb_hit for va in rsi: hits fall through with rax = host addend. */
/*
 * The TLB probe of cpu.c's tlb_hit for va in rsi: hits fall through with
 * rax = host addend. With a site (a load's own slot in j->sites) the
 * addend comes from the slot, the last one this load used, checked
 * against the TLB entry's: the access then waits for its address only,
 * not for a TLB load that waits for it (table lookups and pointer chains
 * run that much faster); a wrong guess takes the TLB's and keeps it.
 */
static uint8_t *emit_tlb_probe(struct emit *e, int32_t tlb_off, unsigned size, uint64_t *site)
{
	op_reg(e, true, 0x8b, RCX, RSI);
	shift_ri(e, true, SH_SHR, RCX, 8);
	alu_ri(e, false, ALU_AND, RCX, 0xff0);
	lea(e, RAX, RSI, (int32_t)size - 1);
	shift_ri(e, true, SH_SHR, RAX, RV_PAGE_SHIFT);
	op_mem(e, true, 0x03, RAX, RBX, -1, OFF_DTAG);
	op_mem(e, true, 0x3b, RAX, RBX, RCX, tlb_off);
	uint8_t *miss = jcc32(e, CC_NE);
	if (!site) {
		op_mem(e, true, 0x8b, RAX, RBX, RCX, tlb_off + 8);
		return miss;
	}
	b8(e, 0x48);
	b8(e, 0xa1);
	b64(e, (uint64_t)(uintptr_t)site);				/* mov rax, [site] */
	op_mem(e, true, 0x3b, RAX, RBX, RCX, tlb_off + 8);
	uint8_t *wrong = jcc32(e, CC_NE);
	e->fix[e->nfix++] = (struct addend_fix){ wrong, e->p, site };
	return miss;
}

static void emit_addend_fixes(struct emit *e)
{
	for (unsigned k = 0; k < e->nfix; k++) {
		fix32(e, e->fix[k].miss, e->p);
		op_mem(e, true, 0x8b, RAX, RBX, RCX, OFF_TLB_READ + 8);
		b8(e, 0x48);
		b8(e, 0xa3);
		b64(e, (uint64_t)(uintptr_t)e->fix[k].site);		/* mov [site], rax */
		jmp_to(e, e->fix[k].resume);
	}
}

static void emit_load(struct rv_jit *j, struct emit *e, uint32_t i, uint64_t pc, unsigned len,
		      unsigned idx)
{
	static const uint32_t ops[7] = { 0x0fbe, 0x0fbf, 0x63, 0x8b, 0x0fb6, 0x0fb7, 0x8b };
	static const bool wide[7] = { true, true, true, true, false, false, false };
	unsigned f3 = F3(i);

	ld_x(e, RSI, RS1(i));
	if (IMM_I(i))
		alu_ri(e, true, ALU_ADD, RSI, IMM_I(i));
	uint64_t *site = j->nsites < JIT_MAX_SITES ? &j->sites[j->nsites++] : NULL;
	uint8_t *miss = emit_tlb_probe(e, OFF_TLB_READ, 1u << (f3 & 3), site);
	op_mem(e, wide[f3], ops[f3], RAX, RSI, RAX, 0);
	/* The miss path rejoins here with the value in rax, as the hit path has it. */
	e->slow[e->nslow++] = (struct slow_path){ { miss }, e->p, pc, i, (uint8_t)len, (uint8_t)idx, e->c };
	st_x(e, RD(i), RAX);
}

static void emit_store(struct rv_jit *j, struct emit *e, uint32_t i, uint64_t pc, unsigned len,
		       unsigned idx)
{
	unsigned f3 = F3(i);

	ld_x(e, RSI, RS1(i));
	if (imm_s(i))
		alu_ri(e, true, ALU_ADD, RSI, imm_s(i));
	ld_x(e, RDX, RS2(i));
	uint8_t *miss = emit_tlb_probe(e, OFF_TLB_WRITE, 1u << f3, NULL);
	if (f3 == 1)
		b8(e, 0x66);
	op_mem(e, f3 == 3, f3 == 0 ? 0x88 : 0x89, RDX, RSI, RAX, 0);
	e->slow[e->nslow++] = (struct slow_path){ { miss }, e->p, pc, i, (uint8_t)len, (uint8_t)idx, e->c };
}

/*
 * The misses: va in rsi (and the value in rdx for a store) as the probe
 * left them; the helper does the whole access, then the block resumes or
 * leaves as the helper says.
 */
static void emit_slow_paths(struct rv_jit *j, struct emit *e)
{
	for (unsigned k = 0; k < e->nslow; k++) {
		const struct slow_path *sp = &e->slow[k];
		unsigned f3 = F3(sp->insn);
		for (int m = 0; m < SLOW_MISSES; m++)
			fix32(e, sp->miss[m], e->p);
		for (int c = 0; c < CACHE_SLOTS; c++)
			cache_write_back(e, &sp->cache, c);
		op_reg(e, true, 0x8b, RDI, RBX);
		if ((sp->insn & 0x7f) == 0x53) {
			mov_imm(e, RSI, sp->insn);
			mov_imm(e, RDX, sp->pc);
			lea(e, RCX, R12, sp->idx);
			call_abs(e, (const void *)jit_helper_fp);
		} else if ((sp->insn & 0x7f) == 0x03) {
			mov_imm(e, RDX, f3 | RD(sp->insn) << 8 | (uint32_t)sp->len << 16);
			mov_imm(e, RCX, sp->pc);
			lea(e, R8, R12, sp->idx);
			call_abs(e, (const void *)jit_helper_load);
		} else {
			mov_imm(e, RCX, f3 | (uint32_t)sp->len << 8);
			mov_imm(e, R8, sp->pc);
			lea(e, R9, R12, sp->idx);
			call_abs(e, (const void *)jit_helper_store);
		}
		op_reg(e, false, 0x85, RAX, RAX);
		fix32(e, jcc32(e, CC_NE), j->exit_synced);
		for (int c = CACHE_CALLEE_SAVED; c < CACHE_SLOTS; c++)
			if (sp->cache.guest[c])
				op_mem(e, true, 0x8b, cache_host[c], RBX, -1, OFF_X(sp->cache.guest[c]));
		if ((sp->insn & 0x7f) == 0x03 && RD(sp->insn))
			op_mem(e, true, 0x8b, RAX, RBX, -1, OFF_X(RD(sp->insn)));
		jmp_to(e, sp->resume);
	}
}

/*
 * ALU work straight on the cache registers when no source is x0: the host
 * register for rd, given rs1's value unless it is rs1's already (the
 * sources were touched last, so taking rd's slot never evicts them).
 */
static int alu_dst(struct emit *e, unsigned rd, int c1, bool w)
{
	int cd = cache_set(e, rd);

	if (cd != c1)
		op_reg(e, w, 0x8b, cd, c1);
	return cd;
}

static bool emit_op_imm_cached(struct emit *e, uint32_t i)
{
	unsigned rd = RD(i), f3 = F3(i);
	int32_t imm = IMM_I(i);

	if (!RS1(i) || f3 == 2 || f3 == 3)
		return false;
	int c1 = cache_get(e, RS1(i));
	if (f3 == 0) {
		int cd = cache_set(e, rd);
		if (cd == c1 && imm)
			alu_ri(e, true, ALU_ADD, cd, imm);
		else if (cd != c1)
			lea(e, cd, c1, imm);
		return true;
	}
	int cd = alu_dst(e, rd, c1, true);
	switch (f3) {
	case 1: shift_ri(e, true, SH_SHL, cd, (unsigned)imm & 63); break;
	case 4: alu_ri(e, true, ALU_XOR, cd, imm); break;
	case 5: shift_ri(e, true, (i >> 30) & 1 ? SH_SAR : SH_SHR, cd, (unsigned)imm & 63); break;
	case 6: alu_ri(e, true, ALU_OR, cd, imm); break;
	default: alu_ri(e, true, ALU_AND, cd, imm); break;
	}
	return true;
}

static void emit_op_imm(struct emit *e, uint32_t i)
{
	unsigned rd = RD(i), f3 = F3(i);
	int32_t imm = IMM_I(i);

	if (!rd)
		return;
	if (f3 == 0 && RS1(i) == 0) {
		st_x_imm(e, rd, (uint64_t)(int64_t)imm);
		return;
	}
	if (emit_op_imm_cached(e, i))
		return;
	ld_x(e, RAX, RS1(i));
	switch (f3) {
	case 0: if (imm) alu_ri(e, true, ALU_ADD, RAX, imm); break;
	case 1: shift_ri(e, true, SH_SHL, RAX, (unsigned)imm & 63); break;
	case 2: alu_ri(e, true, ALU_CMP, RAX, imm); setcc_rax(e, CC_L); break;
	case 3: alu_ri(e, true, ALU_CMP, RAX, imm); setcc_rax(e, CC_B); break;
	case 4: alu_ri(e, true, ALU_XOR, RAX, imm); break;
	case 5: shift_ri(e, true, (i >> 30) & 1 ? SH_SAR : SH_SHR, RAX, (unsigned)imm & 63); break;
	case 6: alu_ri(e, true, ALU_OR, RAX, imm); break;
	default: alu_ri(e, true, ALU_AND, RAX, imm); break;
	}
	st_x(e, rd, RAX);
}

static void emit_op_imm32(struct emit *e, uint32_t i)
{
	unsigned rd = RD(i), f3 = F3(i), sh = RS2(i);

	if (!rd)
		return;
	if (RS1(i)) {
		int c1 = cache_get(e, RS1(i)), cd = cache_set(e, rd);
		if (f3 == 0 && IMM_I(i)) {
			op_mem(e, false, 0x8d, cd, c1, -1, IMM_I(i));	/* lea r32 */
			c1 = cd;
		} else if (f3 != 0) {
			if (cd != c1)
				op_reg(e, false, 0x8b, cd, c1);
			shift_ri(e, false, f3 == 1 ? SH_SHL : F7(i) ? SH_SAR : SH_SHR, cd, sh);
			c1 = cd;
		}
		op_reg(e, true, 0x63, cd, c1);	/* movsxd */
		return;
	}
	ld_x32(e, RAX, RS1(i));
	if (f3 == 0) {
		if (IMM_I(i))
			alu_ri(e, false, ALU_ADD, RAX, IMM_I(i));
	}
	else if (f3 == 1)
		shift_ri(e, false, SH_SHL, RAX, sh);
	else
		shift_ri(e, false, F7(i) ? SH_SAR : SH_SHR, RAX, sh);
	movsxd_rax(e);
	st_x(e, rd, RAX);
}

/*
 * DIV[U][W] and REM[U][W] inline (unprivileged spec 13.2): x86 div/idiv
 * would fault where RISC-V defines a result, so divisor 0 (quotient all
 * ones, remainder the dividend) and, signed, divisor -1 (quotient -a
 * wrapping, remainder 0; this covers the overflow case) are done apart.
 */
static void emit_div(struct emit *e, uint32_t i, bool word)
{
	unsigned f3 = F3(i);
	bool w = !word, is_signed = !(f3 & 1), rem = f3 >= 6;

	ld_x(e, RAX, RS1(i));
	ld_x(e, RCX, RS2(i));
	op_reg(e, w, 0x85, RCX, RCX);
	uint8_t *zero = jcc32(e, CC_E);
	uint8_t *m1 = NULL;
	if (is_signed) {
		alu_ri(e, w, ALU_CMP, RCX, -1);
		m1 = jcc32(e, CC_E);
		if (w)
			b8(e, 0x48);
		b8(e, 0x99);				/* cqo / cdq */
		op_reg(e, w, 0xf7, 7, RCX);		/* idiv */
	} else {
		op_reg(e, false, 0x33, RDX, RDX);
		op_reg(e, w, 0xf7, 6, RCX);		/* div */
	}
	uint8_t *done1 = jmp32(e);
	fix32(e, zero, e->p);
	if (rem)
		op_reg(e, true, 0x8b, RDX, RAX);
	else
		mov_imm(e, RAX, ~0ull);
	uint8_t *done2 = jmp32(e);
	uint8_t *done3 = NULL;
	if (is_signed) {
		fix32(e, m1, e->p);
		if (rem)
			op_reg(e, false, 0x33, RDX, RDX);
		else
			op_reg(e, w, 0xf7, 3, RAX);	/* neg */
		done3 = jmp32(e);
	}
	fix32(e, done1, e->p);
	fix32(e, done2, e->p);
	if (done3)
		fix32(e, done3, e->p);
	if (rem)
		op_reg(e, true, 0x8b, RAX, RDX);
	if (word)
		movsxd_rax(e);
	st_x(e, RD(i), RAX);
}

static void emit_op(struct emit *e, uint32_t i)
{
	static const uint32_t rr[8] = { 0x03, 0, 0, 0, 0x33, 0, 0x0b, 0x23 };
	unsigned rd = RD(i), f3 = F3(i), f7 = F7(i);

	if (!rd)
		return;
	if (f7 == 1 && f3 >= 4) {
		emit_div(e, i, false);
		return;
	}
	if (RS1(i) && RS2(i) && f7 != 1 && f3 != 2 && f3 != 3) {
		int c1 = cache_get(e, RS1(i)), c2 = cache_get(e, RS2(i));
		if (f3 == 1 || f3 == 5) {
			op_reg(e, true, 0x8b, RCX, c2);
			shift_cl(e, true, f3 == 1 ? SH_SHL : f7 ? SH_SAR : SH_SHR, alu_dst(e, rd, c1, true));
			return;
		}
		uint32_t opc = f7 ? 0x2b : rr[f3];
		int cd = cache_set(e, rd);
		if (cd == c2 && cd != c1 && !f7) {
			op_reg(e, true, opc, cd, c1);	/* commutative: rd = rs2 op rs1 */
		} else if (cd == c2 && cd != c1) {
			op_reg(e, true, 0x8b, RAX, c1);
			op_reg(e, true, opc, RAX, c2);
			op_reg(e, true, 0x8b, cd, RAX);
		} else if (cd != c1 && f3 == 0 && !f7) {
			op_mem(e, true, 0x8d, cd, c1, c2, 0);	/* lea rd, [rs1 + rs2] */
		} else {
			if (cd != c1)
				op_reg(e, true, 0x8b, cd, c1);
			op_reg(e, true, opc, cd, c2);
		}
		return;
	}
	ld_x(e, RAX, RS1(i));
	ld_x(e, RCX, RS2(i));
	if (f7 == 1) {
		switch (f3) {
		case 0: op_reg(e, true, 0x0faf, RAX, RCX); break;
		case 1: op_reg(e, true, 0xf7, 5, RCX); op_reg(e, true, 0x8b, RAX, RDX); break;
		case 2:
			/* mulhsu = mulhu(a, b) - (a < 0 ? b : 0) */
			op_reg(e, true, 0x8b, RSI, RAX);
			op_reg(e, true, 0xf7, 4, RCX);
			shift_ri(e, true, SH_SAR, RSI, 63);
			op_reg(e, true, 0x23, RSI, RCX);
			op_reg(e, true, 0x2b, RDX, RSI);
			op_reg(e, true, 0x8b, RAX, RDX);
			break;
		default: op_reg(e, true, 0xf7, 4, RCX); op_reg(e, true, 0x8b, RAX, RDX); break;
		}
	} else if (f7 == 0x20) {
		if (f3 == 0)
			op_reg(e, true, 0x2b, RAX, RCX);
		else
			shift_cl(e, true, SH_SAR, RAX);
	} else {
		switch (f3) {
		case 1: shift_cl(e, true, SH_SHL, RAX); break;
		case 2: op_reg(e, true, 0x3b, RAX, RCX); setcc_rax(e, CC_L); break;
		case 3: op_reg(e, true, 0x3b, RAX, RCX); setcc_rax(e, CC_B); break;
		case 5: shift_cl(e, true, SH_SHR, RAX); break;
		default: op_reg(e, true, rr[f3], RAX, RCX); break;
		}
	}
	st_x(e, rd, RAX);
}

static void emit_op32(struct emit *e, uint32_t i)
{
	unsigned rd = RD(i), f3 = F3(i), f7 = F7(i);

	if (!rd)
		return;
	if (f7 == 1 && f3 >= 4) {
		emit_div(e, i, true);
		return;
	}
	if (RS1(i) && RS2(i) && f7 != 1) {
		int c1 = cache_get(e, RS1(i)), c2 = cache_get(e, RS2(i)), cd;
		if (f3 != 0) {
			op_reg(e, true, 0x8b, RCX, c2);
			cd = alu_dst(e, rd, c1, false);
			shift_cl(e, false, f3 == 1 ? SH_SHL : f7 ? SH_SAR : SH_SHR, cd);
		} else if ((cd = cache_set(e, rd)) == c2 && cd != c1) {
			op_reg(e, false, 0x8b, RAX, c1);
			op_reg(e, false, f7 ? 0x2b : 0x03, RAX, c2);
			op_reg(e, false, 0x8b, cd, RAX);
		} else {
			if (cd != c1)
				op_reg(e, false, 0x8b, cd, c1);
			op_reg(e, false, f7 ? 0x2b : 0x03, cd, c2);
		}
		op_reg(e, true, 0x63, cd, cd);	/* movsxd */
		return;
	}
	ld_x32(e, RAX, RS1(i));
	ld_x32(e, RCX, RS2(i));
	if (f7 == 1)
		op_reg(e, false, 0x0faf, RAX, RCX);
	else if (f3 == 0)
		op_reg(e, false, f7 ? 0x2b : 0x03, RAX, RCX);
	else if (f3 == 1)
		shift_cl(e, false, SH_SHL, RAX);
	else
		shift_cl(e, false, f7 ? SH_SAR : SH_SHR, RAX);
	movsxd_rax(e);
	st_x(e, rd, RAX);
}

#define OFF_F(r) ((int32_t)(offsetof(struct rv_hart, f) + 8 * (r)))
#define OFF_FFLAGS ((int32_t)offsetof(struct rv_hart, fflags))
#define OFF_FRM ((int32_t)offsetof(struct rv_hart, frm))
#define OFF_FS_BYTE ((int32_t)offsetof(struct rv_hart, mstatus) + MSTATUS_FS_SHIFT / 8)
#define FS_IN_BYTE ((uint8_t)(MSTATUS_FS >> (MSTATUS_FS_SHIFT / 8 * 8)))
_Static_assert(MSTATUS_FS_SHIFT / 8 == (MSTATUS_FS_SHIFT + 1) / 8, "mstatus.FS within one byte");

enum { XMM0, XMM1, XMM2, XMM3, XMM4, XMM5 };

/* A prefixed SSE2 instruction between registers: pfx 0F opc /r. */
static void sse_rr(struct emit *e, uint8_t pfx, uint8_t opc, int reg, int rm)
{
	b8(e, pfx);
	op_reg(e, false, 0x0f00u | opc, reg, rm);
}

/* xmm = f[r] through rax (which keeps the bits); flip: negate it first. */
static void ld_f(struct emit *e, int xmm, unsigned r, bool flip)
{
	op_mem(e, true, 0x8b, RAX, RBX, -1, OFF_F(r));
	if (flip) {
		op_reg(e, true, 0x0fba, 7, RAX);			/* btc rax, 63 */
		b8(e, 63);
	}
	b8(e, 0x66);
	op_reg(e, true, 0x0f6e, xmm, RAX);			/* movq xmm, rax */
}

/* Leave for the slow path unless rax's biased exponent (with the sign when signed) is in [lo, hi]. */
static uint8_t *exp_outside(struct emit *e, bool with_sign, uint32_t lo, uint32_t hi)
{
	op_reg(e, true, 0x8b, RCX, RAX);
	shift_ri(e, true, SH_SHR, RCX, 52);
	if (!with_sign)
		alu_ri(e, false, ALU_AND, RCX, 0x7ff);
	if (lo)
		alu_ri(e, false, ALU_SUB, RCX, (int32_t)lo);
	alu_ri(e, false, ALU_CMP, RCX, (int32_t)(hi - lo));
	return jcc32(e, CC_A);
}

/* vfmsub231sd / vfnmadd231sd dst, v, rm (VEX.LIG.66.0F38.W1, SDM vol. 2 "VFMSUB231SD"). */
static void vfma231(struct emit *e, uint8_t opc, int dst, int v, int rm)
{
	b8(e, 0xc4);
	b8(e, 0xe2);
	b8(e, (uint8_t)(0x81 | (~v & 15) << 3));
	b8(e, opc);
	b8(e, (uint8_t)(0xc0 | dst << 3 | rm));
}

/*
 * FADD.D FSUB.D FMUL.D FDIV.D FSQRT.D in round-to-nearest-even on SSE2, as
 * jit.c's fast_fp_d and under its conditions: IEEE 754 results are unique,
 * so where these paths are taken (finite operands, no overflow, and for
 * mul, div and sqrt everything between 2^-900 and 2^900) the bits are
 * fpu.c's, and only inexact can be raised, which exact arithmetic decides:
 * the sum's error by TwoSum, a product's, quotient's or root's residue by a
 * fused multiply-add (FMA3 hosts only). Every check comes before the first
 * write; a failed one goes to the helper, which computes the instruction
 * from scratch. No MXCSR access: reading or loading it serializes the FP
 * pipeline (measured: cpubench 30% slower).
 */
static bool emit_fp_inline(struct rv_jit *j, struct emit *e, uint32_t i, uint64_t pc, unsigned len,
			   unsigned idx)
{
	static const uint8_t sse_op[4] = { 0x58, 0x58, 0x59, 0x5e };	/* add (sub: b negated), mul, div */
	unsigned f7 = F7(i), f3 = F3(i);
	bool sqrt = f7 == 0x2d, add = f7 == 0x01 || f7 == 0x05;
	struct slow_path sp = { .pc = pc, .insn = i, .len = (uint8_t)len, .idx = (uint8_t)idx,
				.cache = e->c };
	int n = 0;

	if ((i & 0x7f) != 0x53 || (f3 != 0 && f3 != 7) || e->nslow == JIT_MAX_BLOCK_INSNS)
		return false;
	if (!(sqrt && RS2(i) == 0) && (f7 > 0x0d || (f7 & 3) != 1))
		return false;
	if (!add && !j->host_fma)
		return false;
	if (f3 == 7) {
		op_mem(e, false, 0x83, ALU_CMP, RBX, -1, OFF_FRM);
		b8(e, 0);
		sp.miss[n++] = jcc32(e, CC_NE);
	}
	op_mem(e, false, 0xf6, 0, RBX, -1, OFF_FS_BYTE);		/* test byte: FS off? */
	b8(e, FS_IN_BYTE);
	sp.miss[n++] = jcc32(e, CC_E);
	ld_f(e, XMM0, RS1(i), false);
	if (sqrt)
		sp.miss[n++] = exp_outside(e, true, 123, 1922);		/* positive, mid */
	else
		sp.miss[n++] = f7 == 0x0d ? exp_outside(e, false, 123, 1922) : exp_outside(e, false, 0, 0x7fe);
	if (!sqrt) {
		ld_f(e, XMM1, RS2(i), f7 == 0x05);
		sp.miss[n++] = add || f7 == 0x09 ? exp_outside(e, false, 0, 0x7fe) :
						   exp_outside(e, false, 123, 1922);
	}
	sse_rr(e, 0x66, 0x28, XMM2, XMM0);				/* movapd xmm2, a */
	sse_rr(e, 0xf2, sqrt ? 0x51 : sse_op[f7 >> 2], XMM2, sqrt ? XMM0 : XMM1);
	b8(e, 0x66);
	op_reg(e, true, 0x0f7e, XMM2, RAX);				/* movq rax, r */
	sp.miss[n++] = add ? exp_outside(e, false, 0, 0x7fe) : exp_outside(e, false, 123, 1922);
	if (add) {
		/* TwoSum (Knuth): err = (a - (r - (r - a))) + (b - (r - a)) */
		sse_rr(e, 0x66, 0x28, XMM3, XMM2);
		sse_rr(e, 0xf2, 0x5c, XMM3, XMM0);			/* bv = r - a */
		sse_rr(e, 0x66, 0x28, XMM4, XMM2);
		sse_rr(e, 0xf2, 0x5c, XMM4, XMM3);			/* av = r - bv */
		sse_rr(e, 0x66, 0x28, XMM5, XMM0);
		sse_rr(e, 0xf2, 0x5c, XMM5, XMM4);			/* a - av */
		sse_rr(e, 0xf2, 0x5c, XMM1, XMM3);			/* b - bv */
		sse_rr(e, 0xf2, 0x58, XMM5, XMM1);
		sse_rr(e, 0x66, 0x28, XMM3, XMM5);
	} else if (f7 == 0x09) {
		sse_rr(e, 0x66, 0x28, XMM3, XMM2);
		vfma231(e, 0xbb, XMM3, XMM0, XMM1);			/* a * b - r */
	} else {
		sse_rr(e, 0x66, 0x28, XMM3, XMM0);
		if (sqrt)
			vfma231(e, 0xbb, XMM3, XMM2, XMM2);		/* r * r - a */
		else
			vfma231(e, 0xbd, XMM3, XMM2, XMM1);		/* a - r * b */
	}
	b8(e, 0xf2);
	op_mem(e, false, 0x0f11, XMM2, RBX, -1, OFF_F(RD(i)));	/* movsd f[rd], r */
	op_mem(e, false, 0x80, ALU_OR, RBX, -1, OFF_FS_BYTE);	/* FS dirty */
	b8(e, FS_IN_BYTE);
	sse_rr(e, 0x66, 0x57, XMM4, XMM4);				/* xorpd xmm4, xmm4 */
	sse_rr(e, 0x66, 0x2e, XMM3, XMM4);				/* ucomisd err, 0 */
	uint8_t *exact = jcc32(e, CC_E);
	op_mem(e, false, 0x80, ALU_OR, RBX, -1, OFF_FFLAGS);
	b8(e, 1);							/* NX */
	fix32(e, exact, e->p);
	sp.resume = e->p;
	e->slow[e->nslow++] = sp;
	return true;
}

/* A helper that may leave the block: helper(h, a1, a2, pc, steps) in rdi rsi rdx rcx r8. */
static void emit_fp_call(struct rv_jit *j, struct emit *e, const void *fn, uint64_t a1,
			 uint64_t a2, uint64_t pc, unsigned idx, bool two)
{
	cache_flush(e, true);	/* helpers read and write x[] in struct rv_hart */
	op_reg(e, true, 0x8b, RDI, RBX);
	mov_imm(e, RSI, a1);
	if (two) {
		mov_imm(e, RDX, a2);
		mov_imm(e, RCX, pc);
		lea(e, R8, R12, (int32_t)idx);
	} else {
		mov_imm(e, RDX, pc);
		lea(e, RCX, R12, (int32_t)idx);
	}
	call_abs(e, fn);
	op_reg(e, false, 0x85, RAX, RAX);
	fix32(e, jcc32(e, CC_NE), j->exit_synced);
}

static bool same_page(uint64_t a, uint64_t b)
{
	return (a >> RV_PAGE_SHIFT) == (b >> RV_PAGE_SHIFT);
}

/*
 * A block that ends in a branch back to its own start, with nothing that
 * calls a helper inline and at most CACHE_SLOTS registers: it can keep its
 * registers cached across iterations. Sets the registers it uses and the
 * ones it writes (bit per register).
 */
static bool self_loop(const uint32_t *insns, unsigned n, uint64_t pc_last, uint64_t start,
		      uint32_t *used, uint32_t *written)
{
	uint32_t u = 0, w = 0;

	if ((insns[n - 1] & 0x7f) != 0x63 || pc_last + (uint64_t)imm_b(insns[n - 1]) != start)
		return false;
	for (unsigned k = 0; k < n; k++) {
		uint32_t i = insns[k];
		switch (i & 0x7f) {
		case 0x37: case 0x17: w |= 1u << RD(i); break;
		case 0x13: case 0x1b: case 0x03: w |= 1u << RD(i); u |= 1u << RS1(i); break;
		case 0x33: case 0x3b: w |= 1u << RD(i); u |= 1u << RS1(i) | 1u << RS2(i); break;
		case 0x23: case 0x63: u |= 1u << RS1(i) | 1u << RS2(i); break;
		case 0x0f: break;
		default: return false;
		}
	}
	*used = (u | w) & ~1u;
	*written = w & ~1u;
	return __builtin_popcount(*used) <= CACHE_SLOTS;
}

int jit_translate(struct rv_jit *j, struct jit_block *blk, const uint8_t *page)
{
	uint32_t insns[JIT_MAX_BLOCK_INSNS], raws[JIT_MAX_BLOCK_INSNS];
	uint8_t lens[JIT_MAX_BLOCK_INSNS];
	unsigned n = 0, off = blk->pc & (RV_PAGE_SIZE - 1), len;
	uint64_t pc = blk->pc;

	while (n < JIT_MAX_BLOCK_INSNS && off < RV_PAGE_SIZE) {
		uint32_t i = fetch_insn(page, off, &len);
		if (!len || !jit_insn_supported(i))
			break;
		insns[n] = i;
		memcpy(&raws[n], page + off, len);
		if (len == 2)
			raws[n] &= 0xffff;
		lens[n++] = (uint8_t)len;
		off += len;
		if (ends_block(i))
			break;
	}
	blk->ninsns = n;
	blk->code = NULL;
	if (n == 0)
		return 0;
	if (JIT_CODE_BYTES - j->used < JIT_MAX_BLOCK_BYTES)
		return -ENOSPC;

	struct emit e = { .p = j->buf + j->used, .end = j->buf + JIT_CODE_BYTES, .rax_holds = -1 };
	uint8_t *start = e.p;

	lea(&e, RAX, R12, (int32_t)n);
	op_reg(&e, true, 0x3b, RAX, R13);
	uint8_t *no_budget = jcc32(&e, CC_A);

	/*
	 * A self-loop loads its registers once, before its head; the branch
	 * back (budget allowing) goes to the head with them still cached, and
	 * every other exit writes back what the loop writes. The cache's state
	 * at the head is the same from both sides: the slots never move (no
	 * evictions: all registers fit) and every written register counts as
	 * changed (writing back one loaded but not yet changed is harmless).
	 */
	uint64_t pc_last = blk->pc;
	for (unsigned k = 0; k + 1 < n; k++)
		pc_last += lens[k];
	uint32_t used = 0, written = 0;
	uint8_t *head = NULL;
	if (self_loop(insns, n, pc_last, blk->pc, &used, &written)) {
		for (unsigned r = 1; r < 32; r++)
			if ((used >> r) & 1)
				cache_get(&e, r);
		for (unsigned r = 1; r < 32; r++)
			if ((written >> r) & 1)
				e.c.dirty |= (uint8_t)(1u << cache_find(&e, r));
		head = e.p;
	}

	for (unsigned k = 0; k < n; k++, pc += lens[k - 1]) {
		uint32_t i = insns[k];
		uint64_t npc = pc + lens[k];
		switch (i & 0x7f) {
		case 0x37:
			st_x_imm(&e, RD(i), (uint64_t)(int64_t)(int32_t)(i & 0xfffff000));
			break;
		case 0x17:
			st_x_imm(&e, RD(i), pc + (uint64_t)(int64_t)(int32_t)(i & 0xfffff000));
			break;
		case 0x6f: {
			uint64_t t = pc + (uint64_t)imm_j(i);
			st_x_imm(&e, RD(i), npc);
			cache_flush(&e, false);
			lea(&e, R12, R12, (int32_t)n);
			emit_exit(j, &e, t, same_page(t, blk->pc));
			break;
		}
		case 0x67:
			ld_x(&e, RAX, RS1(i));
			if (IMM_I(i))
				alu_ri(&e, true, ALU_ADD, RAX, IMM_I(i));
			alu_ri(&e, true, ALU_AND, RAX, -2);
			st_x_imm(&e, RD(i), npc);
			cache_flush(&e, false);
			lea(&e, R12, R12, (int32_t)n);
			jmp_to(&e, j->jump_rax);
			break;
		case 0x63: {
			static const int cc[8] = { CC_E, CC_NE, 0, 0, CC_L, CC_GE, CC_B, CC_AE };
			uint64_t t = pc + (uint64_t)imm_b(i);
			ld_x(&e, RAX, RS1(i));
			if (RS2(i)) {
				ld_x(&e, RCX, RS2(i));
				op_reg(&e, true, 0x3b, RAX, RCX);
			} else {
				op_reg(&e, true, 0x85, RAX, RAX);	/* against x0 */
			}
			if (head && k == n - 1) {
				struct cache at_branch = e.c;
				lea(&e, R12, R12, (int32_t)n);
				uint8_t *again = jcc32(&e, cc[F3(i)]);
				cache_flush(&e, false);
				emit_exit(j, &e, npc, same_page(npc, blk->pc));
				fix32(&e, again, e.p);
				lea(&e, RAX, R12, (int32_t)n);
				op_reg(&e, true, 0x3b, RAX, R13);
				fix32(&e, jcc32(&e, CC_BE), head);
				e.c = at_branch;
				cache_flush(&e, false);
				emit_leave(j, &e, blk->pc);
				break;
			}
			cache_flush(&e, false);	/* mov leaves the flags alone */
			lea(&e, R12, R12, (int32_t)n);
			/* Both the jcc and the jmp after it are chain slots: a taken branch goes straight on. */
			uint8_t *taken = jcc32(&e, cc[F3(i)]);
			uint8_t *not_taken = jmp32(&e);
			emit_exit_via(j, &e, npc, same_page(npc, blk->pc), not_taken);
			emit_exit_via(j, &e, t, same_page(t, blk->pc), taken);
			break;
		}
		case 0x03: emit_load(j, &e, i, pc, lens[k], k); break;
		case 0x23: emit_store(j, &e, i, pc, lens[k], k); break;
		case 0x13: emit_op_imm(&e, i); break;
		case 0x1b: emit_op_imm32(&e, i); break;
		case 0x33: emit_op(&e, i); break;
		case 0x3b: emit_op32(&e, i); break;
		case 0x07: case 0x27:
			emit_fp_call(j, &e, (const void *)jit_helper_fmem, i,
				     raws[k] | (uint64_t)lens[k] << 32, pc, k, true);
			break;
		case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
			if (emit_fp_inline(j, &e, i, pc, lens[k], k))
				break;
			emit_fp_call(j, &e, (const void *)jit_helper_fp, i, 0, pc, k, false);
			break;
		case 0x73:
			emit_fp_call(j, &e, (const void *)jit_helper_csr, i, 0, pc, k, false);
			break;
		case 0x2f:
			emit_fp_call(j, &e, (const void *)jit_helper_amo, i, 0, pc, k, false);
			break;
		default: break;	/* FENCE: harts run in turns, memory is always ordered */
		}
	}
	if (!ends_block(insns[n - 1])) {
		cache_flush(&e, false);
		lea(&e, R12, R12, (int32_t)n);
		emit_exit(j, &e, pc, same_page(pc, blk->pc));
	}
	fix32(&e, no_budget, e.p);
	emit_leave(j, &e, blk->pc);
	emit_slow_paths(j, &e);
	emit_addend_fixes(&e);
	if (e.full)
		return -ENOSPC;
	blk->code = start;
	j->used = (size_t)(e.p - j->buf);
	return 0;
}
