/* SPDX-License-Identifier: MIT */
/* Device plumbing shared by every device model: MMIO ops, irq lines, guest RAM access. */
#ifndef HV_DEV_H
#define HV_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * MMIO access. off is relative to the region base; size is 1, 2, 4 or 8.
 * Return 0, or -1 for an access fault delivered to the guest. A device never
 * prints on a guest's behalf: bad guest input moves the device to an error
 * state (virtio: DEVICE_NEEDS_RESET) and is counted, not logged.
 */
struct dev_ops {
	const char *name;
	int (*read)(void *opaque, uint64_t off, int size, uint64_t *val);
	int (*write)(void *opaque, uint64_t off, int size, uint64_t val);
};

/* A level-triggered interrupt line; the receiver (PLIC or hart) owns set(). */
struct irq_line {
	void (*set)(void *opaque, int irq, int level);
	void *opaque;
	int irq;
};

static inline void irq_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->opaque, l->irq, level);
}

/* Guest physical RAM, for DMA by device models. */
struct guest_ram {
	uint8_t *host;
	uint64_t base;
	uint64_t size;
	uint64_t *dirty;	/* one bit per 4 KiB page written since the last digest, or NULL */
};

#define GUEST_PAGE_SHIFT 12

/* Note a write to the page holding gpa (which must be in RAM), for incremental digests. */
static inline void guest_ram_mark_dirty(const struct guest_ram *r, uint64_t gpa)
{
	if (r->dirty) {
		uint64_t pn = (gpa - r->base) >> GUEST_PAGE_SHIFT;
		r->dirty[pn >> 6] |= 1ULL << (pn & 63);
	}
}

/* Host pointer for [gpa, gpa+len) if it lies wholly in RAM, else NULL. */
static inline void *guest_ram_ptr(const struct guest_ram *r, uint64_t gpa, uint64_t len)
{
	if (gpa < r->base)
		return NULL;
	uint64_t off = gpa - r->base;
	if (off > r->size || len > r->size - off)
		return NULL;
	return r->host + off;
}

#endif
