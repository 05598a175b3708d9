/* SPDX-License-Identifier: MIT */
/* fpu_cvt: RISC-V F/D conversions, comparisons, min/max and classify in integer arithmetic. */
#include "hv/cpu/softfp/fpu.h"
#include "hv/cpu/softfp/fpu_internal.h"

/*
 * Float to integer: round per rm, then saturate out-of-range and NaN inputs
 * with NV only, per the table in unpriv. spec 11.7 (NaN and too large give
 * the maximum, too small the minimum). The result is returned as the
 * two's-complement bits of the ibits-wide integer.
 */
FPU_INLINE uint64_t fpu_to_int(int fb, uint64_t a, int rm, uint32_t *flags, int ibits,
			       bool is_signed)
{
	const uint64_t sbit = fpu_sign_bit(fb), inf = fpu_inf(fb);
	const uint64_t max_pos = is_signed ? (1ull << (ibits - 1)) - 1 :
					     (ibits == 64 ? ~0ull : (1ull << ibits) - 1);
	const uint64_t min_mag = is_signed ? 1ull << (ibits - 1) : 0;
	uint64_t m = a & ~sbit, sig, ipart, frac, mag;
	bool sign = a & sbit, up;
	int32_t e, ue, n;

	if (m > inf)
		goto invalid_pos;
	if (m == 0)
		return 0;
	if (m == inf)
		goto invalid;
	fpu_unpack(fb, a, &e, &sig);
	ue = e - fpu_bias(fb);
	if (ue >= 64)
		goto invalid;
	if (ue >= fb) {
		ipart = sig << (ue - fb);
		frac = 0;
	} else {
		n = fb - ue;
		if (n <= 62) {
			ipart = sig >> n;
			frac = sig << (64 - n);
		} else {
			ipart = 0;
			frac = 1;
		}
	}
	switch (rm) {
	case FPU_RTZ:
		up = false;
		break;
	case FPU_RDN:
		up = sign && frac;
		break;
	case FPU_RUP:
		up = !sign && frac;
		break;
	case FPU_RMM:
		up = frac >= 1ull << 63;
		break;
	default:
		up = frac > 1ull << 63 || (frac == 1ull << 63 && (ipart & 1));
		break;
	}
	mag = ipart + up;
	/* A negative value that rounds to 0 is in range even for unsigned targets. */
	if (sign ? mag > min_mag : mag > max_pos)
		goto invalid;
	if (frac)
		*flags |= FPU_NX;
	return sign ? -mag : mag;

invalid:
	if (sign) {
		*flags |= FPU_NV;
		return -min_mag;
	}
invalid_pos:
	*flags |= FPU_NV;
	return max_pos;
}

FPU_INLINE uint64_t fpu_from_int(int fb, bool sign, uint64_t mag, int rm, uint32_t *flags)
{
	if (mag == 0)
		return 0;
	return fpu_norm_round_pack(fb, sign, fpu_bias(fb) + 62, mag, rm, flags);
}

/* Ordering key for non-NaN values, with -0 below +0 as fmin/fmax need. */
FPU_INLINE uint64_t fpu_order_key(int fb, uint64_t x)
{
	const uint64_t sbit = fpu_sign_bit(fb);

	return (x & sbit) ? ~x & (2 * sbit - 1) : x | sbit;
}

/* minimumNumber / maximumNumber as in unpriv. spec 11.6 (version 2.2 semantics). */
FPU_INLINE uint64_t fpu_minmax(int fb, uint64_t a, uint64_t b, bool want_max, uint32_t *flags)
{
	bool na = fpu_is_nan(fb, a), nb = fpu_is_nan(fb, b);

	if (na || nb) {
		if (fpu_is_snan(fb, a) || fpu_is_snan(fb, b))
			*flags |= FPU_NV;
		if (na && nb)
			return fpu_canon_nan(fb);
		return na ? b : a;
	}
	if ((fpu_order_key(fb, a) < fpu_order_key(fb, b)) != want_max)
		return a;
	return b;
}

