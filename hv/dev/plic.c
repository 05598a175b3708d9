/* SPDX-License-Identifier: MIT */
/* plic: the platform-level interrupt controller routing device lines to hart contexts. */

/*
 * Register map (RISC-V PLIC Specification 1.0.0, chapter 3 "Memory Map", as
 * QEMU 7.2 virt configures hw/intc/sifive_plic.c: 95 sources, priorities 0..7,
 * contexts 2h = hart h M-mode, 2h+1 = hart h S-mode). All registers 32-bit.
 *
 *   0x000000 + 4*s            priority[s]       RW  s = 1..95, WARL 0..7; s = 0 reads 0
 *   0x001000 + 4*w            pending[w]        R   bit s%32 of word s/32
 *   0x002000 + 0x80*c + 4*w   enable[c][w]      RW  source 0 is hardwired off
 *   0x200000 + 0x1000*c       threshold[c]      RW  WARL 0..7
 *   0x200004 + 0x1000*c       claim/complete[c] R: claim, W: complete
 *
 * Sources are level-triggered (spec 5 "Interrupt Gateways"): a rising line
 * sets pending unless the source is claimed; pending stays set if the line
 * drops before the claim (the handler finds nothing to do, as the spec and
 * QEMU have it); once completed, a line still high pends again. Context c's output is high while some
 * enabled pending source has priority > threshold[c]; claim returns the
 * highest-priority such source (lowest id on ties) or 0, applying the
 * threshold as QEMU does. Completion is accepted for any claimed source, as
 * QEMU 7.2 does, without checking the context's enables. Other offsets and
 * sizes read 0 and ignore writes.
 */
#include "hv/dev/devices.h"
#include "hv/hv.h"
#include "hv/le.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define PLIC_NSRC		(VIRT_PLIC_NDEV + 1)	/* source 0 does not exist */
#define PLIC_WORDS		((PLIC_NSRC + 31) / 32)
#define PLIC_MAX_CTX		(2 * HV_MAX_HARTS)
#define PLIC_PRIO_MASK		7u
_Static_assert(PLIC_NSRC % 32 == 0, "enable and pending words need no mask of absent sources");

#define PLIC_PRIORITY		0x000000
#define PLIC_PENDING		0x001000
#define PLIC_ENABLE		0x002000
#define PLIC_ENABLE_STRIDE	0x80
#define PLIC_CONTEXT		0x200000
#define PLIC_CONTEXT_STRIDE	0x1000
#define PLIC_CTX_THRESHOLD	0x0
#define PLIC_CTX_CLAIM		0x4

struct plic {
	int nctx;
	struct irq_line ctx_line[PLIC_MAX_CTX];
	bool ctx_level[PLIC_MAX_CTX];
	uint32_t priority[PLIC_NSRC];
	uint32_t level[PLIC_WORDS];	/* input lines as the devices drive them */
	uint32_t pending[PLIC_WORDS];
	uint32_t claimed[PLIC_WORDS];
	uint32_t enable[PLIC_MAX_CTX][PLIC_WORDS];
	uint32_t threshold[PLIC_MAX_CTX];
};

static bool plic_bit(const uint32_t *bits, int s)
{
	return bits[s / 32] >> (s % 32) & 1;
}

static void plic_assign(uint32_t *bits, int s, bool on)
{
	if (on)
		bits[s / 32] |= 1u << (s % 32);
	else
		bits[s / 32] &= ~(1u << (s % 32));
}

/* Highest-priority enabled pending source above ctx's threshold, or 0. */
static int plic_best(const struct plic *p, int ctx)
{
	uint32_t best_prio = p->threshold[ctx];
	int best = 0;

	for (int w = 0; w < PLIC_WORDS; w++) {
		uint32_t cand = p->pending[w] & ~p->claimed[w] & p->enable[ctx][w];

		while (cand) {
			int s = w * 32 + __builtin_ctz(cand);

			cand &= cand - 1;
			if (p->priority[s] > best_prio) {
				best_prio = p->priority[s];
				best = s;
			}
		}
	}
	return best;
}

static void plic_update(struct plic *p)
{
	for (int ctx = 0; ctx < p->nctx; ctx++) {
		bool level = plic_best(p, ctx) != 0;

		if (level != p->ctx_level[ctx]) {
			p->ctx_level[ctx] = level;
			irq_set(&p->ctx_line[ctx], level);
		}
	}
}

struct plic *plic_create(int nharts, const struct irq_line *ctx_lines)
{
	struct plic *p;

	if (nharts < 1 || nharts > HV_MAX_HARTS)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->nctx = 2 * nharts;
	for (int ctx = 0; ctx < p->nctx; ctx++)
		if (ctx_lines)
			p->ctx_line[ctx] = ctx_lines[ctx];
	return p;
}

void plic_destroy(struct plic *p)
{
	free(p);
}

void plic_set_irq(void *opaque, int irq, int level)
{
	struct plic *p = opaque;

	if (irq <= 0 || irq >= PLIC_NSRC)
		return;
	plic_assign(p->level, irq, level != 0);
	if (level && !plic_bit(p->claimed, irq))
		plic_assign(p->pending, irq, true);
	plic_update(p);
}

static uint32_t plic_claim(struct plic *p, int ctx)
{
	int s = plic_best(p, ctx);

	if (s) {
		plic_assign(p->pending, s, false);
		plic_assign(p->claimed, s, true);
		plic_update(p);
	}
	return (uint32_t)s;
}

