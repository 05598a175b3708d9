/* SPDX-License-Identifier: MIT */
/* fpu: correctly rounded add, sub, mul, div, sqrt and fused multiply-add for binary32/binary64 in integer arithmetic. */
#include "hv/cpu/softfp/fpu.h"
#include "hv/cpu/softfp/fpu_internal.h"

/*
 * Semantics follow the RISC-V unprivileged spec 20191213, chapters 11 (F)
 * and 12 (D): IEEE 754-2008 results, a NaN result is always the canonical
 * NaN (11.3), and no host floating point is used, so results do not depend
 * on the host's FP environment.
 */

FPU_INLINE uint64_t fpu_add(int fb, uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
	const uint64_t sbit = fpu_sign_bit(fb), inf = fpu_inf(fb);
	uint64_t ma = a & ~sbit, mb = b & ~sbit, siga, sigb, sig;
	int32_t ea, eb;
	bool sa = a & sbit, sb = b & sbit;

	if (__builtin_expect(ma >= inf || mb >= inf, 0)) {
		if (ma > inf || mb > inf)
			return fpu_nan_result(fb, a, b, flags);
		if (ma == inf && mb == inf && sa != sb) {
			*flags |= FPU_NV;
			return fpu_canon_nan(fb);
		}
		return ma == inf ? a : b;
	}
	if (__builtin_expect(mb == 0, 0)) {
		if (ma == 0 && sa != sb)
			return rm == FPU_RDN ? sbit : 0;
		return a;
	}
	if (__builtin_expect(ma == 0, 0))
		return b;

	if (ma < mb) {
		uint64_t t = a;
		bool ts = sa;

		a = b;
		b = t;
		sa = sb;
		sb = ts;
	}
	fpu_unpack(fb, a, &ea, &siga);
	fpu_unpack(fb, b, &eb, &sigb);
	/* Leading one at bit 61: room for a carry, and >= 9 guard bits. */
	siga <<= 61 - fb;
	sigb = fpu_shr_jam64(sigb << (61 - fb), ea - eb);
	if (sa == sb) {
		sig = siga + sigb;
	} else {
		sig = siga - sigb;
		if (sig == 0)
			return rm == FPU_RDN ? sbit : 0;
	}
	return fpu_norm_round_pack(fb, sa, ea + 1, sig, rm, flags);
}

FPU_INLINE uint64_t fpu_mul(int fb, uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
	const uint64_t sbit = fpu_sign_bit(fb), inf = fpu_inf(fb);
	uint64_t ma = a & ~sbit, mb = b & ~sbit, siga, sigb, sig;
	bool sign = (a ^ b) & sbit;
	int32_t ea, eb;

	if (__builtin_expect(ma >= inf || mb >= inf, 0)) {
		if (ma > inf || mb > inf)
			return fpu_nan_result(fb, a, b, flags);
		if (ma == 0 || mb == 0) {
			*flags |= FPU_NV;
			return fpu_canon_nan(fb);
		}
		return (sign ? sbit : 0) | inf;
	}
	if (__builtin_expect(ma == 0 || mb == 0, 0))
		return sign ? sbit : 0;

	fpu_unpack(fb, a, &ea, &siga);
	fpu_unpack(fb, b, &eb, &sigb);
	if (fb == FPU_FB32) {
		sig = (siga * sigb) << (61 - 2 * FPU_FB32);
	} else {
		fpu_u128 p = (fpu_u128)siga * sigb;
		const int k = 2 * FPU_FB64 - 61;

		sig = (uint64_t)(p >> k) | ((p & (((fpu_u128)1 << k) - 1)) != 0);
	}
	return fpu_norm_round_pack(fb, sign, ea + eb - fpu_bias(fb) + 1, sig, rm, flags);
}

