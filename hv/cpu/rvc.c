/* SPDX-License-Identifier: MIT */
/* rvc: the compressed (RVC) instruction set as a table from each 16-bit encoding to the 32-bit instruction it stands for. */
#include "hv/cpu/cpu_internal.h"

#include <pthread.h>

/* What reserved RVC encodings expand to: major opcode 0x7f, never valid here. */
#define RVC_ILLEGAL 0xffffffffu
#define BIT(c, n) (((c) >> (n)) & 1u)
#define BITS(c, hi, lo) (((c) >> (lo)) & ((1u << ((hi) - (lo) + 1)) - 1))

/*
 * Every 16-bit RVC encoding mapped to the 32-bit instruction it stands for
 * (unprivileged spec ch. 16), RVC_ILLEGAL for reserved ones. One table for
 * all harts, built once.
 */
uint32_t rv_rvc_table[1 << 16];
static pthread_once_t rvc_once = PTHREAD_ONCE_INIT;

static int32_t sext(uint32_t v, int bits)
{
	return (int32_t)(v << (32 - bits)) >> (32 - bits);
}

static uint32_t enc_i(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t enc_s(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
	uint32_t u = (uint32_t)imm;

	return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | op;
}

static uint32_t enc_b(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3)
{
	uint32_t u = (uint32_t)imm;

	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 |
	       f3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}

static uint32_t enc_j(int32_t imm, unsigned rd)
{
	uint32_t u = (uint32_t)imm;

	return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
	       ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

static uint32_t enc_r(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd,
		      unsigned op)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t rvc_expand(uint32_t c)
{
	unsigned rd = BITS(c, 11, 7), rs2 = BITS(c, 6, 2);
	unsigned rdp = BITS(c, 4, 2) + 8, rs1p = BITS(c, 9, 7) + 8;
	int32_t imm6 = sext(BIT(c, 12) << 5 | BITS(c, 6, 2), 6);
	unsigned shamt = BIT(c, 12) << 5 | BITS(c, 6, 2);
	uint32_t u;
	int32_t off;

	switch ((c & 3) << 3 | BITS(c, 15, 13)) {
	case 0: /* C.ADDI4SPN */
		u = BITS(c, 12, 11) << 4 | BITS(c, 10, 7) << 6 | BIT(c, 6) << 2 | BIT(c, 5) << 3;
		return u ? enc_i((int32_t)u, 2, 0, rdp, 0x13) : 0;
	case 1: /* C.FLD */
		return enc_i((int32_t)(BITS(c, 12, 10) << 3 | BITS(c, 6, 5) << 6), rs1p, 3, rdp, 0x07);
	case 2: /* C.LW */
		u = BITS(c, 12, 10) << 3 | BIT(c, 6) << 2 | BIT(c, 5) << 6;
		return enc_i((int32_t)u, rs1p, 2, rdp, 0x03);
	case 3: /* C.LD */
		return enc_i((int32_t)(BITS(c, 12, 10) << 3 | BITS(c, 6, 5) << 6), rs1p, 3, rdp, 0x03);
	case 5: /* C.FSD */
		return enc_s((int32_t)(BITS(c, 12, 10) << 3 | BITS(c, 6, 5) << 6), rdp, rs1p, 3, 0x27);
	case 6: /* C.SW */
		u = BITS(c, 12, 10) << 3 | BIT(c, 6) << 2 | BIT(c, 5) << 6;
		return enc_s((int32_t)u, rdp, rs1p, 2, 0x23);
	case 7: /* C.SD */
		return enc_s((int32_t)(BITS(c, 12, 10) << 3 | BITS(c, 6, 5) << 6), rdp, rs1p, 3, 0x23);
	case 8: /* C.ADDI */
		return enc_i(imm6, rd, 0, rd, 0x13);
	case 9: /* C.ADDIW */
		return rd ? enc_i(imm6, rd, 0, rd, 0x1b) : 0;
	case 10: /* C.LI */
		return enc_i(imm6, 0, 0, rd, 0x13);
	case 11:
		if (rd == 2) { /* C.ADDI16SP */
			off = sext(BIT(c, 12) << 9 | BIT(c, 6) << 4 | BIT(c, 5) << 6 |
				   BITS(c, 4, 3) << 7 | BIT(c, 2) << 5, 10);
			return off ? enc_i(off, 2, 0, 2, 0x13) : 0;
		}
		/* C.LUI */
		return imm6 ? ((uint32_t)imm6 << 12) | rd << 7 | 0x37 : 0;
	case 12:
		switch (BITS(c, 11, 10)) {
		case 0: return enc_i((int32_t)shamt, rs1p, 5, rs1p, 0x13);	/* C.SRLI */
		case 1: return enc_i((int32_t)(0x400 | shamt), rs1p, 5, rs1p, 0x13); /* C.SRAI */
		case 2: return enc_i(imm6, rs1p, 7, rs1p, 0x13);		/* C.ANDI */
		default: {
			static const unsigned f3[4] = { 0, 4, 6, 7 };	/* SUB XOR OR AND */
			unsigned k = BITS(c, 6, 5);
			if (!BIT(c, 12))
				return enc_r(k ? 0 : 0x20, rdp, rs1p, f3[k], rs1p, 0x33);
			if (k == 0)
				return enc_r(0x20, rdp, rs1p, 0, rs1p, 0x3b);	/* C.SUBW */
			if (k == 1)
				return enc_r(0, rdp, rs1p, 0, rs1p, 0x3b);	/* C.ADDW */
			return 0;
		}
		}
	case 13: /* C.J */
		off = sext(BIT(c, 12) << 11 | BIT(c, 11) << 4 | BITS(c, 10, 9) << 8 | BIT(c, 8) << 10 |
			   BIT(c, 7) << 6 | BIT(c, 6) << 7 | BITS(c, 5, 3) << 1 | BIT(c, 2) << 5, 12);
		return enc_j(off, 0);
	case 14: /* C.BEQZ */
	case 15: /* C.BNEZ */
		off = sext(BIT(c, 12) << 8 | BITS(c, 11, 10) << 3 | BITS(c, 6, 5) << 6 |
			   BITS(c, 4, 3) << 1 | BIT(c, 2) << 5, 9);
		return enc_b(off, 0, rs1p, BIT(c, 13));
	case 16: /* C.SLLI */
		return enc_i((int32_t)shamt, rd, 1, rd, 0x13);
	case 17: /* C.FLDSP */
		u = BIT(c, 12) << 5 | BITS(c, 6, 5) << 3 | BITS(c, 4, 2) << 6;
		return enc_i((int32_t)u, 2, 3, rd, 0x07);
	case 18: /* C.LWSP */
		u = BIT(c, 12) << 5 | BITS(c, 6, 4) << 2 | BITS(c, 3, 2) << 6;
		return rd ? enc_i((int32_t)u, 2, 2, rd, 0x03) : 0;
	case 19: /* C.LDSP */
		u = BIT(c, 12) << 5 | BITS(c, 6, 5) << 3 | BITS(c, 4, 2) << 6;
		return rd ? enc_i((int32_t)u, 2, 3, rd, 0x03) : 0;
	case 20:
		if (!BIT(c, 12)) {
			if (!rs2)	/* C.JR */
				return rd ? enc_i(0, rd, 0, 0, 0x67) : 0;
			return enc_r(0, rs2, 0, 0, rd, 0x33);	/* C.MV */
		}
		if (!rs2) {
			if (!rd)
				return 0x00100073;	/* C.EBREAK */
			return enc_i(0, rd, 0, 1, 0x67);	/* C.JALR */
		}
		return enc_r(0, rs2, rd, 0, rd, 0x33);		/* C.ADD */
	case 21: /* C.FSDSP */
		return enc_s((int32_t)(BITS(c, 12, 10) << 3 | BITS(c, 9, 7) << 6), rs2, 2, 3, 0x27);
	case 22: /* C.SWSP */
		return enc_s((int32_t)(BITS(c, 12, 9) << 2 | BITS(c, 8, 7) << 6), rs2, 2, 2, 0x23);
	case 23: /* C.SDSP */
		return enc_s((int32_t)(BITS(c, 12, 10) << 3 | BITS(c, 9, 7) << 6), rs2, 2, 3, 0x23);
	default:
		return 0;
	}
}

uint32_t rv_rvc_insn(uint32_t c)
{
	return rv_rvc_table[c & 0xffff];
}

static void rvc_table_build(void)
{
	for (uint32_t c = 0; c < (1u << 16); c++)
		if ((c & 3) != 3)
			rv_rvc_table[c] = rvc_expand(c) ? rvc_expand(c) : RVC_ILLEGAL;
}

void rv_rvc_init(void)
{
	pthread_once(&rvc_once, rvc_table_build);
}
