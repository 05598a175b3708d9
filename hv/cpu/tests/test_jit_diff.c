/* SPDX-License-Identifier: MIT */
/* test_jit_diff: random RV64 programs run by the interpreter and by the translator, state compared after every slice. */
#include "hv/cpu/cpu.h"
#include "hv/bus.h"
#include "hv/mem.h"
#include "hv/cpu/jit.h"
#include "hv/cpu/cpu_internal.h"
#include "hv/tests/check.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Memory map of one board (both boards identical):
 *   CODE   8 KiB of random instructions (two pages) ending in a jump back,
 *   TRAP   the trap handler: skips the faulting instruction (2 or 4 bytes),
 *   DATA   the page loads and stores mostly aim at,
 *   DEV    an MMIO device whose reads return a hash of address and the
 *          step count (so a wrong count at an access shows), whose writes
 *          are logged, and whose offset 0x100 asks the hart to stop.
 * Reserved registers: x24 DEV, x25 mstatus.FS, x26 CODE (stores through it are
 * self-modifying code), x27 DATA, x28-x31 the handler's. Random
 * instructions write only x1-x23.
 */
#define RAM_BASE 0x80000000ull
#define RAM_BYTES (64u << 10)
#define CODE RAM_BASE
#define CODE_BYTES 0x2000u
#define TRAP (RAM_BASE + 0x2000)
#define DATA (RAM_BASE + 0x4000)
#define DEV 0x10000000ull
#define PAGE_TABLE (RAM_BASE + 0x8000)
/* Rounds by seed % 3: M-mode without translation, S-mode or U-mode under Sv39 gigapages. */
enum { ROUND_M, ROUND_S, ROUND_U };
#define ROUNDS 300
#define SLICES_PER_ROUND 400
#define LOG_MAX 4096

