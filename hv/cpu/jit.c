/* SPDX-License-Identifier: MIT */
/* jit: the translation cache, its invalidation, the dispatcher loop and the helpers translated code calls. */
#include "jit_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef JIT_PERF_MAP
/*
 * Profiling builds (make CPPFLAGS=-DJIT_PERF_MAP): every block goes into
 * perf's /tmp/perf-PID.map as g_PC_NINSNS, the code buffer into
 * /tmp/jit-PID-BASE.bin at the end (objdump -b binary --adjust-vma=BASE),
 * flushes keep the old code so the map stays true, and the counters go to
 * stderr.
 */
#include <stdio.h>
#include <unistd.h>
#endif

/*
 * How the step count stays exact. A translated block of n instructions
 * runs only when n steps remain before the budget's end (its first bytes
 * check), and then runs whole unless a helper leaves early; a helper syncs
 * h->steps to the instruction it serves before it touches the machine (so
 * MMIO sees the exact mtime), and takes a trap exactly as the interpreter's
 * "exception" label does. Interrupt state only changes in the interpreter,
 * in helpers (which then leave the block) or between slices, so sampling
 * it before every dispatch equals the interpreter's sampling after every
 * instruction that may change it. What is left (interrupts, the rest of a
 * budget shorter than the next block, instructions the translator leaves
 * alone) runs in the interpreter, one call each.
 */

bool rv_jit_supported(void)
{
#if defined(__x86_64__)
	return true;
#else
	return false;
#endif
}

static size_t code_page_words(const struct rv_jit *j)
{
	return j->ram_pages / 64 + 1;
}

/* A device wrote a page with translations (hv/mem.h): drop them, as for a CPU store. */
static void code_written(void *opaque, uint64_t gpa)
{
	rv_jit_note_store(opaque, gpa);
}

struct rv_jit *rv_jit_create(struct rv_hart *harts, int nharts, struct guest_ram *ram)
{
	struct rv_jit *j;

	if (!rv_jit_supported() || nharts < 1 || !ram || harts[0].ram != ram)
		return NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->buf = mmap(NULL, JIT_CODE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j->buf == MAP_FAILED) {
		j->buf = NULL;
		goto fail;
	}
	j->ram_host = ram->host;
	j->ram_base = ram->base;
	j->ram_pages = ram->size >> RV_PAGE_SHIFT;
	j->blocks = calloc(JIT_MAX_BLOCKS, sizeof(*j->blocks));
	j->code_pages = calloc(code_page_words(j), sizeof(uint64_t));
	j->snapshots = calloc(j->ram_pages, sizeof(*j->snapshots));
	j->page_gen = calloc(j->ram_pages, sizeof(*j->page_gen));
	j->sites = calloc(JIT_MAX_SITES, sizeof(*j->sites));
	if (!j->blocks || !j->code_pages || !j->snapshots || !j->page_gen || !j->sites)
		goto fail;
	j->harts = harts;
	j->nharts = nharts;
	j->ram = ram;
	ram->code = j->code_pages;
	ram->code_written = code_written;
	ram->code_opaque = j;
	j->host_fma = __builtin_cpu_supports("fma");
	jit_emit_runtime(j);
	for (int i = 0; i < nharts; i++)
		harts[i].jit = j;
	return j;
fail:
	rv_jit_destroy(j);
	return NULL;
}

static void free_snapshots(struct rv_jit *j)
{
	for (uint64_t pn = 0; j->snapshots && j->nsnapshots && pn < j->ram_pages; pn++)
		if (j->snapshots[pn]) {
			free(j->snapshots[pn]);
			j->snapshots[pn] = NULL;
			j->nsnapshots--;
		}
}

