/* SPDX-License-Identifier: MIT */
/* clint: the core-local interruptor, per-hart software and timer interrupts. */

/*
 * Register map (SiFive CLINT as on QEMU virt, hw/intc/riscv_aclint.c in its
 * "sifive,clint0" layout; SiFive FU540-C000 manual, chapter 9 "Core Local
 * Interruptor"):
 *
 *   0x0000 + 4*h   msip[h]      RW  32-bit, bit 0 drives hart h's MSIP
 *   0x4000 + 8*h   mtimecmp[h]  RW  64-bit (or two 32-bit halves)
 *   0xbff8         mtime        R   64-bit; writes are ignored here because
 *                                   guest time belongs to the determinism layer
 *
 * MTIP[h] is the level mtime >= mtimecmp[h] (RISC-V privileged spec 3.2.1).
 * Any naturally aligned access of 1, 2, 4 or 8 bytes works on the bytes it
 * covers; other offsets read 0 and ignore writes.
 */
#include "hv/dev/devices.h"
#include "hv/bus.h"
#include "hv/hv.h"
#include "hv/le.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CLINT_MSIP		0x0000
#define CLINT_MTIMECMP		0x4000
#define CLINT_MTIME		0xbff8

struct clint {
	const struct bus *bus;	/* mtime, and ending the slice when a deadline moves */
	int nharts;
	struct irq_line msip_line[HV_MAX_HARTS];
	struct irq_line mtip_line[HV_MAX_HARTS];
	uint32_t msip[HV_MAX_HARTS];
	uint64_t mtimecmp[HV_MAX_HARTS];
	bool mtip[HV_MAX_HARTS];
};

struct clint *clint_create(const struct bus *bus, int nharts, const struct irq_line *msip,
			   const struct irq_line *mtip)
{
	struct clint *c;

	if (nharts < 1 || nharts > HV_MAX_HARTS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->bus = bus;
	c->nharts = nharts;
	for (int h = 0; h < nharts; h++) {
		if (msip)
			c->msip_line[h] = msip[h];
		if (mtip)
			c->mtip_line[h] = mtip[h];
		c->mtimecmp[h] = UINT64_MAX;
	}
	return c;
}

void clint_destroy(struct clint *c)
{
	free(c);
}

static void clint_eval_mtip(struct clint *c, int h, uint64_t mtime)
{
	bool level = mtime >= c->mtimecmp[h];

	if (level != c->mtip[h]) {
		c->mtip[h] = level;
		irq_set(&c->mtip_line[h], level);
	}
}

void clint_update(struct clint *c, uint64_t mtime)
{
	for (int h = 0; h < c->nharts; h++)
		clint_eval_mtip(c, h, mtime);
}

uint64_t clint_next_deadline(const struct clint *c)
{
	uint64_t next = UINT64_MAX;

	for (int h = 0; h < c->nharts; h++)
		if (!c->mtip[h] && c->mtimecmp[h] < next)
			next = c->mtimecmp[h];
	return next;
}

/* The 8 bytes of register file at off8 (8-aligned), as the guest sees them. */
static uint64_t clint_word(struct clint *c, uint64_t off8)
{
	if (off8 < CLINT_MSIP + 4 * (uint64_t)c->nharts) {
		int h = (int)(off8 / 4);
		uint64_t v = c->msip[h];

		if (h + 1 < c->nharts)
			v |= (uint64_t)c->msip[h + 1] << 32;
		return v;
	}
	if (off8 >= CLINT_MTIMECMP && off8 < CLINT_MTIMECMP + 8 * (uint64_t)c->nharts)
		return c->mtimecmp[(off8 - CLINT_MTIMECMP) / 8];
	if (off8 == CLINT_MTIME)
		return bus_mtime(c->bus);
	return 0;
}

static bool clint_access_ok(uint64_t off, int size)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return false;
	return (off & (uint64_t)(size - 1)) == 0 && off < VIRT_CLINT_SIZE;
}

static uint64_t clint_mask(int size)
{
	return size == 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static int clint_read(void *opaque, uint64_t off, int size, uint64_t *val)
{
	struct clint *c = opaque;

	*val = 0;
	if (!clint_access_ok(off, size))
		return 0;
	*val = (clint_word(c, off & ~7ULL) >> (8 * (off & 7))) & clint_mask(size);
	return 0;
}

static void clint_write_msip(struct clint *c, int h, uint32_t v)
{
	if (h >= c->nharts)
		return;
	c->msip[h] = v & 1;
	irq_set(&c->msip_line[h], (int)(v & 1));
}

static int clint_write(void *opaque, uint64_t off, int size, uint64_t val)
{
	struct clint *c = opaque;
	uint64_t off8 = off & ~7ULL;
	unsigned shift = 8 * (unsigned)(off & 7);
	uint64_t mask, word;

	if (!clint_access_ok(off, size))
		return 0;
	mask = clint_mask(size) << shift;
	word = (clint_word(c, off8) & ~mask) | ((val << shift) & mask);

	if (off8 < CLINT_MSIP + 4 * (uint64_t)c->nharts) {
		int h = (int)(off8 / 4);

		if (mask & 0xffffffffULL)
			clint_write_msip(c, h, (uint32_t)word);
		if (mask >> 32)
			clint_write_msip(c, h + 1, (uint32_t)(word >> 32));
	} else if (off8 >= CLINT_MTIMECMP && off8 < CLINT_MTIMECMP + 8 * (uint64_t)c->nharts) {
		int h = (int)((off8 - CLINT_MTIMECMP) / 8);

		c->mtimecmp[h] = word;
		clint_eval_mtip(c, h, bus_mtime(c->bus));
		/* The machine's next slice deadline depends on every mtimecmp. */
		bus_request_exit(c->bus);
	}
	return 0;
}

const struct dev_ops clint_ops = {
	.name = "clint",
	.read = clint_read,
	.write = clint_write,
};

void clint_save(const struct clint *c, struct le_writer *w)
{
	for (int h = 0; h < c->nharts; h++) {
		le_put_u32(w, c->msip[h]);
		le_put_u64(w, c->mtimecmp[h]);
		le_put_u8(w, c->mtip[h]);
	}
}

int clint_load(struct clint *c, struct le_reader *r)
{
	struct clint t = *c;

	for (int h = 0; h < c->nharts; h++) {
		t.msip[h] = le_get_u32(r);
		t.mtimecmp[h] = le_get_u64(r);
		t.mtip[h] = le_get_bool(r);
		if (t.msip[h] > 1)
			return -EINVAL;
	}
	if (!le_reader_ok(r))
		return -EINVAL;
	*c = t;
	return 0;
}
