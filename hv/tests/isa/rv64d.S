/* SPDX-License-Identifier: MIT */
/* RV64D: arithmetic, fused ops, sqrt, min/max, compares, classify, conversions incl. to and from
 * single, rounding modes, fflags, moves and loads/stores (ISA chapter 12). */
#include "common.h"
	TEST_NAME rv64d

#define ONE	0x3ff0000000000000
#define TWO	0x4000000000000000
#define THREE	0x4008000000000000
#define HALF	0x3fe0000000000000
#define ONEHALF	0x3ff8000000000000
#define M_ONE	0xbff0000000000000
#define M_ONEHALF 0xbff8000000000000
#define INF	0x7ff0000000000000
#define M_INF	0xfff0000000000000
#define QNAN	0x7ff8000000000000	/* canonical NaN */
#define SNAN	0x7ff0000000000001
#define M_ZERO	0x8000000000000000
#define DMAX	0x7fefffffffffffff
#define MINNORM	0x0010000000000000
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

	.data
	.balign 8
mem:	.dword 0x0123456789abcdef, 0

	.text
	.globl test_main
test_main:
	csrw fflags, zero
	FLI_D f1, ONE
	FLI_D f2, TWO
	FLI_D f3, ONEHALF
	FLI_D f4, THREE
	fmv.d.x f6, zero
	fadd.d f5, f1, f2
	CHECKF 1, f5, THREE
	fsub.d f5, f1, f2
	CHECKF 2, f5, M_ONE
	fmul.d f5, f3, f2
	CHECKF 3, f5, THREE
	CHECK_FFLAGS 4, 0
	fdiv.d f5, f1, f4
	CHECKF 5, f5, 0x3fd5555555555555
	CHECK_FFLAGS 6, NX
	fdiv.d f5, f1, f6
	CHECKF 7, f5, INF
	CHECK_FFLAGS 8, DZ
	fdiv.d f5, f6, f6
	CHECKF 9, f5, QNAN
	CHECK_FFLAGS 10, NV
	fsqrt.d f5, f2
	CHECKF 11, f5, 0x3ff6a09e667f3bcd
	CHECK_FFLAGS 12, NX
	FLI_D f7, M_ONE
	fsqrt.d f5, f7
	CHECKF 13, f5, QNAN
	CHECK_FFLAGS 14, NV
	FLI_D f8, 0x4022000000000000	/* 9.0 */
	fsqrt.d f5, f8
	CHECKF 15, f5, THREE
	CHECK_FFLAGS 16, 0

	fmadd.d f5, f3, f2, f1
	CHECKF 17, f5, 0x4010000000000000
	fmsub.d f5, f3, f2, f1
	CHECKF 18, f5, TWO
	fnmsub.d f5, f3, f2, f1
	CHECKF 19, f5, 0xc000000000000000
	fnmadd.d f5, f3, f2, f1
	CHECKF 20, f5, 0xc010000000000000
	FLI_D f9, 0x3ff0000002000000	/* 1 + 2^-27 */
	FLI_D f10, 0x3ff0000004000000	/* 1 + 2^-26 */
	fmsub.d f5, f9, f9, f10
	CHECKF 21, f5, 0x3c90000000000000	/* 2^-54 */
	CHECK_FFLAGS 22, 0
	fmul.d f11, f9, f9
	fsub.d f5, f11, f10
	CHECKF 23, f5, 0
	CHECK_FFLAGS 24, NX
	FLI_D f12, INF
	FLI_D f13, QNAN
	fmadd.d f5, f12, f6, f13
	CHECKF 25, f5, QNAN
	CHECK_FFLAGS 26, NV

	FLI_D f14, M_ZERO
	fmin.d f5, f14, f6
	CHECKF 27, f5, M_ZERO
	fmin.d f5, f6, f14
	CHECKF 28, f5, M_ZERO
	fmax.d f5, f14, f6
	CHECKF 29, f5, 0
	fmax.d f5, f6, f14
	CHECKF 30, f5, 0
	fmin.d f5, f13, f1
	CHECKF 31, f5, ONE
	fmax.d f5, f1, f13
	CHECKF 32, f5, ONE
	CHECK_FFLAGS 33, 0
	fmax.d f5, f13, f13
	CHECKF 34, f5, QNAN
	FLI_D f15, SNAN
	fmin.d f5, f15, f2
	CHECKF 35, f5, TWO
	CHECK_FFLAGS 36, NV
	fmax.d f5, f7, f1
	CHECKF 37, f5, ONE

	feq.d a0, f1, f1
	CHECK 38, a0, 1
	flt.d a0, f1, f2
	CHECK 39, a0, 1
	fle.d a0, f2, f1
	CHECK 40, a0, 0
	fle.d a0, f1, f1
	CHECK 41, a0, 1
	feq.d a0, f14, f6
	CHECK 42, a0, 1
	fle.d a0, f6, f14
	CHECK 43, a0, 1
	CHECK_FFLAGS 44, 0
	feq.d a0, f13, f1
	CHECK 45, a0, 0
	CHECK_FFLAGS 46, 0
	fle.d a0, f13, f1
	CHECK 47, a0, 0
	CHECK_FFLAGS 48, NV
	feq.d a0, f1, f15
	CHECK 49, a0, 0
	CHECK_FFLAGS 50, NV

	FLI_D f16, M_INF
	fclass.d a0, f16
	CHECK 51, a0, 1
	fclass.d a0, f7
	CHECK 52, a0, 2
	FLI_D f16, 0x800fffffffffffff
	fclass.d a0, f16
	CHECK 53, a0, 4
	fclass.d a0, f14
	CHECK 54, a0, 8
	fclass.d a0, f6
	CHECK 55, a0, 16
	FLI_D f16, 1
	fclass.d a0, f16
	CHECK 56, a0, 32
	fclass.d a0, f1
	CHECK 57, a0, 64
	fclass.d a0, f12
	CHECK 58, a0, 128
	fclass.d a0, f15
	CHECK 59, a0, 256
	fclass.d a0, f13
	CHECK 60, a0, 512

	fcvt.w.d a0, f3, rne
	CHECK 61, a0, 2
	fcvt.w.d a0, f3, rtz
	CHECK 62, a0, 1
	fcvt.w.d a0, f3, rdn
	CHECK 63, a0, 1
	fcvt.w.d a0, f3, rup
	CHECK 64, a0, 2
	fcvt.w.d a0, f3, rmm
	CHECK 65, a0, 2
	CHECK_FFLAGS 66, NX
	FLI_D f17, M_ONEHALF
	fcvt.l.d a0, f17, rne
	CHECK 67, a0, -2
	fcvt.l.d a0, f17, rtz
	CHECK 68, a0, -1
	fcvt.l.d a0, f17, rdn
	CHECK 69, a0, -2
	fcvt.l.d a0, f17, rup
	CHECK 70, a0, -1
	fcvt.l.d a0, f17, rmm
	CHECK 71, a0, -2
	FLI_D f18, 0x4004000000000000	/* 2.5 */
	fcvt.w.d a0, f18, rne
	CHECK 72, a0, 2
	fcvt.w.d a0, f18, rmm
	CHECK 73, a0, 3
	csrw fflags, zero
	FLI_D f19, 0x41e65a0bc0000000	/* 3e9 */
	fcvt.w.d a0, f19, rtz
	CHECK 74, a0, 0x7fffffff
	CHECK_FFLAGS 75, NV
	fcvt.wu.d a0, f19, rtz
	CHECK 76, a0, 0xffffffffb2d05e00
	CHECK_FFLAGS 77, 0
	fcvt.l.d a0, f19, rtz
	CHECK 78, a0, 3000000000
	FLI_D f16, M_INF
	fcvt.w.d a0, f16
	CHECK 79, a0, 0xffffffff80000000
	fcvt.l.d a0, f16
	CHECK 80, a0, 0x8000000000000000
	fcvt.w.d a0, f13
	CHECK 81, a0, 0x7fffffff
	fcvt.l.d a0, f13
	CHECK 82, a0, 0x7fffffffffffffff
	fcvt.wu.d a0, f7
	CHECK 83, a0, 0
	fcvt.lu.d a0, f13
	CHECK 84, a0, 0xffffffffffffffff
	CHECK_FFLAGS 85, NV
	FLI_D f21, 0x43e158e460913d00	/* 1e19 */
	fcvt.l.d a0, f21, rtz
	CHECK 86, a0, 0x7fffffffffffffff
	CHECK_FFLAGS 87, NV
	fcvt.lu.d a0, f21, rtz
	CHECK 88, a0, 0x8ac7230489e80000
	CHECK_FFLAGS 89, 0
	FLI_D f20, 0xbfe0000000000000	/* -0.5 */
	fcvt.lu.d a0, f20, rtz
	CHECK 90, a0, 0
	CHECK_FFLAGS 91, NX

	li a1, -1
	fcvt.d.w f5, a1
	CHECKF 92, f5, M_ONE
	fcvt.d.l f5, a1
	CHECKF 93, f5, M_ONE
	fcvt.d.wu f5, a1
	CHECKF 94, f5, 0x41efffffffe00000
	CHECK_FFLAGS 95, 0
	fcvt.d.lu f5, a1
	CHECKF 96, f5, 0x43f0000000000000
	CHECK_FFLAGS 97, NX
	li a1, 0x7fffffffffffffff
	fcvt.d.l f5, a1, rtz
	CHECKF 98, f5, 0x43dfffffffffffff
	fcvt.d.l f5, a1, rne
	CHECKF 99, f5, 0x43e0000000000000
	li a1, 0x123456787fffffff
	fcvt.d.w f5, a1
	CHECKF 100, f5, 0x41dfffffffc00000
	CHECK_FFLAGS 101, NX

	/* Between formats: results are NaN-boxed singles, NaNs become canonical. */
	fdiv.d f5, f1, f4
	csrw fflags, zero
	fcvt.s.d f22, f5
	CHECKF 102, f22, 0xffffffff3eaaaaab
	CHECK_FFLAGS 103, NX
	fcvt.s.d f22, f5, rtz
	CHECKF 104, f22, 0xffffffff3eaaaaaa
	FLI_D f23, DMAX
	csrw fflags, zero
	fcvt.s.d f22, f23
	CHECKF 105, f22, 0xffffffff7f800000
	CHECK_FFLAGS 106, (OF | NX)
	fcvt.s.d f22, f23, rtz
	CHECKF 107, f22, 0xffffffff7f7fffff
	csrw fflags, zero
	fcvt.s.d f22, f15
	CHECKF 108, f22, 0xffffffff7fc00000
	CHECK_FFLAGS 109, NV
	FLI_S f24, 0x3fc00000
	fcvt.d.s f22, f24
	CHECKF 110, f22, ONEHALF
	FLI_S f24, 0x7f800001	/* single sNaN */
	fcvt.d.s f22, f24
	CHECKF 111, f22, QNAN
	CHECK_FFLAGS 112, NV
	li a1, 0x3fc00000	/* unboxed single reads as canonical NaN */
	fmv.d.x f24, a1
	fcvt.d.s f22, f24
	CHECKF 113, f22, QNAN
	CHECK_FFLAGS 114, 0
	/* A boxed single read as a double is a quiet NaN: the result is canonical. */
	FLI_S f24, 0x3f800000
	fadd.d f22, f24, f1
	CHECKF 115, f22, QNAN
	CHECK_FFLAGS 116, 0

	/* Rounding from frm. */
	fsrmi 2
	fneg.d f25, f1
	fdiv.d f5, f25, f4
	CHECKF 117, f5, 0xbfd5555555555556
	fsrmi 3
	fdiv.d f5, f1, f4
	CHECKF 118, f5, 0x3fd5555555555556
	fsrmi 1
	fdiv.d f5, f1, f4
	CHECKF 119, f5, 0x3fd5555555555555
	fcvt.l.d a0, f18
	CHECK 120, a0, 2
	fsrmi 4
	fcvt.l.d a0, f18
	CHECK 121, a0, 3
	fsrmi 0
	csrw fflags, zero
	fmul.d f5, f23, f2
	CHECKF 122, f5, INF
	CHECK_FFLAGS 123, (OF | NX)
	fmul.d f5, f23, f2, rdn
	CHECKF 124, f5, DMAX
	fneg.d f26, f23
	fmul.d f5, f26, f2, rdn
	CHECKF 125, f5, M_INF
	CHECK_FFLAGS 126, (OF | NX)
	FLI_D f27, MINNORM
	FLI_D f28, HALF
	fmul.d f5, f27, f28
	CHECKF 127, f5, 0x0008000000000000
	CHECK_FFLAGS 128, 0
	FLI_D f29, 1
	fmul.d f5, f29, f28
	CHECKF 129, f5, 0
	CHECK_FFLAGS 130, (UF | NX)
	fmul.d f5, f29, f28, rup
	CHECKF 131, f5, 1
	CHECK_FFLAGS 132, (UF | NX)

	/* Tininess is detected after rounding (ISA 11.2): 2^-126 * (1 - 2^-25) rounds to the smallest
	 * normal single, so only NX is raised. */
	csrw fflags, zero
	FLI_D f30, 0x380ffffff0000000
	fcvt.s.d f5, f30
	CHECKF 143, f5, 0xffffffff00800000
	CHECK_FFLAGS 144, NX
	/* NaN payloads are not propagated: results are the canonical NaN (ISA 11.3). */
	FLI_D f30, 0xfff8000000012345
	fadd.d f5, f30, f1
	CHECKF 145, f5, QNAN
	CHECK_FFLAGS 146, 0
	fadd.d f5, f15, f1
	CHECKF 147, f5, QNAN
	CHECK_FFLAGS 148, NV
	fmul.d f5, f1, f30
	CHECKF 149, f5, QNAN
	fsqrt.d f5, f14
	CHECKF 150, f5, M_ZERO
	CHECK_FFLAGS 151, 0

	fsgnj.d f5, f1, f7
	CHECKF 133, f5, M_ONE
	fsgnjn.d f5, f7, f7
	CHECKF 134, f5, ONE
	fsgnjx.d f5, f7, f7
	CHECKF 135, f5, ONE
	fabs.d f5, f16
	CHECKF 136, f5, INF
	fneg.d f5, f6
	CHECKF 137, f5, M_ZERO

	/* Moves and memory: raw 64 bits, no canonicalisation. */
	li a1, 0x7ff0000000000001
	fmv.d.x f5, a1
	fmv.x.d a0, f5
	CHECK 138, a0, 0x7ff0000000000001
	la s0, mem
	fld f5, 0(s0)
	CHECKF 139, f5, 0x0123456789abcdef
	fsd f15, 8(s0)
	ld a0, 8(s0)
	CHECK 140, a0, SNAN
	fsgnj.d f5, f15, f15	/* sign injection does not canonicalise */
	CHECKF 141, f5, SNAN
	CHECK_FFLAGS 142, 0
	j test_pass