void rv_jit_destroy(struct rv_jit *j)
{
	if (!j)
		return;
#ifdef JIT_PERF_MAP
	fprintf(stderr, "jit: %llu translated, %llu flushes, %llu page drops, %llu run, %llu interp steps, "
		"%llu chains\n", (unsigned long long)j->st.blocks_translated, (unsigned long long)j->st.flushes,
		(unsigned long long)j->st.page_drops,
		(unsigned long long)j->st.blocks_run, (unsigned long long)j->st.interp_steps,
		(unsigned long long)j->st.chains);
#endif
	for (int i = 0; i < j->nharts; i++)
		j->harts[i].jit = NULL;
	if (j->ram) {
		j->ram->code = NULL;
		j->ram->code_written = NULL;
		j->ram->code_opaque = NULL;
	}
#ifdef JIT_PERF_MAP
	if (j->buf) {
		char name[64];
		snprintf(name, sizeof(name), "/tmp/jit-%d-%lx.bin", (int)getpid(),
			 (unsigned long)(uintptr_t)j->buf);
		FILE *f = fopen(name, "w");
		if (f) {
			fwrite(j->buf, 1, j->used, f);
			fclose(f);
		}
	}
#endif
	if (j->buf)
		munmap(j->buf, JIT_CODE_BYTES);
	free(j->blocks);
	free(j->code_pages);
	free_snapshots(j);
	free(j->snapshots);
	free(j->page_gen);
	free(j->sites);
	free(j);
}

void rv_jit_flush(struct rv_jit *j)
{
	memset(j->hash, 0, sizeof(j->hash));
	memset(j->jc, 0, sizeof(j->jc));
	memset(j->code_pages, 0, code_page_words(j) * sizeof(uint64_t));
	j->nblocks = 0;
	j->nsites = 0;
#ifndef JIT_PERF_MAP
	j->used = j->base_used;
#endif
	j->gen++;
	j->st.flushes++;
	if (j->nsnapshots >= JIT_MAX_SNAPSHOTS)
		free_snapshots(j);
}

void rv_jit_fence_i(struct rv_jit *j)
{
	j->fence_gen++;
	memset(j->jc, 0, sizeof(j->jc));
}

void rv_jit_get_stats(const struct rv_jit *j, struct rv_jit_stats *st)
{
	*st = j->st;
}

/*
 * Self-modifying code: a page with translations never sits in a write
 * TLB, so every store to it reaches the MMU slow path and here (device
 * writes come through hv/mem.h). Such a store drops that page's blocks:
 * chains only join blocks of one page (emit_exit_via), and every other
 * way in goes through the jump cache or a lookup, so marking the blocks
 * dead and emptying the jump cache leaves nothing that reaches them. The
 * new generation makes pending chain slots stale, and the helpers see it
 * and leave the block they run in (it may be one of the dead).
 */
void rv_jit_note_store(struct rv_jit *j, uint64_t pa)
{
	uint64_t pn = (pa - j->ram_base) >> RV_PAGE_SHIFT;
	uintptr_t host_page = (uintptr_t)(j->ram_host + (pn << RV_PAGE_SHIFT));

	if (pn >= j->ram_pages || !((j->code_pages[pn / 64] >> (pn % 64)) & 1))
		return;
	for (size_t k = 0; k < j->nblocks; k++) {
		struct jit_block *b = &j->blocks[k];
		if (b->pc != JIT_DEAD_PC &&
		    (uintptr_t)(b->pc & ~(uint64_t)(RV_PAGE_SIZE - 1)) + b->addend == host_page)
			b->pc = JIT_DEAD_PC;
	}
	memset(j->jc, 0, sizeof(j->jc));
	j->code_pages[pn / 64] &= ~(1ull << (pn % 64));
	j->gen++;
	j->st.page_drops++;
}

static bool is_code_page(const struct rv_jit *j, uint64_t pn)
{
	return (j->code_pages[pn / 64] >> (pn % 64)) & 1;
}

/* Before any lookup in a page: if a FENCE.I came since its last check, has its code changed? */
static void check_page(struct rv_jit *j, const uint8_t *host_page)
{
	uint64_t pn = (uint64_t)(host_page - j->ram_host) >> RV_PAGE_SHIFT;

	if (pn >= j->ram_pages || !is_code_page(j, pn) || j->page_gen[pn] == j->fence_gen)
		return;
	if (memcmp(j->snapshots[pn], host_page, RV_PAGE_SIZE))
		rv_jit_flush(j);
	else
		j->page_gen[pn] = j->fence_gen;
}

