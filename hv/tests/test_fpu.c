/* SPDX-License-Identifier: MIT */
/* test_fpu: checks hv/fpu bit for bit against the host FPU in four rounding modes, and against hand-written RISC-V vectors. */
#include "hv/cpu/softfp/fpu.h"

#include <fenv.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The host (x86-64 SSE, or any IEEE 754 FPU with tininess after rounding)
 * is the oracle for RNE/RTZ/RDN/RUP. Only NaN payloads differ: the host
 * propagates them, RISC-V returns the canonical NaN, so host NaNs are
 * mapped to canonical before comparing. RMM has no host counterpart: it is
 * checked against the directed results and by hand-written vectors.
 */

enum { FMT32, FMT64 };

enum op {
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT,
	OP_FMADD, OP_FMSUB, OP_FNMSUB, OP_FNMADD,
	OP_CVT_FF, OP_FROM_I32, OP_FROM_U32, OP_FROM_I64, OP_FROM_U64,
	OP_TO_I32, OP_TO_U32, OP_TO_I64, OP_TO_U64,
	OP_EQ, OP_LT, OP_LE,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"add", "sub", "mul", "div", "sqrt", "fmadd", "fmsub", "fnmsub", "fnmadd",
	"cvt.ff", "from.i32", "from.u32", "from.i64", "from.u64",
	"to.i32", "to.u32", "to.i64", "to.u64", "eq", "lt", "le",
};

static const char *const rm_names[5] = { "rne", "rtz", "rdn", "rup", "rmm" };
static const int host_modes[4] = { FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD };

static unsigned long n_checks, n_failures;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fail(const char *what, int fmt, int rm, const uint64_t *ops, int nops, uint64_t got,
		 uint32_t got_flags, uint64_t want, uint32_t want_flags)
{
	n_failures++;
	if (n_failures > 40)
		return;
	printf("MISMATCH %s.%s %s:", what, fmt == FMT32 ? "s" : "d", rm_names[rm]);
	for (int i = 0; i < nops; i++)
		printf(" op%d=%#" PRIx64, i, ops[i]);
	printf(" got=%#" PRIx64 "/flags %#x want=%#" PRIx64 "/flags %#x\n", got, got_flags, want,
	       want_flags);
}

static void expect(const char *what, int fmt, int rm, const uint64_t *ops, int nops, uint64_t got,
		   uint32_t got_flags, uint64_t want, uint32_t want_flags)
{
	n_checks++;
	if (got != want || got_flags != want_flags)
		fail(what, fmt, rm, ops, nops, got, got_flags, want, want_flags);
}

static uint32_t host_flags(void)
{
	int e = fetestexcept(FE_ALL_EXCEPT);
	uint32_t f = 0;

	if (e & FE_INEXACT)
		f |= FPU_NX;
	if (e & FE_UNDERFLOW)
		f |= FPU_UF;
	if (e & FE_OVERFLOW)
		f |= FPU_OF;
	if (e & FE_DIVBYZERO)
		f |= FPU_DZ;
	if (e & FE_INVALID)
		f |= FPU_NV;
	return f;
}

