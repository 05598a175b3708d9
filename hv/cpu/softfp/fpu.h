/* SPDX-License-Identifier: MIT */
/* fpu: IEEE 754 binary32/binary64 arithmetic with RISC-V's rounding, flags and NaN rules, in software. */
#ifndef HV_FPU_H
#define HV_FPU_H

#include <stdint.h>

/* Rounding modes as encoded in frm / the rm field (RISC-V unpriv. spec, F extension). */
enum { FPU_RNE = 0, FPU_RTZ = 1, FPU_RDN = 2, FPU_RUP = 3, FPU_RMM = 4 };
/* fflags bits. */
enum { FPU_NX = 1, FPU_UF = 2, FPU_OF = 4, FPU_DZ = 8, FPU_NV = 16 };

#define FPU_F32_CANON_NAN 0x7fc00000u
#define FPU_F64_CANON_NAN 0x7ff8000000000000ull

/* Fused multiply-add variants, as the opcodes name them. */
enum fpu_fma_op { FPU_FMADD = 0, FPU_FMSUB = 1, FPU_FNMSUB = 2, FPU_FNMADD = 3 };

/*
 * Every function takes operands as raw bits, a resolved rounding mode
 * (FPU_RNE..FPU_RMM; never 7/DYN) and ORs exception flags into *flags.
 * Results that are NaN are always the canonical NaN.
 */
uint32_t fpu_f32_add(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t fpu_f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t fpu_f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t fpu_f32_div(uint32_t a, uint32_t b, int rm, uint32_t *flags);
uint32_t fpu_f32_sqrt(uint32_t a, int rm, uint32_t *flags);
uint32_t fpu_f32_fma(uint32_t a, uint32_t b, uint32_t c, enum fpu_fma_op op, int rm, uint32_t *flags);
uint32_t fpu_f32_min(uint32_t a, uint32_t b, uint32_t *flags);
uint32_t fpu_f32_max(uint32_t a, uint32_t b, uint32_t *flags);
int fpu_f32_eq(uint32_t a, uint32_t b, uint32_t *flags);	/* quiet */
int fpu_f32_lt(uint32_t a, uint32_t b, uint32_t *flags);	/* signaling */
int fpu_f32_le(uint32_t a, uint32_t b, uint32_t *flags);	/* signaling */
uint32_t fpu_f32_classify(uint32_t a);
int32_t fpu_f32_to_i32(uint32_t a, int rm, uint32_t *flags);
uint32_t fpu_f32_to_u32(uint32_t a, int rm, uint32_t *flags);
int64_t fpu_f32_to_i64(uint32_t a, int rm, uint32_t *flags);
uint64_t fpu_f32_to_u64(uint32_t a, int rm, uint32_t *flags);
uint32_t fpu_i32_to_f32(int32_t a, int rm, uint32_t *flags);
uint32_t fpu_u32_to_f32(uint32_t a, int rm, uint32_t *flags);
uint32_t fpu_i64_to_f32(int64_t a, int rm, uint32_t *flags);
uint32_t fpu_u64_to_f32(uint64_t a, int rm, uint32_t *flags);

uint64_t fpu_f64_add(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t fpu_f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t fpu_f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t fpu_f64_div(uint64_t a, uint64_t b, int rm, uint32_t *flags);
uint64_t fpu_f64_sqrt(uint64_t a, int rm, uint32_t *flags);
uint64_t fpu_f64_fma(uint64_t a, uint64_t b, uint64_t c, enum fpu_fma_op op, int rm, uint32_t *flags);
uint64_t fpu_f64_min(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t fpu_f64_max(uint64_t a, uint64_t b, uint32_t *flags);
int fpu_f64_eq(uint64_t a, uint64_t b, uint32_t *flags);
int fpu_f64_lt(uint64_t a, uint64_t b, uint32_t *flags);
int fpu_f64_le(uint64_t a, uint64_t b, uint32_t *flags);
uint32_t fpu_f64_classify(uint64_t a);
int32_t fpu_f64_to_i32(uint64_t a, int rm, uint32_t *flags);
uint32_t fpu_f64_to_u32(uint64_t a, int rm, uint32_t *flags);
int64_t fpu_f64_to_i64(uint64_t a, int rm, uint32_t *flags);
uint64_t fpu_f64_to_u64(uint64_t a, int rm, uint32_t *flags);
uint64_t fpu_i32_to_f64(int32_t a, int rm, uint32_t *flags);
uint64_t fpu_u32_to_f64(uint32_t a, int rm, uint32_t *flags);
uint64_t fpu_i64_to_f64(int64_t a, int rm, uint32_t *flags);
uint64_t fpu_u64_to_f64(uint64_t a, int rm, uint32_t *flags);

uint64_t fpu_f32_to_f64(uint32_t a, uint32_t *flags);
uint32_t fpu_f64_to_f32(uint64_t a, int rm, uint32_t *flags);

#endif