/* false: no copy of the page could be kept, so no translation from it. */
static bool mark_code_page(struct rv_jit *j, const uint8_t *host_page)
{
	uint64_t pn = (uint64_t)(host_page - j->ram_host) >> RV_PAGE_SHIFT;

	if (pn >= j->ram_pages)
		return false;
	if (is_code_page(j, pn))
		return true;
	if (!j->snapshots[pn]) {
		j->snapshots[pn] = malloc(RV_PAGE_SIZE);
		if (!j->snapshots[pn])
			return false;
		j->nsnapshots++;
	}
	memcpy(j->snapshots[pn], host_page, RV_PAGE_SIZE);
	j->page_gen[pn] = j->fence_gen;
	j->code_pages[pn / 64] |= 1ull << (pn % 64);
	for (int i = 0; i < j->nharts; i++) {
		struct rv_tlb_entry *tlb = j->harts[i].tlb_write;
		for (int k = 0; k < RV_TLB_ENTRIES; k++) {
			uint64_t vpn = (tlb[k].vpn_tag - 1) & ((1ull << RV_TLB_CTX_SHIFT) - 1);
			if (tlb[k].vpn_tag &&
			    (uintptr_t)(vpn << RV_PAGE_SHIFT) + tlb[k].host_addend == (uintptr_t)host_page)
				tlb[k].vpn_tag = 0;
		}
	}
	return true;
}

static unsigned block_hash(uint64_t pc)
{
	return (unsigned)((pc >> 1) ^ (pc >> (JIT_HASH_BITS + 1))) & ((1u << JIT_HASH_BITS) - 1);
}

static struct jit_block *new_block(struct rv_jit *j, uint64_t pc, uintptr_t addend)
{
	if (j->nblocks == JIT_MAX_BLOCKS)
		rv_jit_flush(j);
	struct jit_block *b = &j->blocks[j->nblocks++];

	*b = (struct jit_block){ .pc = pc, .addend = addend };
	return b;
}

static struct jit_block *lookup(struct rv_jit *j, uint64_t pc, uintptr_t addend)
{
	unsigned hsh = block_hash(pc);
	const uint8_t *page = (const uint8_t *)(uintptr_t)((pc & ~(uint64_t)(RV_PAGE_SIZE - 1)) + addend);
	struct jit_block *b;

	check_page(j, page);
	for (b = j->hash[hsh]; b; b = b->next)
		if (b->pc == pc && b->addend == addend)
			return b;
	if (j->nsnapshots >= JIT_MAX_SNAPSHOTS)
		rv_jit_flush(j);	/* frees the page copies too */
	b = new_block(j, pc, addend);
	if (jit_translate(j, b, page) == -ENOSPC) {
		rv_jit_flush(j);
		b = new_block(j, pc, addend);
		if (jit_translate(j, b, page))
			b->code = NULL;
	}
	if (b->code && !mark_code_page(j, page))
		b->code = NULL;
	if (b->code)
		j->st.blocks_translated++;
#ifdef JIT_PERF_MAP
	if (b->code) {
		char name[64];
		snprintf(name, sizeof(name), "/tmp/perf-%d.map", (int)getpid());
		FILE *f = fopen(name, "a");
		if (f) {
			fprintf(f, "%lx %lx g_%lx_%u\n", (unsigned long)(uintptr_t)b->code,
				(unsigned long)(j->buf + j->used - b->code), (unsigned long)pc, b->ninsns);
			fclose(f);
		}
	}
#endif
	b->next = j->hash[hsh];
	j->hash[hsh] = b;
	return b;
}

/* One interpreter call; true when the dispatcher must return as rv_hart_run would. */
static bool interp(struct rv_jit *j, struct rv_hart *h, uint64_t k)
{
	h->exit_taken = false;
	uint64_t n = rv_hart_run(h, k);
	j->st.interp_steps += n;
	return n < k || h->wfi || h->exit_taken;
}

static bool is_fence_i(const struct jit_block *b)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)(b->pc + b->addend);
	uint32_t insn = 0;

	if ((b->pc & (RV_PAGE_SIZE - 1)) > RV_PAGE_SIZE - 4)
		return false;
	memcpy(&insn, p, 4);
	return (insn & 0x707f) == 0x100f;
}

