/* SPDX-License-Identifier: MIT */
/* test_cpu: step accounting and slicing invariance of one hart, run against a test bus (no machine, no ELF file). */
#include "hv/cpu/cpu.h"
#include "hv/bus.h"
#include "hv/le.h"
#include "hv/mem.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOPS 100
#define RAM_BASE 0x80000000ull
#define RAM_BYTES (1u << 20)
#define TEST_DEV 0x100000ull

enum { ZERO = 0, T0 = 5, T1 = 6, T2 = 7, A0 = 10, A1 = 11, A2 = 12, T3 = 28 };

static uint32_t i_type(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t csr(unsigned num, unsigned rs1, unsigned f3, unsigned rd)
{
	return num << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x73;
}

static uint32_t branch(int32_t off, unsigned rs2, unsigned rs1, unsigned f3)
{
	uint32_t u = (uint32_t)off;

	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 |
	       f3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}

/*
 * LOOPS iterations of: addi, ecall (a trap: one step, not retired), a
 * four-instruction handler that returns past the ecall, and blt. Then the
 * guest checks minstret against the retired count it must see and reports
 * through the test device: 0x5555 (poweroff) or 1 << 16 | 0x3333 (failure).
 */
static size_t build_program(uint32_t *p)
{
	size_t n = 0;
	const int handler = 18 * 4;

	p[n++] = 0x00000297;				/* 0  auipc t0, 0 */
	p[n++] = i_type(handler, T0, 0, T0, 0x13);	/* 4  addi t0, t0, handler */
	p[n++] = csr(0x305, T0, 1, ZERO);		/* 8  csrw mtvec, t0 */
	p[n++] = i_type(0, ZERO, 0, A0, 0x13);		/* 12 li a0, 0 */
	p[n++] = i_type(LOOPS, ZERO, 0, A1, 0x13);	/* 16 li a1, LOOPS */
	p[n++] = i_type(1, A0, 0, A0, 0x13);		/* 20 loop: addi a0, a0, 1 */
	p[n++] = 0x00000073;				/* 24 ecall */
	p[n++] = branch(-8, A1, A0, 4);			/* 28 blt a0, a1, loop */
	p[n++] = csr(0xb02, ZERO, 2, A2);		/* 32 csrr a2, minstret */
	/* 5 before the loop, 6 retired per iteration (addi, 4 in the handler, blt). */
	p[n++] = i_type(5 + 6 * LOOPS, ZERO, 0, T3, 0x13); /* 36 li t3, expected */
	p[n++] = (0x100u << 12) | T0 << 7 | 0x37;	/* 40 lui t0, 0x100 (test device) */
	p[n++] = (0x5u << 12) | T1 << 7 | 0x37;		/* 44 lui t1, 5 */
	p[n++] = i_type(0x555, T1, 0, T1, 0x13);	/* 48 addi t1, t1, 0x555 */
	p[n++] = branch(12, T3, A2, 0);			/* 52 beq a2, t3, 64 */
	p[n++] = (0x13u << 12) | T1 << 7 | 0x37;	/* 56 lui t1, 0x13 */
	p[n++] = i_type(0x333, T1, 0, T1, 0x13);	/* 60 addi t1, t1, 0x333 */
	p[n++] = (uint32_t)T1 << 20 | T0 << 15 | 2 << 12 | 0x23; /* 64 sw t1, 0(t0) */
	p[n++] = 0x0000006f;				/* 68 j . */
	p[n++] = csr(0x341, ZERO, 2, T2);		/* 72 handler: csrr t2, mepc */
	p[n++] = i_type(4, T2, 0, T2, 0x13);		/* 76 addi t2, t2, 4 */
	p[n++] = csr(0x341, T2, 1, ZERO);		/* 80 csrw mepc, t2 */
	p[n++] = 0x30200073;				/* 84 mret */
	return n;
}

/* Steps to the retirement of the poweroff store: a trap counts one step. */
#define EXPECTED_STEPS (5 + 7 * LOOPS + 7)

/* The board as the hart sees it: RAM, the test device at TEST_DEV, a clock that is the step count. */
struct board {
	struct rv_hart hart;
	struct guest_ram ram;
	struct bus bus;
	uint64_t test_dev;	/* last value written to the test device, 0 if none */
	uint64_t mmio_other;	/* accesses anywhere else */
};

static int board_read(void *opaque, uint64_t pa, int size, uint64_t *val)
{
	struct board *b = opaque;

	b->mmio_other++;
	*val = 0;
	return -1;
}

static int board_write(void *opaque, uint64_t pa, int size, uint64_t val)
{
	struct board *b = opaque;

	if (pa != TEST_DEV || size != 4) {
		b->mmio_other++;
		return -1;
	}
	b->test_dev = val;
	bus_request_exit(&b->bus);
	return 0;
}

static uint64_t board_mtime(void *opaque)
{
	const struct board *b = opaque;

	return b->hart.steps;
}

static void board_exit(void *opaque)
{
	struct board *b = opaque;

	b->hart.exit_req = true;
}

static struct board *board_create(void)
{
	struct board *b = calloc(1, sizeof(*b));
	uint32_t prog[64];
	size_t words = build_program(prog);

	if (!b || !(b->ram.host = calloc(1, RAM_BYTES))) {
		fprintf(stderr, "test_cpu: out of memory\n");
		exit(1);
	}
	b->ram.base = RAM_BASE;
	b->ram.size = RAM_BYTES;
	for (size_t i = 0; i < words; i++)
		for (int k = 0; k < 4; k++)
			b->ram.host[4 * i + k] = (uint8_t)(prog[i] >> (8 * k));
	b->bus = (struct bus){ .mmio_read = board_read, .mmio_write = board_write,
			       .mtime = board_mtime, .request_exit = board_exit, .opaque = b };
	rv_hart_init(&b->hart, &b->bus, &b->ram, 0);
	rv_hart_reset(&b->hart, RAM_BASE);
	return b;
}

static void board_destroy(struct board *b)
{
	free(b->ram.host);
	free(b);
}

/* Runs to `until` steps in slices of `slice`, as a machine would, until the test device is written. */
static void run_sliced(struct board *b, uint64_t until, uint64_t slice)
{
	while (b->hart.steps < until && !b->test_dev) {
		uint64_t left = until - b->hart.steps;
		uint64_t budget = left < slice ? left : slice;
		uint64_t before = b->hart.steps;
		uint64_t n = rv_hart_run(&b->hart, budget);

		CHECK_EQ(b->hart.steps - before, n, "steps returned = steps advanced");
		b->hart.exit_req = false;
		if (b->test_dev)
			break;
		CHECK_EQ(n, budget, "steps taken for a budget");
		if (n != budget)
			break;
	}
}

static size_t state(const struct board *b, uint8_t *buf)
{
	struct le_writer w = le_writer_fixed(buf, RV_HART_SAVE_BYTES);

	rv_hart_save(&b->hart, &w);
	CHECK(!w.failed, "hart state fits RV_HART_SAVE_BYTES");
	return w.len;
}

/*
 * Save a hart halfway, load it into a fresh one (whose RAM gets a copy), run
 * both to the end: same state. Every truncation and a record of another hart
 * id are refused and leave the hart as it was.
 */
static void test_save_load(void)
{
	static uint8_t saved[RV_HART_SAVE_BYTES], a_end[RV_HART_SAVE_BYTES], b_end[RV_HART_SAVE_BYTES];
	static uint8_t fresh[RV_HART_SAVE_BYTES], st[RV_HART_SAVE_BYTES];
	struct board *a = board_create(), *b = board_create();
	struct le_reader r;
	size_t n, nf;

	run_sliced(a, EXPECTED_STEPS / 3, 1000000);
	n = state(a, saved);
	CHECK_EQ(n, RV_HART_SAVE_BYTES, "hart record size");
	nf = state(b, fresh);
	for (size_t cut = 0; cut < n; cut += 7) {
		r = le_reader_init(saved, cut);
		CHECK(rv_hart_load(&b->hart, &r) == -EINVAL, "a record cut at %zu bytes is refused", cut);
	}
	CHECK(state(b, st) == nf && !memcmp(st, fresh, nf), "refused loads leave the hart unchanged");
	b->hart.mhartid = 1;
	r = le_reader_init(saved, n);
	CHECK(rv_hart_load(&b->hart, &r) == -EINVAL, "a record of hart 0 is refused by hart 1");
	b->hart.mhartid = 0;
	r = le_reader_init(saved, n);
	CHECK(rv_hart_load(&b->hart, &r) == 0 && le_reader_done(&r), "load");
	memcpy(b->ram.host, a->ram.host, RAM_BYTES);
	run_sliced(a, 10 * EXPECTED_STEPS, 1000000);
	run_sliced(b, 10 * EXPECTED_STEPS, 1000000);
	CHECK_EQ(b->test_dev, 0x5555, "loaded hart's verdict");
	CHECK(state(a, a_end) == state(b, b_end) && !memcmp(a_end, b_end, n),
	      "saved and loaded harts end in the same state");
	board_destroy(a);
	board_destroy(b);
}

/* One instruction at RAM_BASE, from a given register state; the hart traps to RAM_BASE + 0x100. */
static struct board *one_insn(uint32_t insn, uint64_t a, uint64_t b)
{
	struct board *bd = board_create();

	for (int k = 0; k < 4; k++)
		bd->ram.host[k] = (uint8_t)(insn >> (8 * k));
	bd->hart.mtvec = RAM_BASE + 0x100;
	bd->hart.x[11] = a;
	bd->hart.x[12] = b;
	CHECK_EQ(rv_hart_run(&bd->hart, 1), 1, "one step");
	return bd;
}

/*
 * Reserved encodings next to the RV64I/M ones the fast handlers run raise an
 * illegal-instruction trap with the instruction in mtval; DIVW and REMW (the
 * slow path) give the spec's results at their edges (unprivileged spec 13.2).
 */
static void test_encodings(void)
{
	static const uint32_t illegal[] = {
		0x02000013 | 11 << 15 | 10 << 7 | 1 << 12 | 1u << 26,	/* slli with funct6 != 0 */
		0x40000013 | 11 << 15 | 10 << 7 | 5 << 12 | 1u << 27,	/* srli/srai with funct6 0x12 */
		0x80000033 | 12 << 20 | 11 << 15 | 10 << 7,		/* add with funct7 0x40 */
		0x40000033 | 12 << 20 | 11 << 15 | 10 << 7 | 1 << 12,	/* sll with funct7 0x20 */
		0x0000003b | 12 << 20 | 11 << 15 | 10 << 7 | 2 << 12,	/* OP-32 funct3 2 */
		0x0200003b | 12 << 20 | 11 << 15 | 10 << 7 | 1 << 12,	/* sllw with funct7 1 */
		0x0000003b | 12 << 20 | 11 << 15 | 10 << 7 | 7 << 12,	/* OP-32 funct3 7, funct7 0 */
		0x0200101b | 11 << 15 | 10 << 7,			/* slliw with funct7 1 */
		0x0000201b | 11 << 15 | 10 << 7,			/* OP-IMM-32 funct3 2 */
		0x00001067 | 11 << 15 | 10 << 7,			/* jalr with funct3 1 */
		0x00002063 | 12 << 20 | 11 << 15,			/* branch funct3 2 */
		0x00007003 | 11 << 15 | 10 << 7,			/* load funct3 7 */
		0x00004023 | 12 << 20 | 11 << 15,			/* store funct3 4 */
	};
	for (size_t i = 0; i < sizeof(illegal) / sizeof(illegal[0]); i++) {
		struct board *b = one_insn(illegal[i], RAM_BASE + 0x800, 3);
		CHECK(b->hart.mcause == 2 && b->hart.mtval == illegal[i] && b->hart.pc == RAM_BASE + 0x100,
		      "0x%08x: mcause %llu mtval 0x%llx pc 0x%llx", illegal[i],
		      (unsigned long long)b->hart.mcause, (unsigned long long)b->hart.mtval,
		      (unsigned long long)b->hart.pc);
		board_destroy(b);
	}
	static const struct { uint32_t insn; uint64_t a, b, want; } ops[] = {
		{ 0x0200403b, 0xffffffff80000000ull, ~0ull, 0xffffffff80000000ull },	/* divw MIN/-1 */
		{ 0x0200403b, 7, 0, ~0ull },						/* divw by 0 */
		{ 0x0200403b, 0x1fffffff9ull, 2, ~0ull - 2 },			/* divw: low 32 bits only */
		{ 0x0200603b, 0xffffffff80000000ull, ~0ull, 0 },			/* remw MIN/-1 */
		{ 0x0200603b, 0x80000007ull, 0, 0xffffffff80000007ull },		/* remw by 0: dividend */
		{ 0x0200603b, (uint64_t)-7, 2, (uint64_t)-1 },			/* remw sign of dividend */
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint32_t insn = ops[i].insn | 12 << 20 | 11 << 15 | 10 << 7;
		struct board *b = one_insn(insn, ops[i].a, ops[i].b);
		CHECK(b->hart.x[10] == ops[i].want && b->hart.pc == RAM_BASE + 4,
		      "0x%08x (0x%llx, 0x%llx) = 0x%llx, want 0x%llx", insn, (unsigned long long)ops[i].a,
		      (unsigned long long)ops[i].b, (unsigned long long)b->hart.x[10],
		      (unsigned long long)ops[i].want);
		board_destroy(b);
	}
}

int main(void)
{
	static const uint64_t slices[] = { 1, 3, 7, 64, 1000000 };
	static uint8_t ref_mid[RV_HART_SAVE_BYTES], ref_end[RV_HART_SAVE_BYTES], st[RV_HART_SAVE_BYTES];
	size_t ref_mid_len = 0, ref_end_len = 0, n;
	const uint64_t mid = EXPECTED_STEPS / 2 + 1;

	for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
		struct board *b = board_create();

		run_sliced(b, mid, slices[i]);
		CHECK_EQ(b->hart.steps, mid, "steps at mid");
		CHECK_EQ(b->test_dev, 0, "no verdict before the end");
		n = state(b, st);
		if (i == 0)
			memcpy(ref_mid, st, ref_mid_len = n);
		else if (n != ref_mid_len || memcmp(ref_mid, st, n))
			CHECK_EQ(slices[i], 0, "hart state at mid differs for slice size");

		run_sliced(b, 10 * EXPECTED_STEPS, slices[i]);
		/* 0x5555: minstret matched; 1 << 16 | 0x3333: the guest saw a wrong count. */
		CHECK_EQ(b->test_dev, 0x5555, "test device verdict");
		CHECK_EQ(b->hart.steps, EXPECTED_STEPS, "steps to poweroff");
		CHECK_EQ(b->mmio_other, 0, "no other MMIO");
		n = state(b, st);
		if (i == 0)
			memcpy(ref_end, st, ref_end_len = n);
		else if (n != ref_end_len || memcmp(ref_end, st, n))
			CHECK_EQ(slices[i], 0, "final hart state differs for slice size");
		board_destroy(b);
	}
	test_save_load();
	test_encodings();
	return check_done("test_cpu");
}
