/* SPDX-License-Identifier: MIT */
/* fuzz_rr_log: libFuzzer target decoding a replay log (header, chunks, events, streaming reader) and checking that what decodes re-encodes identically. */
#include "hv/rr/log.h"

#include "hv/crc32c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Input: one mode byte, then the log. Mode bit 0 set: the target rewrites
 * every crc it can locate before decoding, so that mutations reach the TLV,
 * chunk and event parsers instead of dying at a checksum. Mode bit 1 set:
 * the input holds only chunks and the target puts a valid header in front,
 * so that an empty corpus reaches the chunk and event decoders quickly.
 */
#define FZ_MAX_INPUT (2u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[FZ_MAX_INPUT];

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crcs(uint8_t *b, size_t len)
{
	if (len < RR_HEADER_FIXED_BYTES)
		return;
	uint64_t body = get_le(b + 12, 4);
	if (body > len - RR_HEADER_FIXED_BYTES - 4 || len < RR_HEADER_FIXED_BYTES + 4)
		return;
	size_t off = RR_HEADER_FIXED_BYTES + (size_t)body;
	put_le32(b + off, crc32c(0, b, off));
	off += 4;
	while (len - off >= RR_CHUNK_HEADER_BYTES) {
		uint64_t plen = get_le(b + off + 28, 4);
		if (plen > len - off - RR_CHUNK_HEADER_BYTES)
			return;
		put_le32(b + off + 36, crc32c(crc32c(0, b + off, 36), b + off + RR_CHUNK_HEADER_BYTES, (size_t)plen));
		off += RR_CHUNK_HEADER_BYTES + (size_t)plen;
	}
}

static void check_header_round_trip(const struct rr_header *h)
{
	static uint8_t enc[RR_HEADER_FIXED_BYTES + RR_HEADER_MAX_BODY + 4];
	struct rr_header d;
	size_t len, used;
	char err[256];

	if (rr_header_encode(h, enc, sizeof(enc), &len) ||
	    rr_header_decode(enc, len, &d, &used, err, sizeof(err)) || used != len ||
	    d.mem_bytes != h->mem_bytes || d.smp != h->smp || d.flags != h->flags ||
	    d.has_fw != h->has_fw || d.has_kernel != h->has_kernel || d.has_initrd != h->has_initrd ||
	    d.has_disk != h->has_disk || memcmp(d.fw_sha, h->fw_sha, 32) || memcmp(d.kernel_sha, h->kernel_sha, 32) ||
	    memcmp(d.initrd_sha, h->initrd_sha, 32) || memcmp(d.disk_sha, h->disk_sha, 32) ||
	    strcmp(d.append, h->append) || strcmp(d.net, h->net) || strcmp(d.vm_id, h->vm_id) ||
	    d.digest_interval != h->digest_interval || d.digest_hash != h->digest_hash) {
		fprintf(stderr, "decoded header does not re-encode to itself\n");
		abort();
	}
}

/* A chunk whose events all decode must re-encode byte for byte (varints are canonical). */
static void check_chunk(const uint8_t *raw, size_t raw_len, const struct rr_chunk *c)
{
	struct rr_chunk_writer *w = rr_chunk_writer_new(c->seq, c->first_step);
	struct rr_event_iter it;
	struct rr_event ev;
	const uint8_t *out;
	size_t out_len;
	char err[256];
	int rc;

	if (!w)
		return;
	rr_event_iter_init(&it, c);
	while ((rc = rr_event_next(&it, &ev, err, sizeof(err))) == 1) {
		if (ev.step < c->first_step || ev.step > c->end_step) {
			fprintf(stderr, "event step %llu outside the chunk\n", (unsigned long long)ev.step);
			abort();
		}
		if (rr_chunk_writer_add(w, &ev)) {
			fprintf(stderr, "decoded %s event refused by the writer\n", rr_kind_name(ev.kind));
			abort();
		}
	}
	if (rc == 0) {
		if (rr_chunk_writer_finish(w, c->end_step, &out, &out_len) || out_len != raw_len || memcmp(out, raw, raw_len)) {
			fprintf(stderr, "decoded chunk does not re-encode byte for byte\n");
			abort();
		}
	}
	rr_chunk_writer_free(w);
}

/* trimmed: also accept zero bytes after the header (a trimmed log), as replay and log dump do. */
static void run_reader(const uint8_t *b, size_t len, bool trimmed)
{
	struct rr_reader *r = rr_reader_open_mem(b, len);
	struct rr_header h;
	struct rr_chunk c;
	struct rr_event_iter it;
	struct rr_event ev;
	char err[512];
	int rc;

	if (!r)
		return;
	if (trimmed)
		rr_reader_allow_trimmed(r);
	if (rr_reader_read_header(r, &h, err, sizeof(err)) == 0) {
		while (rr_reader_next(r, &c, err, sizeof(err)) == 1) {
			rr_event_iter_init(&it, &c);
			while ((rc = rr_event_next(&it, &ev, err, sizeof(err))) == 1)
				;
			if (rc < 0) {
				fprintf(stderr, "reader yielded a chunk with a bad event: %s\n", err);
				abort();
			}
		}
		if (rr_reader_state(r) == RR_READER_OPEN || rr_reader_offset(r) > len ||
		    rr_reader_hole_bytes(r) > rr_reader_offset(r) || (!trimmed && rr_reader_hole_bytes(r))) {
			fprintf(stderr, "reader stopped in state %d at offset %llu\n", rr_reader_state(r),
				(unsigned long long)rr_reader_offset(r));
			abort();
		}
	}
	rr_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rr_header h;
	struct rr_chunk c;
	size_t used, off;
	char err[512];

	static uint8_t hdr[512];
	static size_t hdr_len;
	size_t pre = 0;

	if (!hdr_len) {
		memset(&h, 0, sizeof(h));
		h.mem_bytes = 1u << 20;
		h.smp = 1;
		if (rr_header_encode(&h, hdr, sizeof(hdr), &hdr_len))
			abort();
	}
	if (size < 1 || size - 1 > sizeof(buf) - sizeof(hdr))
		return 0;
	if (data[0] & 2) {
		memcpy(buf, hdr, hdr_len);
		pre = hdr_len;
	}
	memcpy(buf + pre, data + 1, size - 1);
	size = size - 1 + pre;
	if (data[0] & 1)
		fix_crcs(buf, size);

	run_reader(buf, size, false);
	run_reader(buf, size, true);

	if (rr_header_decode(buf, size, &h, &used, err, sizeof(err)))
		return 0;
	check_header_round_trip(&h);
	for (off = used; off < size; off += used) {
		if (rr_chunk_decode(buf + off, size - off, &c, &used, err, sizeof(err)))
			break;
		check_chunk(buf + off, used, &c);
	}
	return 0;
}