uint64_t rv_jit_run(struct rv_hart *h, uint64_t budget)
{
	struct rv_jit *j = h->jit;
	const uint64_t start = h->steps, end = start + budget;
	uint8_t *slot = NULL;
	uint64_t slot_gen = 0;

	if (h->wfi) {
		if (!rv_hart_wakeable(h))
			return 0;
		h->wfi = false;
	}
	while (h->steps < end) {
		if (h->exit_req) {
			h->exit_req = false;
			break;
		}
		if (rv_irq_pending(h) >= 0) {
			slot = NULL;
			if (interp(j, h, 1))
				break;
			continue;
		}
		uintptr_t addend;
		if (rv_mmu_code_page(h, h->pc, &addend)) {
			slot = NULL;
			if (interp(j, h, 1))	/* the interpreter takes the fetch fault */
				break;
			continue;
		}
		struct jit_block *b = lookup(j, h->pc, addend);
		if (slot && slot_gen == j->gen && b->code) {
			jit_patch_chain(slot, b->code);
			j->st.chains++;
		}
		slot = NULL;
		if (!b->code) {
			bool fence_i = is_fence_i(b);
			bool leave = interp(j, h, 1);
			if (fence_i)
				rv_jit_fence_i(j);
			if (leave)
				break;
			continue;
		}
		struct jit_jc_entry *jc = &j->jc[(b->pc >> 1) & ((1u << JIT_JC_BITS) - 1)];
		*jc = (struct jit_jc_entry){ .pc = b->pc, .addend = b->addend, .code = b->code };
		if (b->ninsns > end - h->steps) {
			interp(j, h, end - h->steps);
			break;
		}
		uint64_t gen = j->gen;
		uint8_t *s = NULL;
		h->jit_data_tag = rv_tlb_data_tag(h);
		h->jit_code_tag = rv_tlb_code_tag(h);
		uint64_t steps = j->entry(h, h->steps, end, b->code, &s);
		rv_sync(h, steps);
		j->st.blocks_run++;
		if (s && j->gen == gen) {
			slot = s;
			slot_gen = gen;
		}
	}
	h->x[0] = 0;
	return h->steps - start;
}

static uint64_t load_extend(uint64_t v, unsigned f3)
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

/* As the interpreter's "exception" label: the trap is a step, not a retired instruction. */
static int helper_trap(struct rv_hart *h, int exc, uint64_t tval, uint64_t steps)
{
	rv_trap(h, (uint64_t)exc, tval);
	h->steps = steps + 1;
	return 1;
}

/*
 * After a slow access: carry on in the block only if it touched RAM (the
 * TLB now holds the page), asked no exit and dropped no translation;
 * otherwise leave after this instruction so the dispatcher samples, as the
 * interpreter does after every slow access.
 */
static int helper_done(struct rv_hart *h, const struct rv_tlb_entry *tlb, uint64_t va,
		       unsigned size, uint64_t gen, uint64_t npc, uint64_t steps)
{
	const struct rv_tlb_entry *e = &tlb[RV_TLB_INDEX(va)];

	if (e->vpn_tag == ((va + size - 1) >> RV_PAGE_SHIFT) + h->jit_data_tag && !h->exit_req &&
	    h->jit->gen == gen)
		return 0;
	h->pc = npc;
	rv_sync(h, steps + 1);
	return 1;
}

int jit_helper_load(struct rv_hart *h, uint64_t va, uint64_t meta, uint64_t pc, uint64_t steps)
{
	unsigned f3 = meta & 7, rd = (meta >> 8) & 31, len = (unsigned)(meta >> 16);
	unsigned size = 1u << (f3 & 3);
	uint64_t v, tval, gen = h->jit->gen;
	int exc;

	rv_sync(h, steps);
	h->pc = pc;
	exc = rv_mmu_load(h, va, (int)size, &v, &tval);
	if (exc)
		return helper_trap(h, exc, tval, steps);
	if (rd)
		h->x[rd] = load_extend(v, f3);
	return helper_done(h, h->tlb_read, va, size, gen, pc + len, steps);
}

int jit_helper_store(struct rv_hart *h, uint64_t va, uint64_t val, uint64_t meta, uint64_t pc,
		     uint64_t steps)
{
	unsigned f3 = meta & 7, len = (unsigned)(meta >> 8);
	unsigned size = 1u << f3;
	uint64_t tval, gen = h->jit->gen;
	int exc;

	rv_sync(h, steps);
	h->pc = pc;
	exc = rv_mmu_store(h, va, (int)size, val, &tval);
	if (exc)
		return helper_trap(h, exc, tval, steps);
	return helper_done(h, h->tlb_write, va, size, gen, pc + len, steps);
}

/* As the interpreter's "illegal" label: tval is the instruction as fetched (16 bits for RVC). */
static int helper_illegal(struct rv_hart *h, uint64_t raw, uint64_t pc, uint64_t steps)
{
	rv_sync(h, steps);
	h->pc = pc;
	return helper_trap(h, RV_EXC_ILLEGAL, raw, steps);
}

