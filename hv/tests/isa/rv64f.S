/* SPDX-License-Identifier: MIT */
/* RV64F: arithmetic, fused ops, sqrt, min/max, compares, classify, conversions, rounding modes,
 * fflags, fcsr and NaN boxing (ISA chapter 11). */
#include "common.h"
	TEST_NAME rv64f

#define ONE	0x3f800000
#define TWO	0x40000000
#define THREE	0x40400000
#define HALF	0x3f000000
#define ONEHALF	0x3fc00000
#define M_ONE	0xbf800000
#define M_ONEHALF 0xbfc00000
#define INF	0x7f800000
#define M_INF	0xff800000
#define QNAN	0x7fc00000	/* canonical NaN */
#define SNAN	0x7f800001
#define M_ZERO	0x80000000
#define FMAX	0x7f7fffff
#define MINNORM	0x00800000
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

	.data
	.balign 8
mem:	.dword 0xaaaaaaaaaaaaaaaa

	.text
	.globl test_main
test_main:
	csrw fflags, zero
	FLI_S f1, ONE
	FLI_S f2, TWO
	FLI_S f3, ONEHALF
	FLI_S f4, THREE
	fadd.s f5, f1, f2
	CHECKS 1, f5, THREE
	fsub.s f5, f1, f2
	CHECKS 2, f5, M_ONE
	fmul.s f5, f3, f2
	CHECKS 3, f5, THREE
	CHECK_FFLAGS 4, 0
	fdiv.s f5, f1, f4
	CHECKS 5, f5, 0x3eaaaaab
	CHECK_FFLAGS 6, NX
	fmv.w.x f6, zero
	fdiv.s f5, f1, f6
	CHECKS 7, f5, INF
	CHECK_FFLAGS 8, DZ
	fdiv.s f5, f6, f6
	CHECKS 9, f5, QNAN
	CHECK_FFLAGS 10, NV
	fsqrt.s f5, f2
	CHECKS 11, f5, 0x3fb504f3
	CHECK_FFLAGS 12, NX
	FLI_S f7, M_ONE
	fsqrt.s f5, f7
	CHECKS 13, f5, QNAN
	CHECK_FFLAGS 14, NV
	FLI_S f8, 0x41100000	/* 9.0 */
	fsqrt.s f5, f8
	CHECKS 15, f5, THREE
	CHECK_FFLAGS 16, 0

	/* Fused multiply-add: one rounding. */
	fmadd.s f5, f3, f2, f1
	CHECKS 17, f5, 0x40800000
	fmsub.s f5, f3, f2, f1
	CHECKS 18, f5, TWO
	fnmsub.s f5, f3, f2, f1
	CHECKS 19, f5, 0xc0000000
	fnmadd.s f5, f3, f2, f1
	CHECKS 20, f5, 0xc0800000
	FLI_S f9, 0x3f800800	/* 1 + 2^-12 */
	FLI_S f10, 0x3f801000	/* 1 + 2^-11 */
	fmsub.s f5, f9, f9, f10
	CHECKS 21, f5, 0x33800000	/* 2^-24, lost by an unfused mul then sub */
	CHECK_FFLAGS 22, 0
	fmul.s f11, f9, f9
	fsub.s f5, f11, f10
	CHECKS 23, f5, 0
	CHECK_FFLAGS 24, NX
	/* inf * 0 + qNaN raises NV (ISA 11.6). */
	FLI_S f12, INF
	FLI_S f13, QNAN
	fmadd.s f5, f12, f6, f13
	CHECKS 25, f5, QNAN
	CHECK_FFLAGS 26, NV

	/* min/max: -0 < +0, one NaN operand gives the other, sNaN raises NV. */
	FLI_S f14, M_ZERO
	fmin.s f5, f14, f6
	CHECKS 27, f5, M_ZERO
	fmin.s f5, f6, f14
	CHECKS 28, f5, M_ZERO
	fmax.s f5, f14, f6
	CHECKS 29, f5, 0
	fmax.s f5, f6, f14
	CHECKS 30, f5, 0
	fmin.s f5, f13, f1
	CHECKS 31, f5, ONE
	fmax.s f5, f1, f13
	CHECKS 32, f5, ONE
	CHECK_FFLAGS 33, 0
	fmin.s f5, f13, f13
	CHECKS 34, f5, QNAN
	FLI_S f15, SNAN
	fmax.s f5, f15, f2
	CHECKS 35, f5, TWO
	CHECK_FFLAGS 36, NV
	fmin.s f5, f7, f1
	CHECKS 37, f5, M_ONE

	/* Compares: feq is quiet, flt/fle signal on any NaN. */
	feq.s a0, f1, f1
	CHECK 38, a0, 1
	flt.s a0, f1, f2
	CHECK 39, a0, 1
	fle.s a0, f2, f1
	CHECK 40, a0, 0
	fle.s a0, f1, f1
	CHECK 41, a0, 1
	feq.s a0, f14, f6
	CHECK 42, a0, 1
	flt.s a0, f14, f6
	CHECK 43, a0, 0
	CHECK_FFLAGS 44, 0
	feq.s a0, f13, f13
	CHECK 45, a0, 0
	CHECK_FFLAGS 46, 0
	flt.s a0, f13, f1
	CHECK 47, a0, 0
	CHECK_FFLAGS 48, NV
	fle.s a0, f1, f13
	CHECK 49, a0, 0
	CHECK_FFLAGS 50, NV
	feq.s a0, f15, f1
	CHECK 51, a0, 0
	CHECK_FFLAGS 52, NV

	/* fclass. */
	FLI_S f16, M_INF
	fclass.s a0, f16
	CHECK 53, a0, 1
	fclass.s a0, f7
	CHECK 54, a0, 2
	FLI_S f16, 0x80000001
	fclass.s a0, f16
	CHECK 55, a0, 4
	fclass.s a0, f14
	CHECK 56, a0, 8
	fclass.s a0, f6
	CHECK 57, a0, 16
	FLI_S f16, 0x007fffff
	fclass.s a0, f16
	CHECK 58, a0, 32
	fclass.s a0, f1
	CHECK 59, a0, 64
	fclass.s a0, f12
	CHECK 60, a0, 128
	fclass.s a0, f15
	CHECK 61, a0, 256
	fclass.s a0, f13
	CHECK 62, a0, 512

	/* Float to integer with each static rounding mode (1.5 and -1.5). */
	fcvt.w.s a0, f3, rne
	CHECK 63, a0, 2
	fcvt.w.s a0, f3, rtz
	CHECK 64, a0, 1
	fcvt.w.s a0, f3, rdn
	CHECK 65, a0, 1
	fcvt.w.s a0, f3, rup
	CHECK 66, a0, 2
	fcvt.w.s a0, f3, rmm
	CHECK 67, a0, 2
	CHECK_FFLAGS 68, NX
	FLI_S f17, M_ONEHALF
	fcvt.w.s a0, f17, rne
	CHECK 69, a0, -2
	fcvt.w.s a0, f17, rtz
	CHECK 70, a0, -1
	fcvt.w.s a0, f17, rdn
	CHECK 71, a0, -2
	fcvt.w.s a0, f17, rup
	CHECK 72, a0, -1
	fcvt.w.s a0, f17, rmm
	CHECK 73, a0, -2
	FLI_S f18, 0x40200000	/* 2.5: ties to even */
	fcvt.w.s a0, f18, rne
	CHECK 74, a0, 2
	fcvt.l.s a0, f18, rmm
	CHECK 75, a0, 3
	csrw fflags, zero
	fcvt.w.s a0, f4, rtz
	CHECK 76, a0, 3
	CHECK_FFLAGS 77, 0
	/* Saturation on overflow and NaN (ISA table 11.4), with NV. */
	FLI_S f19, 0x4f32d05e	/* 3e9 */
	fcvt.w.s a0, f19, rtz
	CHECK 78, a0, 0x7fffffff
	CHECK_FFLAGS 79, NV
	fcvt.w.s a0, f16, rtz	/* f16 = +subnormal */
	CHECK 80, a0, 0
	CHECK_FFLAGS 81, NX
	FLI_S f16, M_INF
	fcvt.w.s a0, f16, rtz
	CHECK 82, a0, 0xffffffff80000000
	CHECK_FFLAGS 83, NV
	fcvt.w.s a0, f13, rtz
	CHECK 84, a0, 0x7fffffff
	CHECK_FFLAGS 85, NV
	fcvt.wu.s a0, f7, rtz
	CHECK 86, a0, 0
	CHECK_FFLAGS 87, NV
	FLI_S f20, 0xbf000000	/* -0.5 rounds to 0: inexact, not invalid */
	fcvt.wu.s a0, f20, rtz
	CHECK 88, a0, 0
	CHECK_FFLAGS 89, NX
	fcvt.wu.s a0, f19, rtz	/* 3e9 fits, result sign-extended from 32 bits */
	CHECK 90, a0, 0xffffffffb2d05e00
	CHECK_FFLAGS 91, 0
	fcvt.wu.s a0, f13, rtz
	CHECK 92, a0, 0xffffffffffffffff
	fcvt.wu.s a0, f12, rtz
	CHECK 93, a0, 0xffffffffffffffff
	CHECK_FFLAGS 94, NV
	FLI_S f21, 0x5f0ac723	/* 1e19 */
	fcvt.l.s a0, f21, rtz
	CHECK 95, a0, 0x7fffffffffffffff
	fcvt.l.s a0, f16, rtz
	CHECK 96, a0, 0x8000000000000000
	fcvt.lu.s a0, f7, rtz
	CHECK 97, a0, 0
	CHECK_FFLAGS 98, NV
	fcvt.lu.s a0, f21, rtz
	CHECK 99, a0, 0x8ac7230000000000
	CHECK_FFLAGS 100, 0
	fcvt.lu.s a0, f13, rtz
	CHECK 101, a0, 0xffffffffffffffff
	CHECK_FFLAGS 102, NV

	/* Integer to float. */
	li a1, -1
	fcvt.s.w f5, a1
	CHECKS 103, f5, M_ONE
	fcvt.s.l f5, a1
	CHECKS 104, f5, M_ONE
	fcvt.s.wu f5, a1
	CHECKS 105, f5, 0x4f800000
	fcvt.s.lu f5, a1
	CHECKS 106, f5, 0x5f800000
	CHECK_FFLAGS 107, NX
	li a1, 0x7fffffff
	fcvt.s.w f5, a1, rtz
	CHECKS 108, f5, 0x4effffff
	fcvt.s.w f5, a1, rne
	CHECKS 109, f5, 0x4f000000
	li a1, 0xffffffff00000003	/* only the low 32 bits count */
	fcvt.s.w f5, a1
	CHECKS 110, f5, 0x40400000
	CHECK_FFLAGS 111, NX

	/* Dynamic rounding from frm. */
	fsrmi 1			/* RTZ */
	fdiv.s f5, f1, f4
	CHECKS 112, f5, 0x3eaaaaaa
	fcvt.w.s a0, f3
	CHECK 113, a0, 1
	fsrmi 2			/* RDN */
	fneg.s f22, f1
	fdiv.s f5, f22, f4
	CHECKS 114, f5, 0xbeaaaaab
	fsrmi 3			/* RUP */
	fdiv.s f5, f22, f4
	CHECKS 115, f5, 0xbeaaaaaa
	fdiv.s f5, f1, f4
	CHECKS 116, f5, 0x3eaaaaab
	fsrmi 4			/* RMM */
	fcvt.w.s a0, f18
	CHECK 117, a0, 3
	/* A static rm overrides frm. */
	fdiv.s f5, f1, f4, rtz
	CHECKS 118, f5, 0x3eaaaaaa
	fsrmi 0
	/* Overflow and underflow. */
	csrw fflags, zero
	FLI_S f23, FMAX
	fmul.s f5, f23, f2
	CHECKS 119, f5, INF
	CHECK_FFLAGS 120, (OF | NX)
	fmul.s f5, f23, f2, rtz
	CHECKS 121, f5, FMAX
	CHECK_FFLAGS 122, (OF | NX)
	FLI_S f24, MINNORM
	FLI_S f25, HALF
	fmul.s f5, f24, f25	/* exact subnormal: no underflow flag */
	CHECKS 123, f5, 0x00400000
	CHECK_FFLAGS 124, 0
	FLI_S f26, 1
	fmul.s f5, f26, f25	/* tiny and inexact */
	CHECKS 125, f5, 0
	CHECK_FFLAGS 126, (UF | NX)

	/* NaN payloads are not propagated: results are the canonical NaN (ISA 11.3). */
	csrw fflags, zero
	FLI_S f28, 0xffc12345
	fadd.s f5, f28, f1
	CHECKS 159, f5, QNAN
	CHECK_FFLAGS 160, 0
	fadd.s f5, f15, f1
	CHECKS 161, f5, QNAN
	CHECK_FFLAGS 162, NV
	fmadd.s f5, f1, f1, f28
	CHECKS 163, f5, QNAN
	fsqrt.s f5, f14
	CHECKS 164, f5, M_ZERO
	fsub.s f5, f12, f12	/* inf - inf */
	CHECKS 165, f5, QNAN
	CHECK_FFLAGS 166, NV
	/* MINNORM * (1 - 2^-24) is exact at 24 bits with an unbounded exponent, hence tiny even
	 * after rounding (UF), and rounds up to MINNORM in the subnormal range (NX). rv64d checks
	 * the case that is tiny only before rounding. */
	FLI_S f29, 0x3f7fffff
	fmul.s f5, f24, f29
	CHECKS 167, f5, MINNORM
	CHECK_FFLAGS 168, (UF | NX)

	/* Sign injection. */
	fsgnj.s f5, f1, f7
	CHECKS 127, f5, M_ONE
	fsgnjn.s f5, f1, f7
	CHECKS 128, f5, ONE
	fsgnjx.s f5, f7, f7
	CHECKS 129, f5, ONE
	fsgnjx.s f5, f7, f1
	CHECKS 130, f5, M_ONE
	fabs.s f5, f7
	CHECKS 131, f5, ONE
	fneg.s f5, f13
	CHECKS 132, f5, 0xffc00000

	/* NaN boxing (ISA 11.2): fmv.w.x and flw box; an unboxed input reads as canonical NaN. */
	li a1, 0x123456789abcdef0
	fmv.w.x f5, a1
	CHECKF 133, f5, 0xffffffff9abcdef0
	fmv.x.w a0, f5
	CHECK 134, a0, 0xffffffff9abcdef0
	fmv.x.w a0, f1
	CHECK 135, a0, ONE
	li a1, 0x000000003f800000	/* 1.0 not boxed */
	fmv.d.x f27, a1
	fadd.s f5, f27, f1
	CHECKS 136, f5, QNAN
	CHECK_FFLAGS 137, 0
	fsgnj.s f5, f27, f1
	CHECKS 138, f5, QNAN
	fsgnjn.s f5, f1, f27	/* sign taken from the canonical NaN (+), negated */
	CHECKS 139, f5, M_ONE
	fclass.s a0, f27
	CHECK 140, a0, 512
	fmv.x.w a0, f27		/* fmv.x.w copies the low bits without a boxing check */
	CHECK 141, a0, ONE
	fcvt.w.s a0, f27, rtz
	CHECK 142, a0, 0x7fffffff
	CHECK_FFLAGS 143, NV
	li a1, 0xfffffffe3f800000	/* upper bits not all ones */
	fmv.d.x f27, a1
	fmul.s f5, f27, f1
	CHECKS 144, f5, QNAN
	la s0, mem
	flw f5, 0(s0)
	CHECKF 145, f5, 0xffffffffaaaaaaaa
	fsw f1, 0(s0)
	ld a0, 0(s0)
	CHECK 146, a0, 0xaaaaaaaa3f800000

	/* fcsr = frm << 5 | fflags. */
	li a1, 0xff
	csrw fcsr, a1
	CHECK_CSR 147, frm, 7
	CHECK_CSR 148, fflags, 0x1f
	CHECK_CSR 149, fcsr, 0xff
	csrwi frm, 2
	CHECK_CSR 150, fcsr, 0x5f
	csrwi fflags, 0
	CHECK_CSR 151, fcsr, 0x40
	csrw fcsr, zero

	/* Reserved rounding modes are illegal: static rm=5 and dynamic with frm=5. */
	M_RESUME 1f
	.insn r 0x53, 5, 0x00, f5, f1, f2	/* fadd.s with rm=5 */
	FAIL 152
1:	CHECK_TA 153, TA_MCAUSE, 2
	csrwi frm, 5
	M_RESUME 2f
	fadd.s f5, f1, f2
	FAIL 154
2:	CHECK_TA 155, TA_MCAUSE, 2
	csrwi frm, 0
	/* Flags accumulate until cleared. */
	fdiv.s f5, f1, f4
	fdiv.s f5, f1, f6
	CHECK_FFLAGS 156, (NX | DZ)
	/* FS off: FP instructions are illegal. */
	li t0, MSTATUS_FS
	csrc mstatus, t0
	M_RESUME 3f
	fadd.s f5, f1, f2
	FAIL 157
3:	CHECK_TA 158, TA_MCAUSE, 2
	li t0, MSTATUS_FS
	csrs mstatus, t0
	j test_pass