FPU_INLINE uint64_t fpu_div(int fb, uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
	const uint64_t sbit = fpu_sign_bit(fb), inf = fpu_inf(fb);
	uint64_t ma = a & ~sbit, mb = b & ~sbit, siga, sigb, sig;
	uint64_t sgn = (a ^ b) & sbit;
	int32_t ea, eb, exp;

	if (__builtin_expect(ma >= inf || mb >= inf || mb == 0 || ma == 0, 0)) {
		if (ma > inf || mb > inf)
			return fpu_nan_result(fb, a, b, flags);
		if ((ma == inf && mb == inf) || (ma == 0 && mb == 0)) {
			*flags |= FPU_NV;
			return fpu_canon_nan(fb);
		}
		if (ma == inf)
			return sgn | inf;
		if (mb == 0) {
			*flags |= FPU_DZ;
			return sgn | inf;
		}
		return sgn;
	}

	fpu_unpack(fb, a, &ea, &siga);
	fpu_unpack(fb, b, &eb, &sigb);
	exp = ea - eb + fpu_bias(fb);
	if (siga < sigb) {
		siga <<= 1;
		exp--;
	}
	/* siga / sigb is in [1, 2): the quotient's leading one lands at bit 62. */
	if (fb == FPU_FB32) {
		uint64_t n = siga << 39;
		uint64_t q = n / sigb;

		sig = (q << 23) | (n - q * sigb != 0);
	} else {
		fpu_u128 n = (fpu_u128)siga << 62;
		uint64_t q = (uint64_t)(n / sigb);

		sig = q | (n - (fpu_u128)q * sigb != 0);
	}
	return fpu_round_pack(fb, sgn != 0, exp, sig, rm, flags);
}

static uint64_t fpu_isqrt64(uint64_t n, bool *inexact)
{
	uint64_t res = 0, bit = 1ull << 62;

	while (bit > n)
		bit >>= 2;
	while (bit) {
		if (n >= res + bit) {
			n -= res + bit;
			res = (res >> 1) + bit;
		} else {
			res >>= 1;
		}
		bit >>= 2;
	}
	*inexact = n != 0;
	return res;
}

/*
 * floor(sqrt(n)) for n in [2^124, 2^126): a 31-bit root of the top half,
 * rounded up, is within 2^32 above the root; one Newton step from above
 * lands within 2 of it, and Newton from above never undershoots the floor.
 */
static uint64_t fpu_isqrt128(fpu_u128 n, bool *inexact)
{
	bool unused;
	uint64_t x = (fpu_isqrt64((uint64_t)(n >> 64), &unused) + 1) << 32;

	x = (x + (uint64_t)(n / x)) >> 1;
	while ((fpu_u128)x * x > n)
		x--;
	*inexact = (fpu_u128)x * x != n;
	return x;
}

FPU_INLINE uint64_t fpu_sqrt(int fb, uint64_t a, int rm, uint32_t *flags)
{
	const uint64_t sbit = fpu_sign_bit(fb), inf = fpu_inf(fb);
	/* Bit position of the root's leading one: as wide as the integer root allows. */
	const int rb = fb == FPU_FB32 ? 31 : 62;
	uint64_t ma = a & ~sbit, sig, r;
	int32_t e, ue, s;
	bool inexact;

	if (ma > inf)
		return fpu_nan_result(fb, a, a, flags);
	if (ma == 0)
		return a;
	if (a & sbit) {
		*flags |= FPU_NV;
		return fpu_canon_nan(fb);
	}
	if (ma == inf)
		return a;

	fpu_unpack(fb, a, &e, &sig);
	ue = e - fpu_bias(fb);
	/* a = sig * 2^(ue - fb); scale sig so that the exponent left over is even. */
	s = 2 * rb - fb;
	if ((ue - fb - s) & 1)
		s++;
	if (fb == FPU_FB32)
		r = fpu_isqrt64(sig << s, &inexact);
	else
		r = fpu_isqrt128((fpu_u128)sig << s, &inexact);
	r = (r << (62 - rb)) | inexact;
	return fpu_round_pack(fb, false, (ue - fb - s) / 2 + fpu_bias(fb) + rb, r, rm, flags);
}