/*
 * binary64 add, sub, mul, div and sqrt rounding to nearest-even, on the
 * host's SSE2 arithmetic: IEEE 754 results are unique, so the bits are
 * those of fpu.c; only inexact can be raised where this path is taken
 * (finite operands, a normal result well away from underflow, no divide
 * by zero, no invalid), and it is exact arithmetic that says whether it is:
 * the add's rounding error (TwoSum), the product's or the quotient's
 * residue by fma, r * r against a for the root. Anything else goes to
 * rv_fp_exec.
 */
static bool fp_mid(double v)
{
	double m = fabs(v);

	return m >= 0x1p-900 && m <= 0x1p900;
}

__attribute__((optimize("fp-contract=off")))
static bool fast_fp_d(struct rv_hart *h, uint32_t insn)
{
	unsigned f3 = (insn >> 12) & 7, rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31;
	unsigned rs2 = (insn >> 20) & 31, f7 = insn >> 25;
	uint64_t ab = h->f[rs1], bb = h->f[rs2], rbits;
	double a, b, r;
	bool inexact;

	if ((insn & 0x7f) != 0x53 || (f3 == 7 ? h->frm : f3) != 0 || rv_fs_off(h) ||
	    ((ab >> 52) & 0x7ff) == 0x7ff)
		return false;
	memcpy(&a, &ab, 8);
	memcpy(&b, &bb, 8);
	switch (f7) {
	case 0x2d:	/* fsqrt.d: +0 or positive finite */
		if (rs2 || (ab >> 63) || (a != 0.0 && !fp_mid(a)))
			return false;
		r = sqrt(a);
		inexact = fma(r, r, -a) != 0.0;
		break;
	case 0x01: case 0x05: {	/* fadd.d, fsub.d */
		if (((bb >> 52) & 0x7ff) == 0x7ff)
			return false;
		if (f7 == 0x05)
			b = -b;
		r = a + b;
		if (isinf(r))
			return false;
		double bv = r - a, av = r - bv;
		inexact = ((a - av) + (b - bv)) != 0.0;
		break;
	}
	case 0x09:	/* fmul.d */
		if (((bb >> 52) & 0x7ff) == 0x7ff)
			return false;
		r = a * b;
		if (!fp_mid(r))
			return false;
		inexact = fma(a, b, -r) != 0.0;
		break;
	case 0x0d:	/* fdiv.d */
		if (!fp_mid(a) || !fp_mid(b))
			return false;
		r = a / b;
		if (!fp_mid(r))
			return false;
		inexact = fma(-r, b, a) != 0.0;
		break;
	default:
		return false;
	}
	memcpy(&rbits, &r, 8);
	h->f[rd] = rbits;
	if (inexact)
		h->fflags |= 1;		/* NX */
	rv_fs_dirty(h);
	return true;
}

/* OP-FP and the fused multiply-adds: the interpreter's FP code, called in place. */
int jit_helper_fp(struct rv_hart *h, uint64_t insn, uint64_t pc, uint64_t steps)
{
	if (fast_fp_d(h, (uint32_t)insn))
		return 0;
	if (likely(rv_fp_exec(h, (uint32_t)insn) == 0)) {
		h->x[0] = 0;
		return 0;
	}
	return helper_illegal(h, insn, pc, steps);
}

