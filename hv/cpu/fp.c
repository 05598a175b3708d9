/* SPDX-License-Identifier: MIT */
/* fp: decode of the F and D computational instructions (unprivileged spec ch. 11-12), arithmetic in fpu.c. */
#include "hv/cpu/cpu_internal.h"
#include "hv/cpu/softfp/fpu.h"

#define F32_BOX 0xffffffff00000000ull
#define F32_SIGN 0x80000000u
#define F64_SIGN 0x8000000000000000ull

/* A single held in a wider register is valid only if NaN-boxed (11.2). */
static uint32_t unbox(uint64_t v)
{
	return (v >> 32) == 0xffffffffu ? (uint32_t)v : FPU_F32_CANON_NAN;
}

static uint64_t box(uint32_t v)
{
	return F32_BOX | v;
}

static uint32_t sgnj32(uint32_t a, uint32_t b, unsigned f3)
{
	uint32_t s = f3 == 0 ? b : f3 == 1 ? ~b : a ^ b;
	return (a & ~F32_SIGN) | (s & F32_SIGN);
}

static uint64_t sgnj64(uint64_t a, uint64_t b, unsigned f3)
{
	uint64_t s = f3 == 0 ? b : f3 == 1 ? ~b : a ^ b;
	return (a & ~F64_SIGN) | (s & F64_SIGN);
}

static uint64_t sx32(uint32_t v)
{
	return (uint64_t)(int64_t)(int32_t)v;
}

static int exec_single(struct rv_hart *h, uint32_t insn, int rm, uint32_t *fl)
{
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	unsigned f3 = (insn >> 12) & 7, f5 = insn >> 27;
	uint32_t a = unbox(h->f[rs1]), b = unbox(h->f[rs2]);
	bool rm_ok = rm <= FPU_RMM;

	switch (f5) {
	case 0x00: if (!rm_ok) return -1; h->f[rd] = box(fpu_f32_add(a, b, rm, fl)); break;
	case 0x01: if (!rm_ok) return -1; h->f[rd] = box(fpu_f32_sub(a, b, rm, fl)); break;
	case 0x02: if (!rm_ok) return -1; h->f[rd] = box(fpu_f32_mul(a, b, rm, fl)); break;
	case 0x03: if (!rm_ok) return -1; h->f[rd] = box(fpu_f32_div(a, b, rm, fl)); break;
	case 0x0b:
		if (!rm_ok || rs2)
			return -1;
		h->f[rd] = box(fpu_f32_sqrt(a, rm, fl));
		break;
	case 0x04:
		if (f3 > 2)
			return -1;
		h->f[rd] = box(sgnj32(a, b, f3));
		break;
	case 0x05:
		if (f3 > 1)
			return -1;
		h->f[rd] = box(f3 ? fpu_f32_max(a, b, fl) : fpu_f32_min(a, b, fl));
		break;
	case 0x08: /* FCVT.S.D */
		if (!rm_ok || rs2 != 1)
			return -1;
		h->f[rd] = box(fpu_f64_to_f32(h->f[rs1], rm, fl));
		break;
	case 0x14:
		switch (f3) {
		case 0: h->x[rd] = (uint64_t)fpu_f32_le(a, b, fl); break;
		case 1: h->x[rd] = (uint64_t)fpu_f32_lt(a, b, fl); break;
		case 2: h->x[rd] = (uint64_t)fpu_f32_eq(a, b, fl); break;
		default: return -1;
		}
		return 1;
	case 0x18:
		if (!rm_ok)
			return -1;
		switch (rs2) {
		case 0: h->x[rd] = (uint64_t)(int64_t)fpu_f32_to_i32(a, rm, fl); break;
		case 1: h->x[rd] = sx32(fpu_f32_to_u32(a, rm, fl)); break;
		case 2: h->x[rd] = (uint64_t)fpu_f32_to_i64(a, rm, fl); break;
		case 3: h->x[rd] = fpu_f32_to_u64(a, rm, fl); break;
		default: return -1;
		}
		return 1;
	case 0x1a:
		if (!rm_ok)
			return -1;
		switch (rs2) {
		case 0: h->f[rd] = box(fpu_i32_to_f32((int32_t)h->x[rs1], rm, fl)); break;
		case 1: h->f[rd] = box(fpu_u32_to_f32((uint32_t)h->x[rs1], rm, fl)); break;
		case 2: h->f[rd] = box(fpu_i64_to_f32((int64_t)h->x[rs1], rm, fl)); break;
		case 3: h->f[rd] = box(fpu_u64_to_f32(h->x[rs1], rm, fl)); break;
		default: return -1;
		}
		break;
	case 0x1c:
		if (rs2)
			return -1;
		if (f3 == 0)		/* FMV.X.W moves the raw low bits, boxed or not. */
			h->x[rd] = sx32((uint32_t)h->f[rs1]);
		else if (f3 == 1)
			h->x[rd] = fpu_f32_classify(a);
		else
			return -1;
		return 1;
	case 0x1e:
		if (rs2 || f3)
			return -1;
		h->f[rd] = box((uint32_t)h->x[rs1]);
		break;
	default:
		return -1;
	}
	return 0;
}