FPU_INLINE int fpu_eq(int fb, uint64_t a, uint64_t b, uint32_t *flags)
{
	if (fpu_is_nan(fb, a) || fpu_is_nan(fb, b)) {
		if (fpu_is_snan(fb, a) || fpu_is_snan(fb, b))
			*flags |= FPU_NV;
		return 0;
	}
	return a == b || ((a | b) & ~fpu_sign_bit(fb)) == 0;
}

/* Signaling lt (or le when or_equal): any NaN operand is invalid. */
FPU_INLINE int fpu_lt(int fb, uint64_t a, uint64_t b, bool or_equal, uint32_t *flags)
{
	const uint64_t sbit = fpu_sign_bit(fb);

	if (fpu_is_nan(fb, a) || fpu_is_nan(fb, b)) {
		*flags |= FPU_NV;
		return 0;
	}
	if (((a | b) & ~sbit) == 0)
		return or_equal;
	if ((a ^ b) & sbit)
		return (a & sbit) != 0;
	if (a == b)
		return or_equal;
	return ((a & sbit) != 0) == (a > b);
}

FPU_INLINE uint32_t fpu_classify(int fb, uint64_t a)
{
	const uint64_t sbit = fpu_sign_bit(fb), inf = fpu_inf(fb);
	uint64_t m = a & ~sbit;
	bool neg = a & sbit;

	if (m > inf)
		return fpu_is_snan(fb, a) ? 1u << 8 : 1u << 9;
	if (m == inf)
		return neg ? 1u << 0 : 1u << 7;
	if (m == 0)
		return neg ? 1u << 3 : 1u << 4;
	if (m < (1ull << fb))
		return neg ? 1u << 2 : 1u << 5;
	return neg ? 1u << 1 : 1u << 6;
}

uint32_t fpu_f32_min(uint32_t a, uint32_t b, uint32_t *flags)
{
	return (uint32_t)fpu_minmax(FPU_FB32, a, b, false, flags);
}

uint32_t fpu_f32_max(uint32_t a, uint32_t b, uint32_t *flags)
{
	return (uint32_t)fpu_minmax(FPU_FB32, a, b, true, flags);
}

int fpu_f32_eq(uint32_t a, uint32_t b, uint32_t *flags)
{
	return fpu_eq(FPU_FB32, a, b, flags);
}

int fpu_f32_lt(uint32_t a, uint32_t b, uint32_t *flags)
{
	return fpu_lt(FPU_FB32, a, b, false, flags);
}

int fpu_f32_le(uint32_t a, uint32_t b, uint32_t *flags)
{
	return fpu_lt(FPU_FB32, a, b, true, flags);
}

uint32_t fpu_f32_classify(uint32_t a)
{
	return fpu_classify(FPU_FB32, a);
}

int32_t fpu_f32_to_i32(uint32_t a, int rm, uint32_t *flags)
{
	return (int32_t)fpu_to_int(FPU_FB32, a, rm, flags, 32, true);
}

uint32_t fpu_f32_to_u32(uint32_t a, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_to_int(FPU_FB32, a, rm, flags, 32, false);
}

int64_t fpu_f32_to_i64(uint32_t a, int rm, uint32_t *flags)
{
	return (int64_t)fpu_to_int(FPU_FB32, a, rm, flags, 64, true);
}

uint64_t fpu_f32_to_u64(uint32_t a, int rm, uint32_t *flags)
{
	return fpu_to_int(FPU_FB32, a, rm, flags, 64, false);
}

uint32_t fpu_i32_to_f32(int32_t a, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_from_int(FPU_FB32, a < 0, a < 0 ? -(uint64_t)a : (uint64_t)a, rm,
				      flags);
}

uint32_t fpu_u32_to_f32(uint32_t a, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_from_int(FPU_FB32, false, a, rm, flags);
}

uint32_t fpu_i64_to_f32(int64_t a, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_from_int(FPU_FB32, a < 0, a < 0 ? -(uint64_t)a : (uint64_t)a, rm,
				      flags);
}

uint32_t fpu_u64_to_f32(uint64_t a, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_from_int(FPU_FB32, false, a, rm, flags);
}

uint64_t fpu_f64_min(uint64_t a, uint64_t b, uint32_t *flags)
{
	return fpu_minmax(FPU_FB64, a, b, false, flags);
}

