/* SPDX-License-Identifier: MIT */
/* fpu_internal: format-generic unpack, normalise and round-and-pack shared by fpu.c and fpu_cvt.c. */
#ifndef HV_FPU_INTERNAL_H
#define HV_FPU_INTERNAL_H

#include "hv/cpu/softfp/fpu.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Every helper takes the format as its fraction width fb: 23 for binary32,
 * 52 for binary64. The helpers are forced inline so that each public entry
 * point is compiled for one constant format. Values travel as uint64_t bits.
 */
#define FPU_INLINE static inline __attribute__((always_inline))
#define FPU_FB32 23
#define FPU_FB64 52

typedef unsigned __int128 fpu_u128;

FPU_INLINE int fpu_ebits(int fb) { return fb == FPU_FB32 ? 8 : 11; }
FPU_INLINE int32_t fpu_bias(int fb) { return (1 << (fpu_ebits(fb) - 1)) - 1; }
FPU_INLINE int32_t fpu_exp_ones(int fb) { return (1 << fpu_ebits(fb)) - 1; }
FPU_INLINE uint64_t fpu_sign_bit(int fb) { return 1ull << (fb + fpu_ebits(fb)); }
FPU_INLINE uint64_t fpu_frac_mask(int fb) { return (1ull << fb) - 1; }
FPU_INLINE uint64_t fpu_inf(int fb) { return (uint64_t)fpu_exp_ones(fb) << fb; }
FPU_INLINE uint64_t fpu_canon_nan(int fb) { return fpu_inf(fb) | (1ull << (fb - 1)); }

FPU_INLINE bool fpu_is_nan(int fb, uint64_t x)
{
	return (x & ~fpu_sign_bit(fb)) > fpu_inf(fb);
}

FPU_INLINE bool fpu_is_snan(int fb, uint64_t x)
{
	return fpu_is_nan(fb, x) && !(x & (1ull << (fb - 1)));
}

/* Canonical NaN for an operation with a NaN operand; NV if any operand signals. */
FPU_INLINE uint64_t fpu_nan_result(int fb, uint64_t a, uint64_t b, uint32_t *flags)
{
	if (fpu_is_snan(fb, a) || fpu_is_snan(fb, b))
		*flags |= FPU_NV;
	return fpu_canon_nan(fb);
}

FPU_INLINE uint64_t fpu_shr_jam64(uint64_t x, int32_t n)
{
	if (n <= 0)
		return x;
	if (n >= 63)
		return x != 0;
	return (x >> n) | ((x << (64 - n)) != 0);
}

FPU_INLINE fpu_u128 fpu_shr_jam128(fpu_u128 x, int32_t n)
{
	if (n <= 0)
		return x;
	if (n >= 127)
		return x != 0;
	return (x >> n) | ((x << (128 - n)) != 0);
}

/*
 * Finite non-zero x to a significand with its leading one at bit fb and a
 * biased exponent (<= 0 for subnormal inputs): x = sig * 2^(exp - bias - fb).
 */
FPU_INLINE void fpu_unpack(int fb, uint64_t x, int32_t *exp, uint64_t *sig)
{
	int32_t e = (int32_t)((x >> fb) & (uint64_t)fpu_exp_ones(fb));
	uint64_t f = x & fpu_frac_mask(fb);

	if (e == 0) {
		int s = __builtin_clzll(f) - (63 - fb);

		*sig = f << s;
		*exp = 1 - s;
	} else {
		*sig = f | (1ull << fb);
		*exp = e;
	}
}

/*
 * Round sig * 2^(exp - bias - 62) to the format and pack it; sig has bit 62
 * set and carries sticky information in its low bits. Tininess is detected
 * after rounding, as RISC-V requires (unpriv. spec 11.2 via IEEE 754 7.5).
 */
FPU_INLINE uint64_t fpu_round_pack(int fb, bool sign, int32_t exp, uint64_t sig, int rm,
				   uint32_t *flags)
{
	const int shift = 62 - fb;
	const uint64_t mask = (1ull << shift) - 1;
	const uint64_t half = 1ull << (shift - 1);
	const uint64_t sgn = sign ? fpu_sign_bit(fb) : 0;
	uint64_t inc, rbits, bits;

	switch (rm) {
	case FPU_RTZ:
		inc = 0;
		break;
	case FPU_RDN:
		inc = sign ? mask : 0;
		break;
	case FPU_RUP:
		inc = sign ? 0 : mask;
		break;
	default:
		inc = half;
		break;
	}

	if (__builtin_expect(exp <= 0, 0)) {
		/* Tiny unless rounding to full precision would reach 2^emin. */
		bool tiny = exp < 0 || sig + inc < (1ull << 63);

		sig = fpu_shr_jam64(sig, 1 - exp);
		rbits = sig & mask;
		if (rbits) {
			*flags |= FPU_NX;
			if (tiny)
				*flags |= FPU_UF;
		}
		/* A carry out of the fraction lands in the exponent field: 2^emin. */
		bits = (sig + inc) >> shift;
		if (rm == FPU_RNE && rbits == half)
			bits &= ~1ull;
		return sgn | bits;
	}

	if (exp >= fpu_exp_ones(fb))
		goto overflow;
	rbits = sig & mask;
	bits = ((uint64_t)(exp - 1) << fb) + ((sig + inc) >> shift);
	if (rm == FPU_RNE && rbits == half)
		bits &= ~1ull;
	if (bits >= fpu_inf(fb))
		goto overflow;
	if (rbits)
		*flags |= FPU_NX;
	return sgn | bits;

overflow:
	*flags |= FPU_OF | FPU_NX;
	return sgn | (inc ? fpu_inf(fb) : fpu_inf(fb) - 1);
}

/* As fpu_round_pack for any non-zero sig (leading one anywhere). */
FPU_INLINE uint64_t fpu_norm_round_pack(int fb, bool sign, int32_t exp, uint64_t sig, int rm,
					uint32_t *flags)
{
	int s = __builtin_clzll(sig) - 1;

	if (s < 0)
		return fpu_round_pack(fb, sign, exp + 1, (sig >> 1) | (sig & 1), rm, flags);
	return fpu_round_pack(fb, sign, exp - s, sig << s, rm, flags);
}

#endif