struct board {
	struct rv_hart hart;
	struct guest_ram ram;
	struct bus bus;
	uint64_t log[LOG_MAX][3];
	size_t nlog;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static int dev_read(void *opaque, uint64_t pa, int size, uint64_t *val)
{
	struct board *b = opaque;

	if (pa - DEV >= 0x1000)
		return -1;
	*val = (pa * 0x9e3779b97f4a7c15ull) ^ b->hart.steps;
	if (size < 8)
		*val &= (1ull << (8 * size)) - 1;
	return 0;
}

static int dev_write(void *opaque, uint64_t pa, int size, uint64_t val)
{
	struct board *b = opaque;

	if (pa - DEV >= 0x1000)
		return -1;
	if (b->nlog < LOG_MAX) {
		b->log[b->nlog][0] = pa | (uint64_t)size << 56;
		b->log[b->nlog][1] = val;
		b->log[b->nlog][2] = b->hart.steps;
		b->nlog++;
	}
	if (pa == DEV + 0x100)
		bus_request_exit(&b->bus);
	return 0;
}

static uint64_t dev_mtime(void *opaque)
{
	const struct board *b = opaque;

	return b->hart.steps;
}

static void dev_exit(void *opaque)
{
	struct board *b = opaque;

	b->hart.exit_req = true;
}

static uint32_t i_type(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t s_type(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
	uint32_t u = (uint32_t)imm;

	return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | op;
}

static uint32_t r_type(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd,
		       unsigned op)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t b_type(int32_t off, unsigned rs2, unsigned rs1, unsigned f3)
{
	uint32_t u = (uint32_t)off;

	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 |
	       f3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}

static uint32_t j_type(int32_t off, unsigned rd)
{
	uint32_t u = (uint32_t)off;

	return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
	       ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

static unsigned rd_any(void)
{
	return 1 + rn(23);
}

static unsigned rs_any(void)
{
	return rn(32);
}

/* A register holding an address worth using: mostly DATA, sometimes DEV, CODE or anything. */
static unsigned base_reg(bool store)
{
	unsigned k = rn(20);

	if (k < 13)
		return 27;
	if (k < 16)
		return 24;
	if (k < 18 || !store)
		return k < 18 ? 26 : rs_any();
	return rs_any();
}

static int32_t mem_off(unsigned size)
{
	int32_t off = (int32_t)rn(256) * 8 - 1024;

	if (rn(8) == 0)
		off += (int32_t)rn(8);		/* misaligned */
	else
		off &= ~(int32_t)(size - 1);
	if (rn(16) == 0)
		off = 4096 - (int32_t)rn(8) - 2048;	/* near a page end through x27 + 2048 */
	return off;
}

/* Whether a 32-bit instruction writes one of the reserved registers. */
static bool writes_reserved(uint32_t i)
{
	unsigned op = i & 0x7f, rd = (i >> 7) & 31;

	if (op == 0x23 || op == 0x63 || op == 0x27 || op == 0x0f)
		return false;
	return rd >= 24;
}

/* One random instruction at pc; returns its length (2 or 4) with the bits in *out. */
static unsigned gen_insn(uint64_t pc, uint32_t *out)
{
	static const unsigned f7s[4] = { 0, 0x20, 1, 0x20 };
	unsigned k = rn(100), f3 = rn(8);
	uint32_t i;

	if (k < 22) {				/* OP-IMM */
		int32_t imm = (int32_t)rn(4096) - 2048;
		if (f3 == 1 || f3 == 5)
			imm = (int32_t)(rn(64) | (rn(2) && f3 == 5 ? 0x400 : 0) | (rn(50) ? 0 : 0x800));
		i = i_type(imm, rs_any(), f3, rd_any(), 0x13);
	} else if (k < 30) {			/* OP-IMM-32 */
		f3 = (unsigned[]){ 0, 1, 5, 5, 0 }[rn(5)];
		int32_t imm = f3 == 0 ? (int32_t)rn(4096) - 2048
				      : (int32_t)(rn(32) | (rn(2) && f3 == 5 ? 0x400 : 0));
		i = i_type(imm, rs_any(), f3, rd_any(), 0x1b);
	} else if (k < 42) {			/* OP */
		i = r_type(f7s[rn(4)], rs_any(), rs_any(), f3, rd_any(), 0x33);
	} else if (k < 48) {			/* OP-32 */
		i = r_type(f7s[rn(4)], rs_any(), rs_any(), f3, rd_any(), 0x3b);
	} else if (k < 51) {			/* LUI, AUIPC */
		i = (uint32_t)rnd() & 0xfffff000;
		i |= rd_any() << 7 | (rn(2) ? 0x37 : 0x17);
	} else if (k < 61) {			/* LOAD */
		f3 = rn(7);
		i = i_type(mem_off(1u << (f3 & 3)), base_reg(false), f3, rd_any(), 0x03);
	} else if (k < 69) {			/* STORE */
		f3 = rn(4);
		i = s_type(mem_off(1u << f3), rs_any(), base_reg(true), f3, 0x23);
	} else if (k < 76) {			/* BRANCH, mostly forward */
		static const unsigned bf3[6] = { 0, 1, 4, 5, 6, 7 };
		int32_t off = rn(6) ? 2 * (int32_t)(1 + rn(24)) : -2 * (int32_t)(1 + rn(24));
		i = b_type(off, rs_any(), rs_any(), bf3[rn(6)]);
	} else if (k < 78) {			/* JAL */
		i = j_type(2 * (int32_t)(1 + rn(40)), rn(2) ? rd_any() : 0);
	} else if (k < 79) {			/* JALR into the code */
		i = i_type((int32_t)rn(CODE_BYTES / 2) & ~1, 26, 0, rn(2) ? rd_any() : 0, 0x67);
	} else if (k < 90) {			/* RVC */
		for (;;) {
			i = (uint32_t)rn(0x10000);
			if ((i & 3) == 3)
				continue;
			if (rv_rvc_insn(i) == 0xffffffffu ? rn(4) == 0 : !writes_reserved(rv_rvc_insn(i)))
				break;
		}
		*out = i;
		return 2;
	} else if (k < 92) {			/* counters: exact step accounting is visible */
		static const unsigned csrs[8] = { 0xb00, 0xb02, 0xc00, 0xc02, 0xc01, 0x001, 0x002, 0x003 };
		static const unsigned ops[6] = { 1, 2, 3, 5, 6, 7 };
		unsigned c = csrs[rn(8)];
		i = c << 20 | (c < 0x100 ? ops[rn(6)] : 2) << 12 | rd_any() << 7 | 0x73;
		if (c < 0x100)
			i |= rs_any() << 15;
	} else if (k < 93) {			/* FENCE, FENCE.I */
		i = rn(2) ? 0x0ff0000f : 0x0000100f;
	} else if (k < 95) {			/* AMO / LR / SC on DATA */
		static const unsigned f5s[6] = { 0, 1, 2, 3, 4, 0x1c };
		unsigned f5 = f5s[rn(6)];
		i = r_type(f5 << 2 | rn(4), f5 == 2 && rn(8) ? 0 : rs_any(), rn(4) ? 27 : rs_any(),
			   2 + rn(2), rd_any(), 0x2f);
	} else if (k < 96) {			/* FP with a random rounding mode */
		static const unsigned ops[5] = { 0x01, 0x05, 0x09, 0x0d, 0x2d }; /* fadd fsub fmul fdiv fsqrt .d */
		unsigned op = ops[rn(5)];
		i = r_type(op, op == 0x2d ? 0 : rn(32), rn(32), rn(3) ? 0 : rn(8), rn(32), 0x53);
	} else if (k < 97) {			/* FLW FLD FSW FSD, FS sometimes off */
		unsigned w = 2 + rn(2);
		if (rn(6) == 0)
			i = 0x300u << 20 | 25 << 15 | (rn(2) ? 3u : 2u) << 12 | 0x73; /* csrc/csrs mstatus, x25 */
		else if (rn(2))
			i = i_type(mem_off(1u << w), base_reg(false), w, rn(32), 0x07);
		else
			i = s_type(mem_off(1u << w), rn(32), base_reg(true), w, 0x27);
	} else if (k < 98) {			/* ECALL, EBREAK */
		i = rn(2) ? 0x00000073 : 0x00100073;
	} else {				/* anything */
		do {
			i = (uint32_t)rnd() | 3;
		} while (writes_reserved(i));
	}
	(void)pc;
	*out = i;
	return 4;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* The same random image for both boards. */
static void build_image(uint8_t *ram, int mode)
{
	memset(ram, 0, RAM_BYTES);
	for (unsigned off = 0; off + 4 <= CODE_BYTES - 4;) {
		uint32_t i;
		if (rn(60) == 0 && off + 16 <= CODE_BYTES - 4) {
			/* Division by -1 of the most negative 64- or 32-bit value (or of anything). */
			bool w = rn(2);
			put32(ram + off, rn(2) ? i_type(-1, 0, 0, 6, 0x13) : i_type((int32_t)rn(4096), 0, 0, 6, 0x13));
			put32(ram + off + 4, w ? (0x80000u << 12 | 6 << 7 | 0x37) : i_type(63, 6, 1, 6, 0x13));
			put32(ram + off + 8, i_type(-1, 0, 0, 5, 0x13));
			put32(ram + off + 12, r_type(1, 5, 6, 4 + rn(4), rd_any(), w ? 0x3b : 0x33));
			off += 16;
			continue;
		}
		if (rn(60) == 0 && off + 12 <= CODE_BYTES - 4) {
			/* LR then SC on the same word (the SC succeeds), or an LR/AMO at x27 + 1..7. */
			unsigned w = 2 + rn(2);
			if (rn(2)) {
				put32(ram + off, r_type(2 << 2, 0, 27, w, rd_any(), 0x2f));
				put32(ram + off + 4, r_type(1 << 2, 0, 0, 0, 0, 0x13));	/* nop */
				put32(ram + off + 8, r_type(3 << 2, rs_any(), 27, w, rd_any(), 0x2f));
			} else {
				put32(ram + off, i_type(1 + (int32_t)rn(7), 27, 0, 12, 0x13));
				put32(ram + off + 4, r_type(rn(2) ? 2 << 2 : 0, 0, 12, w, rd_any(), 0x2f));
				put32(ram + off + 8, r_type(0, 0, 0, 0, 0, 0x13));
			}
			off += 12;
			continue;
		}
		if (rn(40) == 0 && off + 4 * 12 <= CODE_BYTES - 4) {
			/*
			 * A counted loop (x23 counts) whose body is a few ALU, load and
			 * store instructions on three more registers: the branch back
			 * starts a block that branches to itself (translated code keeps
			 * its registers cached across iterations).
			 */
			unsigned pool[4] = { 23, 1 + rn(22), 1 + rn(22), 1 + rn(22) }, m = 1 + rn(8);
			put32(ram + off, i_type(1 + (int32_t)rn(40), 0, 0, 23, 0x13));
			off += 4;
			for (unsigned b = 0; b < m; b++, off += 4) {
				unsigned rd = pool[1 + rn(3)], r1 = pool[rn(4)], r2 = pool[rn(4)], k = rn(10);
				unsigned f3 = rn(8);
				if (k < 3)
					i = i_type((int32_t)rn(4096) - 2048, r1, f3 == 1 || f3 == 5 ? 0 : f3, rd, 0x13);
				else if (k < 6)
					i = r_type(rn(3) ? 0 : 1, r1, r2, f3, rd, rn(3) ? 0x33 : 0x3b);
				else if (k < 8)
					i = i_type(mem_off(1u << (f3 % 7 & 3)), base_reg(false), f3 % 7, rd, 0x03);
				else
					i = s_type(mem_off(1u << (f3 & 3)), r1, base_reg(true), f3 & 3, 0x23);
				put32(ram + off, i);
			}
			put32(ram + off, i_type(-1, 23, 0, 23, 0x13));			/* addi x23, x23, -1 */
			put32(ram + off + 4, b_type(-4 * (int32_t)(m + 1), 23, 0, 1));	/* bnez x23, body */
			off += 8;
			continue;
		}
		if (rn(40) == 0 && off + 12 <= CODE_BYTES - 4) {
			/* ALU chains on one register: the second reads it as rs2, the third overwrites it. */
			unsigned r = rd_any(), o = rd_any();
			put32(ram + off, r_type(0, o, r, 4, r, 0x33));			/* xor r, r, o */
			put32(ram + off + 4, r_type(rn(2) ? 1 : 0, r, o, 0, r, rn(2) ? 0x33 : 0x3b)); /* add/mul[w] r, o, r */
			put32(ram + off + 8, i_type((int32_t)rn(64), r, 1, r, 0x13));	/* slli r, r, n */
			off += 12;
			continue;
		}
		unsigned len = gen_insn(CODE + off, &i);
		if (len == 2) {
			uint16_t c = (uint16_t)i;
			memcpy(ram + off, &c, 2);
		} else {
			put32(ram + off, i);
		}
		off += len;
	}
	put32(ram + CODE_BYTES - 4, j_type(-(int32_t)(CODE_BYTES - 4), 0));
	if (rn(2) == 0) {
		/* A loop that crosses from the first code page into the second. */
		put32(ram + 0xff8, i_type(1, 1, 0, 1, 0x13));
	}
	/* Trap handler: mepc += 2 or 4 by the instruction's low bits; interrupts resume as they are. */
	const uint32_t h[] = {
		0x34102ff3,			/* csrr  x31, mepc */
		0x34202e73,			/* csrr  x28, mcause */
		b_type(28, 0, 28, 4),		/* blt   x28, x0, out */
		i_type(0, 31, 5, 30, 0x03),	/* lhu   x30, 0(x31) */
		i_type(3, 30, 7, 30, 0x13),	/* andi  x30, x30, 3 */
		i_type(3, 0, 0, 29, 0x13),	/* li    x29, 3 */
		i_type(2, 31, 0, 31, 0x13),	/* addi  x31, x31, 2 */
		b_type(8, 29, 30, 1),		/* bne   x30, x29, out */
		i_type(2, 31, 0, 31, 0x13),	/* addi  x31, x31, 2 */
		0x341f9073,			/* out: csrw mepc, x31 */
		0x30200073,			/* mret */
	};
	for (unsigned k = 0; k < sizeof(h) / sizeof(h[0]); k++)
		put32(ram + (TRAP - RAM_BASE) + 4 * k, h[k]);
	for (unsigned k = 0; k < 4096; k += 8) {
		uint64_t v = rnd();
		memcpy(ram + (DATA - RAM_BASE) + k, &v, 8);
	}
	/* Sv39 root: gigapages for the devices (no X, no U: U-mode gets page faults) and for RAM. */
	uint64_t u = mode == ROUND_U ? 1u << 4 : 0;
	uint64_t dev_pte = 0xc7, ram_pte = (RAM_BASE >> 12) << 10 | 0xcf | u;
	memcpy(ram + (PAGE_TABLE - RAM_BASE), &dev_pte, 8);
	memcpy(ram + (PAGE_TABLE - RAM_BASE) + 2 * 8, &ram_pte, 8);
}

static void board_init(struct board *b, const uint8_t *image)
{
	memset(b, 0, sizeof(*b));
	b->ram.host = malloc(RAM_BYTES);
	if (!b->ram.host) {
		fprintf(stderr, "test_jit_diff: out of memory\n");
		exit(1);
	}
	memcpy(b->ram.host, image, RAM_BYTES);
	b->ram.base = RAM_BASE;
	b->ram.size = RAM_BYTES;
	b->bus = (struct bus){ .mmio_read = dev_read, .mmio_write = dev_write, .mtime = dev_mtime,
			       .request_exit = dev_exit, .opaque = b };
	rv_hart_init(&b->hart, &b->bus, &b->ram, 0);
	rv_hart_reset(&b->hart, CODE);
}

static void board_setup(struct board *b, uint64_t seed)
{
	struct rv_hart *h = &b->hart;
	int mode = (int)(seed % 3);

	if (mode != ROUND_M) {
		/* Traps go to M-mode (no delegation) and mret returns to the mode in MPP. */
		h->satp = 8ull << 60 | PAGE_TABLE >> 12;
		h->priv = mode == ROUND_S ? RV_PRIV_S : RV_PRIV_U;
	}
	for (int r = 1; r < 24; r++)
		h->x[r] = (seed >> (r % 7)) * (uint64_t)r;
	/* FP registers: raw bit patterns (NaNs, negatives, subnormals) and ordinary positive numbers. */
	for (int r = 0; r < 32; r++) {
		uint64_t v = (seed * 32 + (uint64_t)r + 1) * 0x9e3779b97f4a7c15ull;
		v ^= v >> 29;
		if (r % 2 == 0) {
			double d = (double)(v >> 11) / (double)(1ull << (r % 40));
			memcpy(&v, &d, 8);
		}
		h->f[r] = v;
	}
	h->x[2] = DATA + 2048;
	h->x[8] = DATA + 16;
	/* Division's special operands. */
	h->x[5] = ~0ull;
	h->x[6] = 1ull << 63;
	h->x[7] = 0xffffffff80000000ull;
	h->x[24] = DEV;
	h->x[25] = MSTATUS_FS;
	h->x[26] = CODE;
	h->x[27] = DATA + 2048;
	h->mtvec = TRAP;
	h->mstatus |= 1ull << MSTATUS_FS_SHIFT | MSTATUS_MIE;
	h->mie = MIP_MTIP | MIP_MSIP;
}

static void board_free(struct board *b)
{
	free(b->ram.host);
}

/* Every difference between the two boards, with the seed to replay it; false if any. */
static bool compare(const struct board *a, const struct board *j, uint64_t seed, int slice,
		    uint64_t na, uint64_t nj)
{
	/* Architectural state: every field before the TLBs (both harts start zeroed). */
	const size_t arch = offsetof(struct rv_hart, tlb_read);
	bool same_arch = !memcmp(&a->hart, &j->hart, arch);
	bool same = na == nj && same_arch &&
		    !memcmp(a->ram.host, j->ram.host, RAM_BYTES) && a->nlog == j->nlog &&
		    !memcmp(a->log, j->log, sizeof(a->log[0]) * a->nlog);

	if (same)
		return true;
	fprintf(stderr, "seed %llu slice %d: interp ran %llu steps to pc %llx, jit %llu to pc %llx\n",
		(unsigned long long)seed, slice, (unsigned long long)na,
		(unsigned long long)a->hart.pc, (unsigned long long)nj,
		(unsigned long long)j->hart.pc);
	CHECK_EQ(j->hart.steps, a->hart.steps, "steps");
	CHECK_EQ(j->hart.minstret, a->hart.minstret, "minstret");
	CHECK_EQ(j->hart.pc, a->hart.pc, "pc");
	for (int r = 0; r < 32; r++)
		if (a->hart.x[r] != j->hart.x[r])
			fprintf(stderr, "  x%d: interp %llx jit %llx\n", r,
				(unsigned long long)a->hart.x[r], (unsigned long long)j->hart.x[r]);
	CHECK_EQ(j->hart.mcause, a->hart.mcause, "mcause");
	CHECK_EQ(j->hart.mepc, a->hart.mepc, "mepc");
	CHECK_EQ(j->nlog, a->nlog, "MMIO writes");
	for (size_t k = 0; k < RAM_BYTES; k++)
		if (a->ram.host[k] != j->ram.host[k]) {
			CHECK_EQ(RAM_BASE + k, 0, "first RAM byte that differs");
			break;
		}
	CHECK(same_arch, "hart state differs");
	return false;
}

/* One random program; false on the first difference. */
static bool run_round(uint64_t seed, uint8_t *image, struct rv_jit_stats *total)
{
	static struct board a, j;
	struct rv_jit *jit;
	bool ok = true;

	rng_state = seed;
	build_image(image, (int)(seed % 3));
	board_init(&a, image);
	board_init(&j, image);
	board_setup(&a, seed);
	board_setup(&j, seed);
	jit = rv_jit_create(&j.hart, 1, &j.ram);
	if (!jit) {
		CHECK(jit != NULL, "translator available");
		return false;
	}
	for (int s = 0; s < SLICES_PER_ROUND && ok; s++) {
		uint64_t budget = rn(4) ? 1 + rn(300) : 1 + rn(8);
		/* Interrupt lines change between slices, as the machine's do. */
		if (rn(10) == 0) {
			int bit = rn(2) ? RV_IRQ_MTIP : RV_IRQ_MSIP, level = (int)rn(2);
			rv_hart_set_irq(&a.hart, bit, level);
			rv_hart_set_irq(&j.hart, bit, level);
		}
		/* DMA into the code (as a disk read would), then a FENCE.I as the guest would do. */
		if (rn(25) == 0) {
			unsigned off = rn(CODE_BYTES / 4) * 4;
			uint32_t w = (uint32_t)rnd();
			memcpy(a.ram.host + off, &w, 4);
			memcpy(j.ram.host + off, &w, 4);
			rv_jit_fence_i(jit);
		}
		uint64_t na = rv_hart_run(&a.hart, budget);
		uint64_t nj = rv_jit_run(&j.hart, budget);
		a.hart.exit_req = j.hart.exit_req = false;
		ok = compare(&a, &j, seed, s, na, nj);
		if (a.hart.wfi && rn(2)) {
			a.hart.wfi = j.hart.wfi = false;
		}
	}
	struct rv_jit_stats st;
	rv_jit_get_stats(jit, &st);
	total->blocks_translated += st.blocks_translated;
	total->blocks_run += st.blocks_run;
	total->flushes += st.flushes;
	total->page_drops += st.page_drops;
	total->chains += st.chains;
	total->interp_steps += st.interp_steps;
	rv_jit_destroy(jit);
	board_free(&a);
	board_free(&j);
	return ok;
}

int main(int argc, char **argv)
{
	uint64_t first = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	int rounds = argc > 2 ? atoi(argv[2]) : ROUNDS;
	uint8_t *image = malloc(RAM_BYTES);
	struct rv_jit_stats st = { 0 };
	int failed = 0;

	if (!rv_jit_supported()) {
		printf("skip: no translator on this host\n");
		return 77;
	}
	if (!image)
		return 1;
	{
		/* rv_hart_init builds the RVC table the generator reads. */
		static struct rv_hart scratch;
		rv_hart_init(&scratch, NULL, NULL, 0);
	}
	for (int r = 0; r < rounds && failed < 3; r++)
		if (!run_round(first + (uint64_t)r, image, &st))
			failed++;
	printf("test_jit_diff: %d rounds, %llu blocks translated, %llu run, %llu chained, %llu flushes, "
	       "%llu page drops, %llu interpreted steps\n", rounds, (unsigned long long)st.blocks_translated,
	       (unsigned long long)st.blocks_run, (unsigned long long)st.chains,
	       (unsigned long long)st.flushes, (unsigned long long)st.page_drops,
	       (unsigned long long)st.interp_steps);
	CHECK(st.blocks_run > 0, "translated blocks ran");
	free(image);
	return check_done("test_jit_diff");
}
