/* SPDX-License-Identifier: MIT */
/* le: the one little-endian serializer: raw loads/stores, a bounded writer and a reader that never reads past its end. */
#ifndef HV_LE_H
#define HV_LE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Unaligned little-endian access to bytes in memory (guest rings, headers). */
static inline uint16_t le16_load(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t le32_load(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t le64_load(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)le32_load(b) | (uint64_t)le32_load(b + 4) << 32;
}

static inline void le16_store(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void le32_store(void *p, uint32_t v)
{
	uint8_t *b = p;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static inline void le64_store(void *p, uint64_t v)
{
	le32_store(p, (uint32_t)v);
	le32_store((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/*
 * A writer appends to a buffer: fixed (le_writer_fixed: bytes past cap are
 * counted but dropped, and failed is set) or growing (le_writer_grow: the
 * caller frees buf). len is always what was put, so a fixed writer of cap 0
 * measures.
 */
struct le_writer {
	uint8_t *buf;
	size_t len, cap;
	bool grow;
	bool failed;		/* out of room or memory: the output is incomplete */
};

static inline struct le_writer le_writer_fixed(void *buf, size_t cap)
{
	return (struct le_writer){ .buf = buf, .cap = cap };
}

static inline struct le_writer le_writer_grow(void)
{
	return (struct le_writer){ .grow = true };
}

static inline void le_put_bytes(struct le_writer *w, const void *p, size_t n)
{
	if (w->len + n > w->cap && w->grow && !w->failed) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *nb = realloc(w->buf, cap);
		if (nb) {
			w->buf = nb;
			w->cap = cap;
		}
	}
	if (w->len + n <= w->cap && !w->failed) {
		if (n)
			memcpy(w->buf + w->len, p, n);
	} else {
		w->failed = true;
	}
	w->len += n;
}

static inline void le_put_u8(struct le_writer *w, uint8_t v)
{
	le_put_bytes(w, &v, 1);
}

static inline void le_put_u16(struct le_writer *w, uint16_t v)
{
	uint8_t b[2];
	le16_store(b, v);
	le_put_bytes(w, b, 2);
}

static inline void le_put_u32(struct le_writer *w, uint32_t v)
{
	uint8_t b[4];
	le32_store(b, v);
	le_put_bytes(w, b, 4);
}

static inline void le_put_u64(struct le_writer *w, uint64_t v)
{
	uint8_t b[8];
	le64_store(b, v);
	le_put_bytes(w, b, 8);
}

/*
 * A reader over len bytes. Reading past the end sets failed and yields
 * zeros; callers check le_reader_ok (or le_reader_done) once at the end and
 * validate every value they use as a count or an index before using it.
 */
struct le_reader {
	const uint8_t *buf;
	size_t len, pos;
	bool failed;
};

static inline struct le_reader le_reader_init(const void *buf, size_t len)
{
	return (struct le_reader){ .buf = buf, .len = len };
}

static inline size_t le_reader_left(const struct le_reader *r)
{
	return r->failed ? 0 : r->len - r->pos;
}

static inline bool le_get_bytes(struct le_reader *r, void *dst, size_t n)
{
	if (r->failed || n > r->len - r->pos) {
		r->failed = true;
		if (n)
			memset(dst, 0, n);
		return false;
	}
	if (n)
		memcpy(dst, r->buf + r->pos, n);
	r->pos += n;
	return true;
}

static inline uint8_t le_get_u8(struct le_reader *r)
{
	uint8_t b = 0;
	le_get_bytes(r, &b, 1);
	return b;
}

static inline uint16_t le_get_u16(struct le_reader *r)
{
	uint8_t b[2];
	le_get_bytes(r, b, 2);
	return le16_load(b);
}

static inline uint32_t le_get_u32(struct le_reader *r)
{
	uint8_t b[4];
	le_get_bytes(r, b, 4);
	return le32_load(b);
}

static inline uint64_t le_get_u64(struct le_reader *r)
{
	uint8_t b[8];
	le_get_bytes(r, b, 8);
	return le64_load(b);
}

/* A bool saved as one byte: anything but 0 or 1 fails the reader. */
static inline bool le_get_bool(struct le_reader *r)
{
	uint8_t b = le_get_u8(r);
	if (b > 1)
		r->failed = true;
	return b == 1;
}

static inline bool le_reader_ok(const struct le_reader *r)
{
	return !r->failed;
}

/* Everything read, nothing left over. */
static inline bool le_reader_done(const struct le_reader *r)
{
	return !r->failed && r->pos == r->len;
}

#endif