/* FLW FLD FSW FSD (also their RVC forms): the interpreter's LOAD-FP and STORE-FP. */
int jit_helper_fmem(struct rv_hart *h, uint64_t insn, uint64_t raw_len, uint64_t pc,
		    uint64_t steps)
{
	unsigned f3 = (insn >> 12) & 7, size = 1u << f3, len = (unsigned)(raw_len >> 32);
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	bool store = (insn & 0x7f) == 0x27;
	uint64_t gen = h->jit->gen, tval, v;
	int32_t imm = store ? (int32_t)((uint32_t)((int32_t)insn >> 20 & ~0x1f) | ((insn >> 7) & 0x1f))
			    : (int32_t)insn >> 20;
	uint64_t va = h->x[rs1] + (uint64_t)(int64_t)imm;
	const struct rv_tlb_entry *tlb = store ? h->tlb_write : h->tlb_read;
	const struct rv_tlb_entry *e = &tlb[RV_TLB_INDEX(va)];
	bool hit = e->vpn_tag == ((va + size - 1) >> RV_PAGE_SHIFT) + h->jit_data_tag;
	int exc;

	if (rv_fs_off(h))
		return helper_illegal(h, raw_len & 0xffffffffu, pc, steps);
	if (store) {
		v = h->f[rs2];
		if (likely(hit)) {
			memcpy((void *)(uintptr_t)(va + e->host_addend), &v, size);
			return 0;
		}
		rv_sync(h, steps);
		h->pc = pc;
		exc = rv_mmu_store(h, va, (int)size, v, &tval);
		if (exc)
			return helper_trap(h, exc, tval, steps);
		return helper_done(h, h->tlb_write, va, size, gen, pc + len, steps);
	}
	if (likely(hit)) {
		v = 0;
		memcpy(&v, (const void *)(uintptr_t)(va + e->host_addend), size);
	} else {
		rv_sync(h, steps);
		h->pc = pc;
		exc = rv_mmu_load(h, va, (int)size, &v, &tval);
		if (exc)
			return helper_trap(h, exc, tval, steps);
	}
	h->f[rd] = f3 == 2 ? (v & 0xffffffffull) | 0xffffffff00000000ull : v;
	rv_fs_dirty(h);
	return hit ? 0 : helper_done(h, h->tlb_read, va, size, gen, pc + len, steps);
}

/*
 * The CSRs jit_insn_supported lets through (fflags, frm, fcsr, cycle,
 * time, instret): as the interpreter's SYSTEM path, with the step count
 * synced first so that counters and mtime read exact values; none of them
 * changes what the dispatcher samples, so the block goes on.
 */
int jit_helper_csr(struct rv_hart *h, uint64_t insn, uint64_t pc, uint64_t steps)
{
	unsigned rd = (insn >> 7) & 31;
	uint64_t old;

	rv_sync(h, steps);
	h->pc = pc;
	if (rv_csr_insn(h, (uint32_t)insn, &old))
		return helper_illegal(h, insn, pc, steps);
	if (rd)
		h->x[rd] = old;
	return 0;
}

/*
 * LR, SC and the AMOs (A extension): the interpreter's AMO path step for
 * step, its checks in its order. RAM only (rv_mmu_ram_ptr), so no device
 * is touched and the block goes on, unless the store hit translated code.
 */
int jit_helper_amo(struct rv_hart *h, uint64_t insn, uint64_t pc, uint64_t steps)
{
	unsigned f3 = (insn >> 12) & 7, f5 = (unsigned)(insn >> 27);
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	unsigned size = f3 == 2 ? 4 : 8;
	uint64_t va = h->x[rs1], pa, v, gen = h->jit->gen;
	void *p;
	bool ok;
	int exc;

	if ((f3 != 2 && f3 != 3) || (f5 == 2 && rs2))
		return helper_illegal(h, insn, pc, steps);
	if (f5 != 2 && f5 != 3) {
		rv_amo_op(f5, 0, 0, false, &ok);
		if (!ok)
			return helper_illegal(h, insn, pc, steps);
	}
	rv_sync(h, steps);
	h->pc = pc;
	if (va & (size - 1))
		return helper_trap(h, f5 == 2 ? RV_EXC_LOAD_MISALIGNED : RV_EXC_STORE_MISALIGNED, va,
				   steps);
	exc = rv_mmu_ram_ptr(h, va, (int)size, f5 == 2 ? RV_ACC_LOAD : RV_ACC_STORE, &pa, &p);
	if (exc)
		return helper_trap(h, exc, va, steps);
	if (size == 4) {
		int32_t w;
		memcpy(&w, p, 4);
		v = (uint64_t)(int64_t)w;
	} else {
		memcpy(&v, p, 8);
	}
	if (f5 == 2) {		/* LR */
		h->resv_addr = pa;
		h->resv_val = v;
		h->resv_valid = true;
	} else if (f5 == 3) {	/* SC: as cpu.c, a changed value also fails it */
		bool hit = h->resv_valid && h->resv_addr == pa && v == h->resv_val;
		if (hit)
			memcpy(p, &h->x[rs2], size);
		h->resv_valid = false;
		v = !hit;
	} else {
		uint64_t nv = rv_amo_op(f5, v, h->x[rs2], size == 4, &ok);
		memcpy(p, &nv, size);
	}
	if (rd)
		h->x[rd] = v;
	if (h->jit->gen == gen)
		return 0;
	h->pc = pc + 4;
	rv_sync(h, steps + 1);
	return 1;
}
