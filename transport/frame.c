/* SPDX-License-Identifier: MIT */
/* Framing: a 4-byte big-endian length then one protobuf Envelope; bounds checked before allocating. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int xport_buf_reserve(struct xport_buf *b, size_t more)
{
	size_t used = b->len - b->off;
	size_t cap;
	uint8_t *p;

	if (b->cap - b->len >= more)
		return 0;
	if (b->off) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		if (b->cap - b->len >= more)
			return 0;
	}
	cap = b->cap ? b->cap : 16384;
	while (cap - used < more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void xport_buf_free(struct xport_buf *b)
{
	free(b->data);
	*b = (struct xport_buf){ 0 };
}

int xport_frame_put(struct xport_buf *b, const Ftvm__Envelope *env)
{
	size_t n = ftvm__envelope__get_packed_size(env);
	uint8_t *p;
	int err;

	if (n == 0 || n > XPORT_MAX_FRAME)
		return -EMSGSIZE;
	err = xport_buf_reserve(b, n + 4);
	if (err)
		return err;
	p = b->data + b->len;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	ftvm__envelope__pack(env, p + 4);
	b->len += n + 4;
	return 0;
}

int xport_frame_next(struct xport_buf *b, const uint8_t **body, uint32_t *body_len)
{
	size_t have = b->len - b->off;
	const uint8_t *p;
	uint32_t n;

	if (have < 4)
		return 0;
	p = b->data + b->off;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (n == 0 || n > XPORT_MAX_FRAME) {
		*body_len = n;
		return -EMSGSIZE;
	}
	if (have < (size_t)n + 4) {
		int err = xport_buf_reserve(b, (size_t)n + 4 - have);

		return err ? err : 0;
	}
	*body = p + 4;
	*body_len = n;
	b->off += (size_t)n + 4;
	return 1;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/*
 * The Envelope of a LogChunk encoded by hand with the payload field last, so
 * that the payload can follow from wherever it lives. Protobuf lets fields
 * come in any order (encoding guide, "Field Order"); the result decodes with
 * ftvm__envelope__unpack() like a packed one. Zero fields are left out, as
 * proto3 does.
 */
size_t xport_frame_chunk_head(uint8_t *out, uint64_t epoch, uint64_t seq, uint64_t first_step, uint32_t crc,
			      size_t payload_len)
{
	size_t body = (seq ? 1 + varint_len(seq) : 0) + (first_step ? 1 + varint_len(first_step) : 0) + (crc ? 5 : 0) +
		      (payload_len ? 1 + varint_len(payload_len) + payload_len : 0);
	size_t env = (epoch ? 1 + varint_len(epoch) : 0) + 1 + varint_len(body) + body;
	uint8_t *p = out + 4;

	out[0] = (uint8_t)(env >> 24);
	out[1] = (uint8_t)(env >> 16);
	out[2] = (uint8_t)(env >> 8);
	out[3] = (uint8_t)env;
	if (epoch) {
		*p++ = 1 << 3 | 0;                          /* Envelope.epoch, varint */
		p = varint_put(p, epoch);
	}
	*p++ = 3 << 3 | 2;                                  /* Envelope.chunk, length-delimited */
	p = varint_put(p, body);
	if (seq) {
		*p++ = 1 << 3 | 0;                          /* LogChunk.seq */
		p = varint_put(p, seq);
	}
	if (first_step) {
		*p++ = 2 << 3 | 0;                          /* LogChunk.first_step */
		p = varint_put(p, first_step);
	}
	if (crc) {
		*p++ = 4 << 3 | 5;                          /* LogChunk.crc32c, fixed32 little-endian */
		for (int i = 0; i < 4; i++)
			*p++ = (uint8_t)(crc >> (8 * i));
	}
	if (payload_len) {
		*p++ = 3 << 3 | 2;                          /* LogChunk.payload */
		p = varint_put(p, payload_len);
	}
	return (size_t)(p - out);
}

/* A varint of at most 9 bytes (63 bits: no overflow to reason about); false for anything else. */
static bool varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t r = 0;

	for (int i = 0; i < 9 && p < end; i++) {
		uint8_t b = *p++;

		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*pp = p;
			*v = r;
			return true;
		}
	}
	return false;
}

static bool len_get(const uint8_t **pp, const uint8_t *end, const uint8_t **data, size_t *len)
{
	uint64_t n;

	if (!varint_get(pp, end, &n) || n > (uint64_t)(end - *pp))
		return false;
	*data = *pp;
	*len = (size_t)n;
	*pp += n;
	return true;
}

static bool chunk_fields(const uint8_t *p, const uint8_t *end, struct xport_chunk_view *v)
{
	unsigned seen = 0;

	while (p < end) {
		uint8_t tag = *p++;
		unsigned bit;
		bool ok;

		switch (tag) {
		case 1 << 3 | 0: bit = 1; ok = varint_get(&p, end, &v->seq); break;
		case 2 << 3 | 0: bit = 2; ok = varint_get(&p, end, &v->first_step); break;
		case 3 << 3 | 2: bit = 4; ok = len_get(&p, end, &v->payload, &v->len); break;
		case 4 << 3 | 5:
			bit = 8;
			ok = end - p >= 4;
			if (ok) {
				v->crc = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
				p += 4;
			}
			break;
		default: return false;
		}
		if (!ok || (seen & bit))
			return false;
		seen |= bit;
	}
	return true;
}

/*
 * The receiver's fast path: reads an Envelope that holds only an epoch and a
 * LogChunk, each field at most once, without copying the payload (protobuf-c
 * copies every bytes field). Anything else, unusual or malformed, returns
 * false and goes to the generic decoder, which then has the last word; so
 * both paths agree on everything this one accepts.
 */
bool xport_frame_chunk_view(const uint8_t *body, size_t len, struct xport_chunk_view *v)
{
	const uint8_t *p = body, *end = body + len, *chunk = NULL;
	size_t chunk_len = 0;
	bool have_epoch = false;

	*v = (struct xport_chunk_view){ .payload = body };
	while (p < end) {
		uint8_t tag = *p++;

		if (tag == (1 << 3 | 0) && !have_epoch) {
			if (!varint_get(&p, end, &v->epoch))
				return false;
			have_epoch = true;
		} else if (tag == (3 << 3 | 2) && !chunk) {
			if (!len_get(&p, end, &chunk, &chunk_len))
				return false;
		} else {
			return false;
		}
	}
	return chunk && chunk_fields(chunk, chunk + chunk_len, v);
}