static float f32_from(uint64_t b)
{
	uint32_t u = (uint32_t)b;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static double f64_from(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static uint64_t bits_f32(float f)
{
	uint32_t u;

	if (isnan(f))
		return FPU_F32_CANON_NAN;
	memcpy(&u, &f, sizeof(u));
	return u;
}

static uint64_t bits_f64(double d)
{
	uint64_t u;

	if (isnan(d))
		return FPU_F64_CANON_NAN;
	memcpy(&u, &d, sizeof(u));
	return u;
}

/* An operand drawn to hit the interesting classes of the format. */
static uint64_t gen_float(int fmt)
{
	const int fb = fmt == FMT32 ? 23 : 52, eb = fmt == FMT32 ? 8 : 11;
	const uint64_t fmask = (1ull << fb) - 1, emax = (1ull << eb) - 1, bias = emax >> 1;
	uint64_t r = rnd(), frac = rnd() & fmask, exp;
	uint64_t sign = (r & 1) << (fb + eb);

	switch ((r >> 1) % 16) {
	case 0:
		return sign;
	case 1:
		frac >>= (r >> 8) % fb;
		return sign | (frac ? frac : 1);
	case 2:
		return sign | (emax << fb);
	case 3:
		return sign | (emax << fb) | (1ull << (fb - 1)) | (frac & ((r >> 20) & 1 ? fmask : 0));
	case 4:
		frac &= fmask >> 1;
		return sign | (emax << fb) | (frac ? frac : 1);
	case 5:
		exp = 1 + (r >> 8) % 4;
		break;
	case 6:
		exp = emax - 1 - (r >> 8) % 4;
		break;
	case 7:
		frac = fmask - (r >> 8) % 4;
		exp = bias - 8 + (r >> 16) % 16;
		break;
	case 8:
		frac &= ~(fmask >> ((r >> 8) % fb));
		exp = bias - 16 + (r >> 16) % 32;
		break;
	case 9:
	case 10:
		exp = bias - 8 + (r >> 8) % 16;
		break;
	case 11:
		exp = bias + (r >> 8) % 66;
		frac &= ~(fmask >> ((r >> 16) % fb));
		break;
	default:
		exp = 1 + (r >> 8) % (emax - 1);
		break;
	}
	return sign | (exp << fb) | frac;
}

/* A second operand near the first (same binade give or take fb+3) for ties and cancellation. */
static uint64_t gen_near(int fmt, uint64_t a)
{
	const int fb = fmt == FMT32 ? 23 : 52, eb = fmt == FMT32 ? 8 : 11;
	const uint64_t emax = (1ull << eb) - 1;
	uint64_t r = rnd();
	int64_t e = (int64_t)((a >> fb) & emax) + (int64_t)((r >> 8) % (2 * fb + 7)) - (fb + 3);

	if (e < 0)
		e = 0;
	if ((uint64_t)e >= emax)
		e = (int64_t)emax - 1;
	a = (a & ~(emax << fb)) | ((uint64_t)e << fb);
	a ^= (r & 3) << ((r >> 2) % fb);
	if (r & (1ull << 60))
		a ^= 1ull << (fb + eb);
	return a;
}

static uint64_t gen_int(void)
{
	uint64_t r = rnd(), v = rnd();

	switch (r % 6) {
	case 0:
		return v >> (r >> 8) % 64;
	case 1:
		return -(v >> (r >> 8) % 64);
	case 2:
		return (v >> (r >> 8) % 64) << (r >> 16) % 40;
	case 3:
		return (r >> 8) % 5 - 2;
	default:
		return v;
	}
}

static uint64_t my_op(int fmt, enum op op, const uint64_t *o, int rm, uint32_t *fl)
{
	if (fmt == FMT32) {
		uint32_t a = (uint32_t)o[0], b = (uint32_t)o[1], c = (uint32_t)o[2];

		switch (op) {
		case OP_ADD: return fpu_f32_add(a, b, rm, fl);
		case OP_SUB: return fpu_f32_sub(a, b, rm, fl);
		case OP_MUL: return fpu_f32_mul(a, b, rm, fl);
		case OP_DIV: return fpu_f32_div(a, b, rm, fl);
		case OP_SQRT: return fpu_f32_sqrt(a, rm, fl);
		case OP_FMADD: return fpu_f32_fma(a, b, c, FPU_FMADD, rm, fl);
		case OP_FMSUB: return fpu_f32_fma(a, b, c, FPU_FMSUB, rm, fl);
		case OP_FNMSUB: return fpu_f32_fma(a, b, c, FPU_FNMSUB, rm, fl);
		case OP_FNMADD: return fpu_f32_fma(a, b, c, FPU_FNMADD, rm, fl);
		case OP_CVT_FF: return fpu_f32_to_f64(a, fl);
		case OP_FROM_I32: return fpu_i32_to_f32((int32_t)o[0], rm, fl);
		case OP_FROM_U32: return fpu_u32_to_f32((uint32_t)o[0], rm, fl);
		case OP_FROM_I64: return fpu_i64_to_f32((int64_t)o[0], rm, fl);
		case OP_FROM_U64: return fpu_u64_to_f32(o[0], rm, fl);
		case OP_TO_I32: return (uint64_t)(int64_t)fpu_f32_to_i32(a, rm, fl);
		case OP_TO_U32: return fpu_f32_to_u32(a, rm, fl);
		case OP_TO_I64: return (uint64_t)fpu_f32_to_i64(a, rm, fl);
		case OP_TO_U64: return fpu_f32_to_u64(a, rm, fl);
		case OP_EQ: return (uint64_t)fpu_f32_eq(a, b, fl);
		case OP_LT: return (uint64_t)fpu_f32_lt(a, b, fl);
		case OP_LE: return (uint64_t)fpu_f32_le(a, b, fl);
		default: break;
		}
	} else {
		uint64_t a = o[0], b = o[1], c = o[2];

		switch (op) {
		case OP_ADD: return fpu_f64_add(a, b, rm, fl);
		case OP_SUB: return fpu_f64_sub(a, b, rm, fl);
		case OP_MUL: return fpu_f64_mul(a, b, rm, fl);
		case OP_DIV: return fpu_f64_div(a, b, rm, fl);
		case OP_SQRT: return fpu_f64_sqrt(a, rm, fl);
		case OP_FMADD: return fpu_f64_fma(a, b, c, FPU_FMADD, rm, fl);
		case OP_FMSUB: return fpu_f64_fma(a, b, c, FPU_FMSUB, rm, fl);
		case OP_FNMSUB: return fpu_f64_fma(a, b, c, FPU_FNMSUB, rm, fl);
		case OP_FNMADD: return fpu_f64_fma(a, b, c, FPU_FNMADD, rm, fl);
		case OP_CVT_FF: return fpu_f64_to_f32(a, rm, fl);
		case OP_FROM_I32: return fpu_i32_to_f64((int32_t)a, rm, fl);
		case OP_FROM_U32: return fpu_u32_to_f64((uint32_t)a, rm, fl);
		case OP_FROM_I64: return fpu_i64_to_f64((int64_t)a, rm, fl);
		case OP_FROM_U64: return fpu_u64_to_f64(a, rm, fl);
		case OP_TO_I32: return (uint64_t)(int64_t)fpu_f64_to_i32(a, rm, fl);
		case OP_TO_U32: return fpu_f64_to_u32(a, rm, fl);
		case OP_TO_I64: return (uint64_t)fpu_f64_to_i64(a, rm, fl);
		case OP_TO_U64: return fpu_f64_to_u64(a, rm, fl);
		case OP_EQ: return (uint64_t)fpu_f64_eq(a, b, fl);
		case OP_LT: return (uint64_t)fpu_f64_lt(a, b, fl);
		case OP_LE: return (uint64_t)fpu_f64_le(a, b, fl);
		default: break;
		}
	}
	abort();
}

/*
 * Reference float-to-integer conversion: the host rounds to an integral
 * value in the current mode, then the spec's saturation table applies.
 */
static uint64_t ref_to_int(double x, double r, enum op op, uint32_t *fl)
{
	static const double two31 = 2147483648.0, two32 = 4294967296.0;
	static const double two63 = 9223372036854775808.0, two64 = 18446744073709551616.0;

	if (isnan(x)) {
		*fl = FPU_NV;
		return op == OP_TO_I32 ? INT32_MAX : op == OP_TO_U32 ? UINT32_MAX :
		       op == OP_TO_I64 ? (uint64_t)INT64_MAX : UINT64_MAX;
	}
	*fl = r != x ? FPU_NX : 0;
	switch (op) {
	case OP_TO_I32:
		if (r >= two31 || r < -two31)
			break;
		return (uint64_t)(int64_t)r;
	case OP_TO_U32:
		if (r >= two32 || r < 0)
			break;
		return (uint64_t)r;
	case OP_TO_I64:
		if (r >= two63 || r < -two63)
			break;
		return (uint64_t)(int64_t)r;
	default:
		if (r >= two64 || r < 0)
			break;
		return (uint64_t)r;
	}
	*fl = FPU_NV;
	if (r < 0)
		return op == OP_TO_I32 ? (uint64_t)(int64_t)INT32_MIN :
		       op == OP_TO_I64 ? (uint64_t)INT64_MIN : 0;
	return op == OP_TO_I32 ? INT32_MAX : op == OP_TO_U32 ? UINT32_MAX :
	       op == OP_TO_I64 ? (uint64_t)INT64_MAX : UINT64_MAX;
}

/* Called through pointers: gcc's inline rint assumes round-to-nearest unless -frounding-math. */
static double (*volatile host_rint)(double) = rint;
static float (*volatile host_rintf)(float) = rintf;
static volatile float vfa, vfb, vfc, vfr;
static volatile double vda, vdb, vdc, vdr;
static volatile int64_t vi;
static volatile uint64_t vu;
static volatile int vcmp;

static uint64_t host_op32(enum op op, const uint64_t *o, uint32_t *fl)
{
	uint64_t res;

	vfa = f32_from(o[0]);
	vfb = f32_from(o[1]);
	vfc = f32_from(o[2]);
	vi = (int64_t)o[0];
	vu = o[0];
	feclearexcept(FE_ALL_EXCEPT);
	switch (op) {
	case OP_ADD: vfr = vfa + vfb; break;
	case OP_SUB: vfr = vfa - vfb; break;
	case OP_MUL: vfr = vfa * vfb; break;
	case OP_DIV: vfr = vfa / vfb; break;
	case OP_SQRT: vfr = sqrtf(vfa); break;
	case OP_FMADD: vfr = fmaf(vfa, vfb, vfc); break;
	case OP_FMSUB: vfr = fmaf(vfa, vfb, -vfc); break;
	case OP_FNMSUB: vfr = fmaf(-vfa, vfb, vfc); break;
	case OP_FNMADD: vfr = fmaf(-vfa, vfb, -vfc); break;
	case OP_CVT_FF:
		vdr = vfa;
		*fl = host_flags();
		return bits_f64(vdr);
	case OP_FROM_I32: vfr = (float)(int32_t)vi; break;
	case OP_FROM_U32: vfr = (float)(uint32_t)vu; break;
	case OP_FROM_I64: vfr = (float)vi; break;
	case OP_FROM_U64: vfr = (float)vu; break;
	case OP_TO_I32: case OP_TO_U32: case OP_TO_I64: case OP_TO_U64:
		vfr = host_rintf(vfa);
		return ref_to_int(vfa, vfr, op, fl);
	case OP_EQ: vcmp = vfa == vfb; break;
	case OP_LT: vcmp = vfa < vfb; break;
	case OP_LE: vcmp = vfa <= vfb; break;
	default: abort();
	}
	*fl = host_flags();
	res = op >= OP_EQ ? (uint64_t)vcmp : bits_f32(vfr);
	return res;
}

static uint64_t host_op64(enum op op, const uint64_t *o, uint32_t *fl)
{
	uint64_t res;

	vda = f64_from(o[0]);
	vdb = f64_from(o[1]);
	vdc = f64_from(o[2]);
	vi = (int64_t)o[0];
	vu = o[0];
	feclearexcept(FE_ALL_EXCEPT);
	switch (op) {
	case OP_ADD: vdr = vda + vdb; break;
	case OP_SUB: vdr = vda - vdb; break;
	case OP_MUL: vdr = vda * vdb; break;
	case OP_DIV: vdr = vda / vdb; break;
	case OP_SQRT: vdr = sqrt(vda); break;
	case OP_FMADD: vdr = fma(vda, vdb, vdc); break;
	case OP_FMSUB: vdr = fma(vda, vdb, -vdc); break;
	case OP_FNMSUB: vdr = fma(-vda, vdb, vdc); break;
	case OP_FNMADD: vdr = fma(-vda, vdb, -vdc); break;
	case OP_CVT_FF:
		vfr = (float)vda;
		*fl = host_flags();
		return bits_f32(vfr);
	case OP_FROM_I32: vdr = (double)(int32_t)vi; break;
	case OP_FROM_U32: vdr = (double)(uint32_t)vu; break;
	case OP_FROM_I64: vdr = (double)vi; break;
	case OP_FROM_U64: vdr = (double)vu; break;
	case OP_TO_I32: case OP_TO_U32: case OP_TO_I64: case OP_TO_U64:
		vdr = host_rint(vda);
		return ref_to_int(vda, vdr, op, fl);
	case OP_EQ: vcmp = vda == vdb; break;
	case OP_LT: vcmp = vda < vdb; break;
	case OP_LE: vcmp = vda <= vdb; break;
	default: abort();
	}
	*fl = host_flags();
	res = op >= OP_EQ ? (uint64_t)vcmp : bits_f64(vdr);
	return res;
}

static int op_arity(enum op op)
{
	if (op == OP_SQRT || (op >= OP_CVT_FF && op <= OP_TO_U64))
		return 1;
	if (op >= OP_FMADD && op <= OP_FNMADD)
		return 3;
	return 2;
}

static uint64_t magnitude(int fmt, uint64_t x)
{
	return x & (fmt == FMT32 ? 0x7fffffffull : ~(1ull << 63));
}

/*
 * RMM against the other modes: it is one of the two directed results; where
 * it differs from RNE the exact value was a tie, so RNE took the even
 * neighbour and RMM the one of larger magnitude. Flags match RNE's except
 * UF, whose after-rounding tininess can differ at a tie.
 */
static void check_rmm(int fmt, enum op op, const uint64_t *o)
{
	uint32_t f_rmm = 0, f_rne = 0, f_dn = 0, f_up = 0;
	uint64_t rmm = my_op(fmt, op, o, FPU_RMM, &f_rmm);
	uint64_t rne = my_op(fmt, op, o, FPU_RNE, &f_rne);
	uint64_t dn = my_op(fmt, op, o, FPU_RDN, &f_dn);
	uint64_t up = my_op(fmt, op, o, FPU_RUP, &f_up);
	int ok = (rmm == dn || rmm == up) && (f_rmm & ~FPU_UF) == (f_rne & ~FPU_UF);

	/* The result widens on the result side for cvt.ff. */
	int res_fmt = op == OP_CVT_FF ? !fmt : fmt;

	if (ok && rmm != rne)
		ok = (rne & 1) == 0 && magnitude(res_fmt, rmm) > magnitude(res_fmt, rne);
	n_checks++;
	if (!ok)
		fail(op_names[op], fmt, FPU_RMM, o, op_arity(op), rmm, f_rmm, rne, f_rne);
}

static void random_tests(int fmt, enum op op, int count)
{
	for (int i = 0; i < count; i++) {
		uint64_t o[3];
		int rm = i & 3;
		uint32_t mf = 0, hf = 0;
		uint64_t mine, host;

		if (op >= OP_FROM_I32 && op <= OP_FROM_U64) {
			o[0] = gen_int();
		} else if (op == OP_CVT_FF && fmt == FMT64 && (rnd() & 1)) {
			/* Around binary32's range: subnormal, normal and overflowing results. */
			uint64_t e = 1023 - 155 + rnd() % 290;

			o[0] = (gen_float(fmt) & 0x800fffffffffffffull) | (e << 52);
		} else {
			o[0] = gen_float(fmt);
		}
		o[1] = (rnd() & 3) == 0 ? gen_near(fmt, o[0]) : gen_float(fmt);
		o[2] = (rnd() & 3) == 0 ? gen_near(fmt, o[0]) : gen_float(fmt);
		if (op == OP_SQRT && (rnd() & 3) == 0) {
			/* Exact squares and their neighbours: roots that are exact or nearly so. */
			const int fb = fmt == FMT32 ? 23 : 52;
			uint64_t sq[3], r = rnd();
			uint32_t f = 0;

			sq[0] = sq[1] = gen_float(fmt) & ~((1ull << (fb / 2 + 1)) - 1);
			o[0] = my_op(fmt, OP_MUL, sq, FPU_RNE, &f) + (r & 1 ? (r >> 1) % 3 - 1 : 0);
		}
		if (op >= OP_FMADD && op <= OP_FNMADD && (rnd() & 1)) {
			/* Steer c towards cancellation with the product. */
			uint32_t f = 0;
			uint64_t p = my_op(fmt, OP_MUL, o, FPU_RTZ, &f);

			o[2] = gen_near(fmt, p);
		}

		fesetround(host_modes[rm]);
		host = fmt == FMT32 ? host_op32(op, o, &hf) : host_op64(op, o, &hf);
		fesetround(FE_TONEAREST);
		mine = my_op(fmt, op, o, rm, &mf);
		if (op >= OP_FMADD && op <= OP_FNMADD) {
			/* IEEE 754 leaves NV for 0*inf+qNaN to the implementation; RISC-V raises it. */
			const int fb = fmt == FMT32 ? 23 : 52;
			uint64_t inf = fmt == FMT32 ? 0x7f800000ull : 0x7ff0000000000000ull;
			uint64_t ma = magnitude(fmt, o[0]), mb = magnitude(fmt, o[1]);
			uint64_t mc = magnitude(fmt, o[2]);

			if (((ma == inf && mb == 0) || (ma == 0 && mb == inf)) && mc > inf &&
			    (mc >> (fb - 1) & 1))
				hf |= FPU_NV;
		}
		expect(op_names[op], fmt, rm, o, op_arity(op), mine, mf, host, hf);
		if (op <= OP_FROM_U64 && (i & 3) == 0)
			check_rmm(fmt, op, o);
	}
}

struct vec {
	const char *what;
	int fmt;
	enum op op;
	int rm;
	uint64_t a, b, c;
	uint64_t want;
	uint32_t want_flags;
};

#define QN32 0x7fc00000ull
#define QN64 0x7ff8000000000000ull
#define SN32 0x7f800001ull
#define SN64 0x7ff0000000000001ull
#define INF32 0x7f800000ull
#define INF64 0x7ff0000000000000ull
#define NX FPU_NX
#define UF FPU_UF
#define OF FPU_OF
#define DZ FPU_DZ
#define NV FPU_NV

static const struct vec vectors[] = {
	/* RMM ties go away from zero; RNE to even. */
	{ "rmm add 1+2^-24", FMT32, OP_ADD, FPU_RMM, 0x3f800000, 0x33800000, 0, 0x3f800001, NX },
	{ "rne add 1+2^-24", FMT32, OP_ADD, FPU_RNE, 0x3f800000, 0x33800000, 0, 0x3f800000, NX },
	{ "rmm add -1-2^-24", FMT32, OP_ADD, FPU_RMM, 0xbf800000, 0xb3800000, 0, 0xbf800001, NX },
	{ "rmm add odd tie", FMT32, OP_ADD, FPU_RMM, 0x3f800001, 0x33800000, 0, 0x3f800002, NX },
	{ "rmm add 1+2^-53", FMT64, OP_ADD, FPU_RMM, 0x3ff0000000000000, 0x3ca0000000000000, 0,
	  0x3ff0000000000001, NX },
	{ "rmm mul tie", FMT64, OP_MUL, FPU_RMM, 0x3ff0000000000003, 0x3ff8000000000000, 0,
	  0x3ff8000000000005, NX },
	{ "rne mul tie", FMT64, OP_MUL, FPU_RNE, 0x3ff0000000000003, 0x3ff8000000000000, 0,
	  0x3ff8000000000004, NX },
	{ "rmm f64->f32 tie", FMT64, OP_CVT_FF, FPU_RMM, 0x3ff0000010000000, 0, 0, 0x3f800001, NX },
	{ "rne f64->f32 tie", FMT64, OP_CVT_FF, FPU_RNE, 0x3ff0000010000000, 0, 0, 0x3f800000, NX },
	{ "rmm i64->f32 tie", FMT32, OP_FROM_I64, FPU_RMM, 16777217, 0, 0, 0x4b800001, NX },
	{ "rne i64->f32 tie", FMT32, OP_FROM_I64, FPU_RNE, 16777217, 0, 0, 0x4b800000, NX },
	{ "rmm i32->f32 -tie", FMT32, OP_FROM_I32, FPU_RMM, (uint64_t)-16777217, 0, 0, 0xcb800001, NX },
	{ "rmm subnormal tie", FMT32, OP_MUL, FPU_RMM, 0x00000001, 0x3f000000, 0, 0x00000001, UF | NX },
	{ "rne subnormal tie", FMT32, OP_MUL, FPU_RNE, 0x00000001, 0x3f000000, 0, 0x00000000, UF | NX },
	{ "rmm overflow", FMT32, OP_MUL, FPU_RMM, 0x7f7fffff, 0x40000000, 0, INF32, OF | NX },
	{ "rtz overflow", FMT32, OP_MUL, FPU_RTZ, 0x7f7fffff, 0x40000000, 0, 0x7f7fffff, OF | NX },
	{ "rdn -overflow", FMT64, OP_MUL, FPU_RDN, 0xffefffffffffffff, 0x4000000000000000, 0,
	  0xfff0000000000000, OF | NX },
	{ "rup -overflow", FMT64, OP_MUL, FPU_RUP, 0xffefffffffffffff, 0x4000000000000000, 0,
	  0xffefffffffffffff, OF | NX },
	{ "rmm sqrt", FMT64, OP_SQRT, FPU_RMM, 0x4000000000000000, 0, 0, 0x3ff6a09e667f3bcd, NX },
	{ "rmm to.i32 2.5", FMT64, OP_TO_I32, FPU_RMM, 0x4004000000000000, 0, 0, 3, NX },
	{ "rne to.i32 2.5", FMT64, OP_TO_I32, FPU_RNE, 0x4004000000000000, 0, 0, 2, NX },
	{ "rmm to.i32 -2.5", FMT64, OP_TO_I32, FPU_RMM, 0xc004000000000000, 0, 0, (uint64_t)-3, NX },
	{ "rmm to.i64 0.5", FMT32, OP_TO_I64, FPU_RMM, 0x3f000000, 0, 0, 1, NX },
	{ "rne to.i64 0.5", FMT32, OP_TO_I64, FPU_RNE, 0x3f000000, 0, 0, 0, NX },
	{ "rmm to.i32 -2^31-0.5", FMT64, OP_TO_I32, FPU_RMM, 0xc1e0000000100000, 0, 0,
	  (uint64_t)(int64_t)INT32_MIN, NV },
	{ "rne to.i32 -2^31-0.5", FMT64, OP_TO_I32, FPU_RNE, 0xc1e0000000100000, 0, 0,
	  (uint64_t)(int64_t)INT32_MIN, NX },
	/* Conversion saturation (unpriv. spec 11.7 table). */
	{ "to.i32 NaN", FMT32, OP_TO_I32, FPU_RNE, QN32, 0, 0, INT32_MAX, NV },
	{ "to.i32 sNaN", FMT32, OP_TO_I32, FPU_RNE, SN32, 0, 0, INT32_MAX, NV },
	{ "to.i32 -NaN", FMT32, OP_TO_I32, FPU_RNE, 0xffc00000, 0, 0, INT32_MAX, NV },
	{ "to.i32 +inf", FMT32, OP_TO_I32, FPU_RNE, INF32, 0, 0, INT32_MAX, NV },
	{ "to.i32 -inf", FMT32, OP_TO_I32, FPU_RNE, 0xff800000, 0, 0, (uint64_t)(int64_t)INT32_MIN, NV },
	{ "to.i32 3e9", FMT32, OP_TO_I32, FPU_RNE, 0x4f32d05e, 0, 0, INT32_MAX, NV },
	{ "to.i32 -3e9", FMT32, OP_TO_I32, FPU_RNE, 0xcf32d05e, 0, 0, (uint64_t)(int64_t)INT32_MIN, NV },
	{ "to.i32 -2^31", FMT32, OP_TO_I32, FPU_RNE, 0xcf000000, 0, 0, (uint64_t)(int64_t)INT32_MIN, 0 },
	{ "to.u32 NaN", FMT32, OP_TO_U32, FPU_RNE, QN32, 0, 0, UINT32_MAX, NV },
	{ "to.u32 -1", FMT32, OP_TO_U32, FPU_RNE, 0xbf800000, 0, 0, 0, NV },
	{ "to.u32 -inf", FMT32, OP_TO_U32, FPU_RNE, 0xff800000, 0, 0, 0, NV },
	{ "to.u32 -0.4", FMT32, OP_TO_U32, FPU_RNE, 0xbecccccd, 0, 0, 0, NX },
	{ "to.u32 -0.5 rne", FMT32, OP_TO_U32, FPU_RNE, 0xbf000000, 0, 0, 0, NX },
	{ "to.u32 -0.5 rmm", FMT32, OP_TO_U32, FPU_RMM, 0xbf000000, 0, 0, 0, NV },
	{ "to.u32 -0.5 rdn", FMT32, OP_TO_U32, FPU_RDN, 0xbf000000, 0, 0, 0, NV },
	{ "to.u32 -0.5 rtz", FMT32, OP_TO_U32, FPU_RTZ, 0xbf000000, 0, 0, 0, NX },
	{ "to.u32 -0", FMT32, OP_TO_U32, FPU_RNE, 0x80000000, 0, 0, 0, 0 },
	{ "to.u32 2^32", FMT64, OP_TO_U32, FPU_RNE, 0x41f0000000000000, 0, 0, UINT32_MAX, NV },
	{ "to.u32 2^32-1", FMT64, OP_TO_U32, FPU_RNE, 0x41efffffffe00000, 0, 0, UINT32_MAX, 0 },
	{ "to.u32 2^32-0.5 rne", FMT64, OP_TO_U32, FPU_RNE, 0x41effffffff00000, 0, 0,
	  UINT32_MAX, NV },
	{ "to.u32 2^32-0.5 rtz", FMT64, OP_TO_U32, FPU_RTZ, 0x41effffffff00000, 0, 0,
	  UINT32_MAX, NX },
	{ "to.u64 2^64", FMT64, OP_TO_U64, FPU_RNE, 0x43f0000000000000, 0, 0, UINT64_MAX, NV },
	{ "to.u64 +inf", FMT64, OP_TO_U64, FPU_RNE, INF64, 0, 0, UINT64_MAX, NV },
	{ "to.u64 NaN", FMT32, OP_TO_U64, FPU_RNE, QN32, 0, 0, UINT64_MAX, NV },
	{ "to.i64 -2^63", FMT64, OP_TO_I64, FPU_RNE, 0xc3e0000000000000, 0, 0, (uint64_t)INT64_MIN, 0 },
	{ "to.i64 -2^63-2048", FMT64, OP_TO_I64, FPU_RNE, 0xc3e0000000000001, 0, 0,
	  (uint64_t)INT64_MIN, NV },
	{ "to.i64 2^63", FMT64, OP_TO_I64, FPU_RNE, 0x43e0000000000000, 0, 0, (uint64_t)INT64_MAX, NV },
	{ "to.i64 NaN", FMT64, OP_TO_I64, FPU_RNE, QN64, 0, 0, (uint64_t)INT64_MAX, NV },
	{ "to.i64 tiny rup", FMT64, OP_TO_I64, FPU_RUP, 0x0000000000000001, 0, 0, 1, NX },
	{ "to.i64 -tiny rdn", FMT64, OP_TO_I64, FPU_RDN, 0x8000000000000001, 0, 0, (uint64_t)-1, NX },
	/* fma: inf*0 is invalid whatever c is; signs of the four variants. */
	{ "fma inf*0+qNaN", FMT64, OP_FMADD, FPU_RNE, INF64, 0, QN64, QN64, NV },
	{ "fma 0*inf+qNaN", FMT32, OP_FMADD, FPU_RNE, 0, INF32, 0x7fc12345, QN32, NV },
	{ "fma 0*inf+1", FMT64, OP_FMADD, FPU_RNE, 0, INF64, 0x3ff0000000000000, QN64, NV },
	{ "fma inf*0+sNaN", FMT32, OP_FNMADD, FPU_RNE, INF32, 0x80000000, SN32, QN32, NV },
	{ "fma inf*1-inf", FMT64, OP_FMADD, FPU_RNE, INF64, 0x3ff0000000000000, 0xfff0000000000000,
	  QN64, NV },
	{ "fma qNaN*1+1", FMT64, OP_FMADD, FPU_RNE, 0x7ff8000000000123, 0x3ff0000000000000,
	  0x3ff0000000000000, QN64, 0 },
	{ "fnmadd 1,1,1", FMT32, OP_FNMADD, FPU_RNE, 0x3f800000, 0x3f800000, 0x3f800000, 0xc0000000, 0 },
	{ "fnmsub 1,2,3", FMT32, OP_FNMSUB, FPU_RNE, 0x3f800000, 0x40000000, 0x40400000, 0x3f800000, 0 },
	{ "fmsub 1,1,1", FMT64, OP_FMSUB, FPU_RNE, 0x3ff0000000000000, 0x3ff0000000000000,
	  0x3ff0000000000000, 0, 0 },
	{ "fmsub 1,1,1 rdn", FMT64, OP_FMSUB, FPU_RDN, 0x3ff0000000000000, 0x3ff0000000000000,
	  0x3ff0000000000000, 1ull << 63, 0 },
	{ "fma 0*-1+0 rdn", FMT32, OP_FMADD, FPU_RDN, 0, 0xbf800000, 0, 0x80000000, 0 },
	{ "fma rmm tie", FMT64, OP_FMADD, FPU_RMM, 0x3ff0000000000000, 0x3ff0000000000000,
	  0x3ca0000000000000, 0x3ff0000000000001, NX },
	/* sqrt */
	{ "sqrt -0", FMT64, OP_SQRT, FPU_RNE, 1ull << 63, 0, 0, 1ull << 63, 0 },
	{ "sqrt -1", FMT32, OP_SQRT, FPU_RNE, 0xbf800000, 0, 0, QN32, NV },
	{ "sqrt -inf", FMT64, OP_SQRT, FPU_RNE, 0xfff0000000000000, 0, 0, QN64, NV },
	{ "sqrt -subnormal", FMT64, OP_SQRT, FPU_RNE, 0x8000000000000001, 0, 0, QN64, NV },
	{ "sqrt qNaN", FMT32, OP_SQRT, FPU_RNE, 0xffc00001, 0, 0, QN32, 0 },
	{ "sqrt sNaN", FMT64, OP_SQRT, FPU_RNE, SN64, 0, 0, QN64, NV },
	{ "sqrt 4", FMT32, OP_SQRT, FPU_RMM, 0x40800000, 0, 0, 0x40000000, 0 },
	{ "sqrt min subnormal", FMT64, OP_SQRT, FPU_RNE, 1, 0, 0, 0x1e60000000000000, 0 },
	/* Canonical NaNs and NaN flags. */
	{ "add payload NaN", FMT32, OP_ADD, FPU_RNE, 0xffc00123, 0x3f800000, 0, QN32, 0 },
	{ "add sNaN", FMT64, OP_ADD, FPU_RNE, 0x3ff0000000000000, 0xfff0000000000001, 0, QN64, NV },
	{ "inf-inf", FMT64, OP_SUB, FPU_RNE, INF64, INF64, 0, QN64, NV },
	{ "0/0", FMT32, OP_DIV, FPU_RNE, 0, 0x80000000, 0, QN32, NV },
	{ "1/-0", FMT32, OP_DIV, FPU_RNE, 0x3f800000, 0x80000000, 0, 0xff800000, DZ },
	{ "f32->f64 qNaN", FMT32, OP_CVT_FF, FPU_RNE, 0xffc12345, 0, 0, QN64, 0 },
	{ "f32->f64 sNaN", FMT32, OP_CVT_FF, FPU_RNE, SN32, 0, 0, QN64, NV },
	{ "f64->f32 sNaN", FMT64, OP_CVT_FF, FPU_RNE, SN64, 0, 0, QN32, NV },
	{ "f64->f32 NaN low payload", FMT64, OP_CVT_FF, FPU_RNE, 0x7ff8000000000001, 0, 0, QN32, 0 },
	{ "f32->f64 subnormal", FMT32, OP_CVT_FF, FPU_RNE, 0x00000001, 0, 0, 0x36a0000000000000, 0 },
	{ "f64->f32 underflow", FMT64, OP_CVT_FF, FPU_RUP, 0x0000000000000001, 0, 0, 1, UF | NX },
	/* Comparisons: eq is quiet, lt/le signal on any NaN. */
	{ "eq qNaN", FMT32, OP_EQ, FPU_RNE, QN32, 0x3f800000, 0, 0, 0 },
	{ "eq sNaN", FMT32, OP_EQ, FPU_RNE, 0x3f800000, SN32, 0, 0, NV },
	{ "eq -0 +0", FMT64, OP_EQ, FPU_RNE, 1ull << 63, 0, 0, 1, 0 },
	{ "lt qNaN", FMT64, OP_LT, FPU_RNE, QN64, 0x3ff0000000000000, 0, 0, NV },
	{ "le qNaN", FMT32, OP_LE, FPU_RNE, 0x3f800000, QN32, 0, 0, NV },
	{ "lt -0 +0", FMT32, OP_LT, FPU_RNE, 0x80000000, 0, 0, 0, 0 },
	{ "le -0 +0", FMT64, OP_LE, FPU_RNE, 1ull << 63, 0, 0, 1, 0 },
	{ "lt -2 -1", FMT32, OP_LT, FPU_RNE, 0xc0000000, 0xbf800000, 0, 1, 0 },
	{ "lt -1 -2", FMT64, OP_LT, FPU_RNE, 0xbff0000000000000, 0xc000000000000000, 0, 0, 0 },
};

struct mm_vec {
	int fmt;
	int is_max;
	uint64_t a, b, want;
	uint32_t want_flags;
};

/* minimumNumber/maximumNumber (unpriv. spec 11.6, version 2.2 semantics). */
static const struct mm_vec mm_vectors[] = {
	{ FMT32, 0, 0x80000000, 0, 0x80000000, 0 },
	{ FMT32, 0, 0, 0x80000000, 0x80000000, 0 },
	{ FMT32, 1, 0x80000000, 0, 0, 0 },
	{ FMT32, 1, 0, 0x80000000, 0, 0 },
	{ FMT64, 0, 1ull << 63, 0, 1ull << 63, 0 },
	{ FMT64, 1, 0, 1ull << 63, 0, 0 },
	{ FMT32, 0, QN32, 0x3f800000, 0x3f800000, 0 },
	{ FMT32, 1, 0x3f800000, 0xffc00001, 0x3f800000, 0 },
	{ FMT32, 0, SN32, 0x3f800000, 0x3f800000, NV },
	{ FMT64, 1, 0xbff0000000000000, SN64, 0xbff0000000000000, NV },
	{ FMT32, 0, 0x7fc00123, 0xffc00001, QN32, 0 },
	{ FMT64, 1, SN64, QN64, QN64, NV },
	{ FMT32, 0, 0x3f800000, 0x40000000, 0x3f800000, 0 },
	{ FMT32, 1, 0x3f800000, 0x40000000, 0x40000000, 0 },
	{ FMT64, 0, 0xbff0000000000000, 0xc000000000000000, 0xc000000000000000, 0 },
	{ FMT64, 1, 0xbff0000000000000, 0xc000000000000000, 0xbff0000000000000, 0 },
	{ FMT64, 0, 0xfff0000000000000, 0x0000000000000001, 0xfff0000000000000, 0 },
	{ FMT64, 1, INF64, 0x7fefffffffffffff, INF64, 0 },
	{ FMT32, 1, 0x80000001, 0x00000001, 0x00000001, 0 },
};

static void vector_tests(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vec *v = &vectors[i];
		uint64_t o[3] = { v->a, v->b, v->c };
		uint32_t fl = 0;
		uint64_t got = my_op(v->fmt, v->op, o, v->rm, &fl);

		if (v->op == OP_TO_U32)
			got = (uint32_t)got;
		expect(v->what, v->fmt, v->rm, o, op_arity(v->op), got, fl, v->want, v->want_flags);
	}
	for (size_t i = 0; i < sizeof(mm_vectors) / sizeof(mm_vectors[0]); i++) {
		const struct mm_vec *v = &mm_vectors[i];
		uint64_t o[2] = { v->a, v->b };
		uint32_t fl = 0;
		uint64_t got;

		if (v->fmt == FMT32)
			got = v->is_max ? fpu_f32_max((uint32_t)v->a, (uint32_t)v->b, &fl) :
					  fpu_f32_min((uint32_t)v->a, (uint32_t)v->b, &fl);
		else
			got = v->is_max ? fpu_f64_max(v->a, v->b, &fl) : fpu_f64_min(v->a, v->b, &fl);
		expect(v->is_max ? "max" : "min", v->fmt, FPU_RNE, o, 2, got, fl, v->want, v->want_flags);
	}
}

/* fclass bit per class: -inf -normal -subnormal -0 +0 +subnormal +normal +inf sNaN qNaN. */
static void classify_tests(void)
{
	static const uint32_t in32[10] = { 0xff800000, 0xbf800000, 0x807fffff, 0x80000000, 0,
					   0x00000001, 0x7f7fffff, 0x7f800000, 0xff800001, 0x7fc00000 };
	static const uint64_t in64[10] = { 0xfff0000000000000, 0x8010000000000000,
					   0x800fffffffffffff, 1ull << 63, 0, 0x0000000000000001,
					   0x3ff0000000000000, 0x7ff0000000000000,
					   0x7ff4000000000000, 0xfff8000000000001 };

	for (int i = 0; i < 10; i++) {
		uint64_t o32 = in32[i], o64 = in64[i];

		expect("classify", FMT32, FPU_RNE, &o32, 1, fpu_f32_classify(in32[i]), 0, 1u << i, 0);
		expect("classify", FMT64, FPU_RNE, &o64, 1, fpu_f64_classify(in64[i]), 0, 1u << i, 0);
	}
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 150000;

	vector_tests();
	classify_tests();
	for (int fmt = FMT32; fmt <= FMT64; fmt++)
		for (int op = 0; op < OP_COUNT; op++)
			random_tests(fmt, (enum op)op, count);
	printf("test_fpu: %lu checks, %lu failures\n", n_checks, n_failures);
	if (n_failures) {
		printf("FAIL: %lu mismatches against host FPU or vectors (first ones listed above)\n",
		       n_failures);
		return 1;
	}
	return 0;
}