uint64_t fpu_f64_max(uint64_t a, uint64_t b, uint32_t *flags)
{
	return fpu_minmax(FPU_FB64, a, b, true, flags);
}

int fpu_f64_eq(uint64_t a, uint64_t b, uint32_t *flags)
{
	return fpu_eq(FPU_FB64, a, b, flags);
}

int fpu_f64_lt(uint64_t a, uint64_t b, uint32_t *flags)
{
	return fpu_lt(FPU_FB64, a, b, false, flags);
}

int fpu_f64_le(uint64_t a, uint64_t b, uint32_t *flags)
{
	return fpu_lt(FPU_FB64, a, b, true, flags);
}

uint32_t fpu_f64_classify(uint64_t a)
{
	return fpu_classify(FPU_FB64, a);
}

int32_t fpu_f64_to_i32(uint64_t a, int rm, uint32_t *flags)
{
	return (int32_t)fpu_to_int(FPU_FB64, a, rm, flags, 32, true);
}

uint32_t fpu_f64_to_u32(uint64_t a, int rm, uint32_t *flags)
{
	return (uint32_t)fpu_to_int(FPU_FB64, a, rm, flags, 32, false);
}

int64_t fpu_f64_to_i64(uint64_t a, int rm, uint32_t *flags)
{
	return (int64_t)fpu_to_int(FPU_FB64, a, rm, flags, 64, true);
}

uint64_t fpu_f64_to_u64(uint64_t a, int rm, uint32_t *flags)
{
	return fpu_to_int(FPU_FB64, a, rm, flags, 64, false);
}

uint64_t fpu_i32_to_f64(int32_t a, int rm, uint32_t *flags)
{
	return fpu_from_int(FPU_FB64, a < 0, a < 0 ? -(uint64_t)a : (uint64_t)a, rm, flags);
}

uint64_t fpu_u32_to_f64(uint32_t a, int rm, uint32_t *flags)
{
	return fpu_from_int(FPU_FB64, false, a, rm, flags);
}

uint64_t fpu_i64_to_f64(int64_t a, int rm, uint32_t *flags)
{
	return fpu_from_int(FPU_FB64, a < 0, a < 0 ? -(uint64_t)a : (uint64_t)a, rm, flags);
}

uint64_t fpu_u64_to_f64(uint64_t a, int rm, uint32_t *flags)
{
	return fpu_from_int(FPU_FB64, false, a, rm, flags);
}

uint64_t fpu_f32_to_f64(uint32_t a, uint32_t *flags)
{
	uint64_t sgn = (uint64_t)(a >> 31) << 63, sig;
	uint32_t m = a & 0x7fffffffu;
	int32_t e;

	if (m > 0x7f800000u) {
		if (fpu_is_snan(FPU_FB32, a))
			*flags |= FPU_NV;
		return FPU_F64_CANON_NAN;
	}
	if (m == 0x7f800000u)
		return sgn | fpu_inf(FPU_FB64);
	if (m == 0)
		return sgn;
	fpu_unpack(FPU_FB32, a, &e, &sig);
	return sgn | ((uint64_t)(e - fpu_bias(FPU_FB32) + fpu_bias(FPU_FB64)) << 52) |
	       ((sig << (FPU_FB64 - FPU_FB32)) & fpu_frac_mask(FPU_FB64));
}

uint32_t fpu_f64_to_f32(uint64_t a, int rm, uint32_t *flags)
{
	uint32_t sgn = (uint32_t)(a >> 63) << 31;
	uint64_t m = a & ~(1ull << 63), sig;
	int32_t e;

	if (m > fpu_inf(FPU_FB64)) {
		if (fpu_is_snan(FPU_FB64, a))
			*flags |= FPU_NV;
		return FPU_F32_CANON_NAN;
	}
	if (m == fpu_inf(FPU_FB64))
		return sgn | 0x7f800000u;
	if (m == 0)
		return sgn;
	fpu_unpack(FPU_FB64, a, &e, &sig);
	return (uint32_t)fpu_round_pack(FPU_FB32, sgn != 0, e - fpu_bias(FPU_FB64) + fpu_bias(FPU_FB32),
					sig << (62 - FPU_FB64), rm, flags);
}
