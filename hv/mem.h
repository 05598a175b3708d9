/* SPDX-License-Identifier: MIT */
/* mem: guest physical RAM as harts and devices see it, with the dirty-page bits that incremental digests read. */
#ifndef HV_MEM_H
#define HV_MEM_H

#include <stddef.h>
#include <stdint.h>

/*
 * One object per machine, owned by it and passed by pointer to every hart
 * and device, so that the dirty bitmap the machine switches on later
 * (hv_track_dirty) is the one they all mark. Never copy it.
 */
struct guest_ram {
	uint8_t *host;
	uint64_t base;
	uint64_t size;
	uint64_t *dirty;	/* one bit per 4 KiB page written since the last digest, or NULL */
	size_t dirty_words;
	/*
	 * With the translator (hv/cpu/jit.c): one bit per page holding
	 * translated code, and what a write to such a page calls (the
	 * translator drops its blocks), so that code a device writes by DMA
	 * runs new without a FENCE.I, as under the interpreter. NULL without.
	 */
	const uint64_t *code;
	void (*code_written)(void *opaque, uint64_t gpa);
	void *code_opaque;
};

#define GUEST_PAGE_SHIFT 12
#define GUEST_PAGE_SIZE (1ULL << GUEST_PAGE_SHIFT)

/* Pages pn_first..pn_last (RAM page numbers) were written: tell the translator if one holds code. */
static inline void guest_ram_code_check(const struct guest_ram *r, uint64_t pn_first,
					uint64_t pn_last)
{
	for (uint64_t pn = pn_first; pn <= pn_last; pn++)
		if ((r->code[pn >> 6] >> (pn & 63)) & 1) {
			r->code_written(r->code_opaque, r->base + (pn << GUEST_PAGE_SHIFT));
			return;
		}
}

/* Note a write to the page holding gpa (which must be in RAM), for incremental digests and the translator. */
static inline void guest_ram_mark_dirty(const struct guest_ram *r, uint64_t gpa)
{
	uint64_t pn = (gpa - r->base) >> GUEST_PAGE_SHIFT;

	if (r->dirty)
		r->dirty[pn >> 6] |= 1ULL << (pn & 63);
	if (r->code)
		guest_ram_code_check(r, pn, pn);
}

/* Note a write to every page of [gpa, gpa+len) (which must lie in RAM). */
static inline void guest_ram_mark_dirty_range(const struct guest_ram *r, uint64_t gpa,
					      uint64_t len)
{
	uint64_t first = (gpa - r->base) >> GUEST_PAGE_SHIFT;
	uint64_t last = (gpa - r->base + len - 1) >> GUEST_PAGE_SHIFT;

	if (len == 0)
		return;
	if (r->code)
		guest_ram_code_check(r, first, last);
	if (!r->dirty)
		return;
	for (uint64_t pn = first; pn <= last; pn++)
		r->dirty[pn >> 6] |= 1ULL << (pn & 63);
}

/*
 * Host pointer for [gpa, gpa+len) if it lies wholly in RAM, else NULL. The
 * raw accessor: a caller that writes through it marks the pages itself (the
 * CPU does so once per write-TLB fill). Devices use the two below.
 */
static inline uint8_t *guest_ram_ptr(const struct guest_ram *r, uint64_t gpa, uint64_t len)
{
	if (gpa < r->base)
		return NULL;
	uint64_t off = gpa - r->base;
	if (off > r->size || len > r->size - off)
		return NULL;
	return r->host + off;
}

/* For reading only. */
static inline const uint8_t *guest_ram_read_ptr(const struct guest_ram *r, uint64_t gpa,
						uint64_t len)
{
	return guest_ram_ptr(r, gpa, len);
}

/* For writing (DMA): marks every page of the range dirty. */
static inline uint8_t *guest_ram_write_ptr(const struct guest_ram *r, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_ram_ptr(r, gpa, len);

	if (p)
		guest_ram_mark_dirty_range(r, gpa, len);
	return p;
}

#endif