static int exec_double(struct rv_hart *h, uint32_t insn, int rm, uint32_t *fl)
{
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	unsigned f3 = (insn >> 12) & 7, f5 = insn >> 27;
	uint64_t a = h->f[rs1], b = h->f[rs2];
	bool rm_ok = rm <= FPU_RMM;

	switch (f5) {
	case 0x00: if (!rm_ok) return -1; h->f[rd] = fpu_f64_add(a, b, rm, fl); break;
	case 0x01: if (!rm_ok) return -1; h->f[rd] = fpu_f64_sub(a, b, rm, fl); break;
	case 0x02: if (!rm_ok) return -1; h->f[rd] = fpu_f64_mul(a, b, rm, fl); break;
	case 0x03: if (!rm_ok) return -1; h->f[rd] = fpu_f64_div(a, b, rm, fl); break;
	case 0x0b:
		if (!rm_ok || rs2)
			return -1;
		h->f[rd] = fpu_f64_sqrt(a, rm, fl);
		break;
	case 0x04:
		if (f3 > 2)
			return -1;
		h->f[rd] = sgnj64(a, b, f3);
		break;
	case 0x05:
		if (f3 > 1)
			return -1;
		h->f[rd] = f3 ? fpu_f64_max(a, b, fl) : fpu_f64_min(a, b, fl);
		break;
	case 0x08: /* FCVT.D.S */
		if (!rm_ok || rs2 != 0)
			return -1;
		h->f[rd] = fpu_f32_to_f64(unbox(a), fl);
		break;
	case 0x14:
		switch (f3) {
		case 0: h->x[rd] = (uint64_t)fpu_f64_le(a, b, fl); break;
		case 1: h->x[rd] = (uint64_t)fpu_f64_lt(a, b, fl); break;
		case 2: h->x[rd] = (uint64_t)fpu_f64_eq(a, b, fl); break;
		default: return -1;
		}
		return 1;
	case 0x18:
		if (!rm_ok)
			return -1;
		switch (rs2) {
		case 0: h->x[rd] = (uint64_t)(int64_t)fpu_f64_to_i32(a, rm, fl); break;
		case 1: h->x[rd] = sx32(fpu_f64_to_u32(a, rm, fl)); break;
		case 2: h->x[rd] = (uint64_t)fpu_f64_to_i64(a, rm, fl); break;
		case 3: h->x[rd] = fpu_f64_to_u64(a, rm, fl); break;
		default: return -1;
		}
		return 1;
	case 0x1a:
		if (!rm_ok)
			return -1;
		switch (rs2) {
		case 0: h->f[rd] = fpu_i32_to_f64((int32_t)h->x[rs1], rm, fl); break;
		case 1: h->f[rd] = fpu_u32_to_f64((uint32_t)h->x[rs1], rm, fl); break;
		case 2: h->f[rd] = fpu_i64_to_f64((int64_t)h->x[rs1], rm, fl); break;
		case 3: h->f[rd] = fpu_u64_to_f64(h->x[rs1], rm, fl); break;
		default: return -1;
		}
		break;
	case 0x1c:
		if (rs2)
			return -1;
		if (f3 == 0)
			h->x[rd] = a;
		else if (f3 == 1)
			h->x[rd] = fpu_f64_classify(a);
		else
			return -1;
		return 1;
	case 0x1e:
		if (rs2 || f3)
			return -1;
		h->f[rd] = h->x[rs1];
		break;
	default:
		return -1;
	}
	return 0;
}

static int exec_fma(struct rv_hart *h, uint32_t insn, int rm, uint32_t *fl)
{
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	unsigned rs3 = insn >> 27, fmt = (insn >> 25) & 3;
	enum fpu_fma_op op = (enum fpu_fma_op)(((insn & 0x7f) >> 2) & 3);

	if (rm > FPU_RMM)
		return -1;
	if (fmt == 0)
		h->f[rd] = box(fpu_f32_fma(unbox(h->f[rs1]), unbox(h->f[rs2]), unbox(h->f[rs3]),
					   op, rm, fl));
	else if (fmt == 1)
		h->f[rd] = fpu_f64_fma(h->f[rs1], h->f[rs2], h->f[rs3], op, rm, fl);
	else
		return -1;
	return 0;
}

int rv_fp_exec(struct rv_hart *h, uint32_t insn)
{
	unsigned f3 = (insn >> 12) & 7;
	int rm = f3 == 7 ? (int)h->frm : (int)f3;
	uint32_t fl = 0;
	int rc;

	if (rv_fs_off(h))
		return -1;
	if ((insn & 0x7f) != 0x53) {
		rc = exec_fma(h, insn, rm, &fl);
	} else {
		unsigned fmt = (insn >> 25) & 3;
		if (fmt == 0)
			rc = exec_single(h, insn, rm, &fl);
		else if (fmt == 1)
			rc = exec_double(h, insn, rm, &fl);
		else
			rc = -1;
	}
	if (rc < 0)
		return -1;
	/* rc 1: only an integer register was written; FS goes dirty only if flags changed. */
	if (rc == 0 || fl) {
		h->fflags |= fl;
		rv_fs_dirty(h);
	}
	return 0;
}