FPU_INLINE int fpu_clz128(fpu_u128 x)
{
	uint64_t hi = (uint64_t)(x >> 64);

	return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

/*
 * (+-a*b) +- c with one rounding. The exact product (at most 106 bits) and c
 * are aligned in 128 bits with their leading ones at bit 125 or 126.
 */
FPU_INLINE uint64_t fpu_fma(int fb, uint64_t a, uint64_t b, uint64_t c, enum fpu_fma_op op,
			    int rm, uint32_t *flags)
{
	const uint64_t sbit = fpu_sign_bit(fb), inf = fpu_inf(fb);
	const int32_t bias = fpu_bias(fb);
	uint64_t ma = a & ~sbit, mb = b & ~sbit, mc = c & ~sbit, siga, sigb, sigc;
	bool sp = ((a ^ b) & sbit) != 0, sc = (c & sbit) != 0, sign;
	int32_t ea, eb, ec, xp, xc, x;
	fpu_u128 p, cc, sum;
	int n;

	if (op == FPU_FNMSUB || op == FPU_FNMADD)
		sp = !sp;
	if (op == FPU_FMSUB || op == FPU_FNMADD)
		sc = !sc;

	if (__builtin_expect(ma >= inf || mb >= inf || mc >= inf, 0)) {
		/* 0 * inf is invalid even when c is a quiet NaN (spec 11.6). */
		bool zero_inf = (ma == inf && mb == 0) || (ma == 0 && mb == inf);

		if (ma > inf || mb > inf || mc > inf) {
			if (zero_inf || fpu_is_snan(fb, a) || fpu_is_snan(fb, b) || fpu_is_snan(fb, c))
				*flags |= FPU_NV;
			return fpu_canon_nan(fb);
		}
		if (zero_inf || ((ma == inf || mb == inf) && mc == inf && sp != sc)) {
			*flags |= FPU_NV;
			return fpu_canon_nan(fb);
		}
		if (ma == inf || mb == inf)
			return (sp ? sbit : 0) | inf;
		return (sc ? sbit : 0) | inf;
	}
	if (ma == 0 || mb == 0) {
		if (mc == 0 && sp != sc)
			return rm == FPU_RDN ? sbit : 0;
		return (sc ? sbit : 0) | mc;
	}

	fpu_unpack(fb, a, &ea, &siga);
	fpu_unpack(fb, b, &eb, &sigb);
	p = ((fpu_u128)siga * sigb) << (125 - 2 * fb);
	xp = ea + eb - 2 * bias;
	if (mc == 0) {
		sum = p;
		x = xp;
		sign = sp;
	} else {
		fpu_unpack(fb, c, &ec, &sigc);
		cc = (fpu_u128)sigc << (125 - fb);
		xc = ec - bias;
		if (xp >= xc) {
			cc = fpu_shr_jam128(cc, xp - xc);
			x = xp;
		} else {
			p = fpu_shr_jam128(p, xc - xp);
			x = xc;
		}
		if (sp == sc) {
			sum = p + cc;
			sign = sp;
		} else if (p >= cc) {
			sum = p - cc;
			sign = sp;
		} else {
			sum = cc - p;
			sign = sc;
		}
		if (sum == 0)
			return rm == FPU_RDN ? sbit : 0;
	}
	n = fpu_clz128(sum);
	sum <<= n;
	return fpu_round_pack(fb, sign, x + bias + 2 - n,
			      (uint64_t)(sum >> 65) | ((sum << 63) != 0), rm, flags);
}

uint32_t fpu_f32_add(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_add(FPU_FB32, a, b, rm, flags);
}

uint32_t fpu_f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_add(FPU_FB32, a, b ^ 0x80000000u, rm, flags);
}

uint32_t fpu_f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_mul(FPU_FB32, a, b, rm, flags);
}

uint32_t fpu_f32_div(uint32_t a, uint32_t b, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_div(FPU_FB32, a, b, rm, flags);
}

uint32_t fpu_f32_sqrt(uint32_t a, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_sqrt(FPU_FB32, a, rm, flags);
}

uint32_t fpu_f32_fma(uint32_t a, uint32_t b, uint32_t c, enum fpu_fma_op op, int rm,
		     uint32_t *flags)
{
	return (uint32_t)fpu_fma(FPU_FB32, a, b, c, op, rm, flags);
}

uint64_t fpu_f64_add(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
	return fpu_add(FPU_FB64, a, b, rm, flags);
}

uint64_t fpu_f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
	return fpu_add(FPU_FB64, a, b ^ (1ull << 63), rm, flags);
}

uint64_t fpu_f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
	return fpu_mul(FPU_FB64, a, b, rm, flags);
}

uint64_t fpu_f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags)
{
	return fpu_div(FPU_FB64, a, b, rm, flags);
}

uint64_t fpu_f64_sqrt(uint64_t a, int rm, uint32_t *flags)
{
	return fpu_sqrt(FPU_FB64, a, rm, flags);
}

uint64_t fpu_f64_fma(uint64_t a, uint64_t b, uint64_t c, enum fpu_fma_op op, int rm,
		     uint32_t *flags)
{
	return fpu_fma(FPU_FB64, a, b, c, op, rm, flags);
}