static void plic_complete(struct plic *p, uint32_t s)
{
	if (s == 0 || s >= PLIC_NSRC || !plic_bit(p->claimed, (int)s))
		return;
	plic_assign(p->claimed, (int)s, false);
	plic_assign(p->pending, (int)s, plic_bit(p->level, (int)s));
	plic_update(p);
}

/* Context c's register at off, or -1. */
static int plic_ctx_of(const struct plic *p, uint64_t off, uint64_t base, uint64_t stride,
		       uint64_t *reg)
{
	uint64_t ctx = (off - base) / stride;

	if (off < base || ctx >= (uint64_t)p->nctx)
		return -1;
	*reg = (off - base) % stride;
	return (int)ctx;
}

static int plic_read(void *opaque, uint64_t off, int size, uint64_t *val)
{
	struct plic *p = opaque;
	uint64_t reg;
	int ctx;

	*val = 0;
	if (size != 4 || (off & 3))
		return 0;
	if (off < PLIC_PENDING) {
		if (off / 4 < PLIC_NSRC)
			*val = p->priority[off / 4];
	} else if (off < PLIC_ENABLE) {
		if ((off - PLIC_PENDING) / 4 < PLIC_WORDS)
			*val = p->pending[(off - PLIC_PENDING) / 4];
	} else if (off < PLIC_CONTEXT) {
		ctx = plic_ctx_of(p, off, PLIC_ENABLE, PLIC_ENABLE_STRIDE, &reg);
		if (ctx >= 0 && reg / 4 < PLIC_WORDS)
			*val = p->enable[ctx][reg / 4];
	} else {
		ctx = plic_ctx_of(p, off, PLIC_CONTEXT, PLIC_CONTEXT_STRIDE, &reg);
		if (ctx >= 0 && reg == PLIC_CTX_THRESHOLD)
			*val = p->threshold[ctx];
		else if (ctx >= 0 && reg == PLIC_CTX_CLAIM)
			*val = plic_claim(p, ctx);
	}
	return 0;
}

static int plic_write(void *opaque, uint64_t off, int size, uint64_t val)
{
	struct plic *p = opaque;
	uint32_t v = (uint32_t)val;
	uint64_t reg;
	int ctx;

	if (size != 4 || (off & 3))
		return 0;
	if (off < PLIC_PENDING) {
		if (off / 4 == 0 || off / 4 >= PLIC_NSRC)
			return 0;
		p->priority[off / 4] = v & PLIC_PRIO_MASK;
		plic_update(p);
	} else if (off < PLIC_ENABLE) {
		return 0;	/* pending bits are read-only */
	} else if (off < PLIC_CONTEXT) {
		ctx = plic_ctx_of(p, off, PLIC_ENABLE, PLIC_ENABLE_STRIDE, &reg);
		if (ctx < 0 || reg / 4 >= PLIC_WORDS)
			return 0;
		p->enable[ctx][reg / 4] = reg == 0 ? v & ~1u : v;
		plic_update(p);
	} else {
		ctx = plic_ctx_of(p, off, PLIC_CONTEXT, PLIC_CONTEXT_STRIDE, &reg);
		if (ctx >= 0 && reg == PLIC_CTX_THRESHOLD) {
			p->threshold[ctx] = v & PLIC_PRIO_MASK;
			plic_update(p);
		} else if (ctx >= 0 && reg == PLIC_CTX_CLAIM) {
			plic_complete(p, v);
		}
	}
	return 0;
}

const struct dev_ops plic_ops = {
	.name = "plic",
	.read = plic_read,
	.write = plic_write,
};

void plic_save(const struct plic *p, struct le_writer *w)
{
	for (int c = 0; c < p->nctx; c++) {
		le_put_u8(w, p->ctx_level[c]);
		le_put_u32(w, p->threshold[c]);
		for (int i = 0; i < PLIC_WORDS; i++)
			le_put_u32(w, p->enable[c][i]);
	}
	for (int i = 0; i < PLIC_NSRC; i++)
		le_put_u32(w, p->priority[i]);
	for (int i = 0; i < PLIC_WORDS; i++)
		le_put_u32(w, p->level[i]);
	for (int i = 0; i < PLIC_WORDS; i++)
		le_put_u32(w, p->pending[i]);
	for (int i = 0; i < PLIC_WORDS; i++)
		le_put_u32(w, p->claimed[i]);
}

int plic_load(struct plic *p, struct le_reader *r)
{
	struct plic *t = malloc(sizeof(*t));

	if (!t)
		return -ENOMEM;
	*t = *p;
	for (int c = 0; c < p->nctx; c++) {
		t->ctx_level[c] = le_get_bool(r);
		t->threshold[c] = le_get_u32(r);
		for (int i = 0; i < PLIC_WORDS; i++)
			t->enable[c][i] = le_get_u32(r);
	}
	for (int i = 0; i < PLIC_NSRC; i++)
		t->priority[i] = le_get_u32(r);
	for (int i = 0; i < PLIC_WORDS; i++)
		t->level[i] = le_get_u32(r);
	for (int i = 0; i < PLIC_WORDS; i++)
		t->pending[i] = le_get_u32(r);
	for (int i = 0; i < PLIC_WORDS; i++)
		t->claimed[i] = le_get_u32(r);
	if (!le_reader_ok(r)) {
		free(t);
		return -EINVAL;
	}
	*p = *t;
	free(t);
	return 0;
}
