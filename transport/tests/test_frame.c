/* SPDX-License-Identifier: MIT */
/* Codec tests without a network: CRC-32C, frame bounds, and the message handlers on a detached channel. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/tests/check.h"
#include "transport/log.h"

/* For a failure the rest of the test depends on: report what failed so far and end. */
static void __attribute__((noreturn)) stop(void)
{
	exit(check_done("test_frame"));
}

static uint64_t delivered, last_seq;

static void on_chunk(void *arg, uint64_t seq, uint64_t first_step, const uint8_t *payload, size_t len)
{
	delivered++;
	last_seq = seq;
}

static void put(struct xport_buf *b, uint64_t epoch, Ftvm__Envelope *env)
{
	env->epoch = epoch;
	CHECK(xport_frame_put(b, env) == 0, "in %s", __func__);
}

static void put_hello(struct xport_buf *b, uint64_t epoch, Ftvm__Role role)
{
	Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
	Ftvm__Hello h;

	ftvm__hello__init(&h);
	h.format_major = XPORT_FORMAT_MAJOR;
	h.role = role;
	h.vm_id = (char *)(uintptr_t)"vm";
	h.epoch = epoch;
	env.body_case = FTVM__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	put(b, epoch, &env);
}

static void put_chunk(struct xport_buf *b, uint64_t seq, const char *text, uint32_t crc_xor)
{
	Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
	Ftvm__LogChunk m = FTVM__LOG_CHUNK__INIT;

	m.seq = seq;
	m.payload.data = (uint8_t *)(uintptr_t)text;
	m.payload.len = strlen(text);
	m.crc32c = crc32c(0, text, strlen(text)) ^ crc_xor;
	env.body_case = FTVM__ENVELOPE__BODY_CHUNK;
	env.chunk = &m;
	put(b, 3, &env);
}

static struct xport *detached(void)
{
	struct xport_config cfg = { .role = XPORT_ROLE_BACKUP, .vm_id = "vm", .epoch = 3,
				    .credit_chunks = 4, .credit_bytes = 1000 };
	struct xport_callbacks cb = { .on_chunk = on_chunk };
	struct xport *x;

	CHECK(xport_detached_new(&cfg, &cb, &x) == 0, "in %s", __func__);
	return x;
}

static int feed(struct xport *x, struct xport_buf *b)
{
	int r = xport_detached_feed(x, b->data + b->off, b->len - b->off);

	b->off = b->len = 0;
	return r;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Decodes body both ways; when the in-place reader accepts it, protobuf-c must read the same LogChunk. */
static bool decode_both(const uint8_t *body, size_t len, struct xport_chunk_view *v)
{
	bool fast = xport_frame_chunk_view(body, len, v);
	Ftvm__Envelope *env = ftvm__envelope__unpack(NULL, len, body);

	if (fast) {
		CHECK(env && env->body_case == FTVM__ENVELOPE__BODY_CHUNK, "in %s", __func__);
		CHECK(env->epoch == v->epoch && env->chunk->seq == v->seq && env->chunk->first_step == v->first_step, "in %s", __func__);
		CHECK(env->chunk->crc32c == v->crc && env->chunk->payload.len == v->len, "in %s", __func__);
		CHECK(v->payload >= body && v->payload + v->len <= body + len, "in %s", __func__);
		CHECK(v->len == 0 || memcmp(env->chunk->payload.data, v->payload, v->len) == 0, "in %s", __func__);
	}
	if (env)
		ftvm__envelope__free_unpacked(env, NULL);
	return fast;
}

/*
 * The LogChunk header written by hand (payload last) decodes with protobuf-c
 * to the same fields, so does protobuf-c's own encoding with the in-place
 * reader; and on mutated and truncated frames the reader either declines or
 * agrees with protobuf-c.
 */
static void test_chunk_codec(void)
{
	static const uint64_t nums[] = { 0, 1, 127, 128, 300, 16383, 16384, 1ull << 35, (1ull << 63) - 1 };
	static const size_t lens[] = { 0, 1, 127, 128, 16383, 16384, 70000 };
	static uint8_t frame[XPORT_CHUNK_HEAD_MAX + 70000], mut[256];
	struct xport_buf b = { 0 };
	uint64_t rng = 2463534242ull, accepted = 0, declined = 0;
	struct xport_chunk_view v;
	int combos = 0, failures_before = check_failures;

	for (size_t e = 0; e < 9; e++)
		for (size_t q = 0; q < 9; q++)
			for (size_t l = 0; l < 7; l++) {
				uint64_t step = nums[(e + q + l) % 9];
				uint32_t crc = (uint32_t)xorshift(&rng) & (l % 2 ? 0xffffffffu : 0);
				size_t head = xport_frame_chunk_head(frame, nums[e], nums[q], step, crc, lens[l]);
				size_t body_len = (size_t)frame[0] << 24 | (size_t)frame[1] << 16 | (size_t)frame[2] << 8 | frame[3];
				Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
				Ftvm__LogChunk m = FTVM__LOG_CHUNK__INIT;

				CHECK(head <= XPORT_CHUNK_HEAD_MAX && body_len == head - 4 + lens[l], "in %s", __func__);
				for (size_t i = 0; i < lens[l]; i++)
					frame[head + i] = (uint8_t)(i * 7 + q);
				if (!decode_both(frame + 4, body_len, &v) || check_failures != failures_before) {
					CHECK(0, "epoch %llu seq %llu step %llu len %zu: not read in place or read differently",
					      (unsigned long long)nums[e], (unsigned long long)nums[q],
					      (unsigned long long)step, lens[l]);
					stop();
				}
				CHECK(v.epoch == nums[e] && v.seq == nums[q] && v.first_step == step && v.crc == crc, "in %s", __func__);
				CHECK(v.len == lens[l] && (v.len == 0 || v.payload == frame + head), "in %s", __func__);

				/* protobuf-c's field order (payload before crc) reads in place too. */
				m.seq = nums[q];
				m.first_step = step;
				m.crc32c = crc;
				m.payload.data = frame + head;
				m.payload.len = lens[l];
				env.epoch = nums[e];
				env.body_case = FTVM__ENVELOPE__BODY_CHUNK;
				env.chunk = &m;
				b.off = b.len = 0;
				CHECK(xport_frame_put(&b, &env) == 0, "in %s", __func__);
				CHECK(decode_both(b.data + 4, b.len - 4, &v) && v.seq == nums[q] && v.len == lens[l], "in %s", __func__);
				combos++;
			}
	for (int i = 0; i < 300000; i++) {
		/* One draw per statement: the order of evaluation of arguments is unspecified. */
		size_t len = (size_t)(xorshift(&rng) % 40);
		uint64_t epoch = xorshift(&rng) % 1000;
		uint64_t seq = xorshift(&rng) % 100000;
		uint64_t step = xorshift(&rng);
		uint32_t crc = (uint32_t)xorshift(&rng);
		size_t head = xport_frame_chunk_head(frame, epoch, seq, step >> (crc % 64), crc, len);
		size_t body_len = head - 4 + len;
		int flips = 1 + (int)(xorshift(&rng) % 3);

		memcpy(mut, frame + 4, body_len);
		for (int k = 0; k < flips; k++) {
			uint64_t r = xorshift(&rng);

			if (r % 4 == 0)
				body_len = (size_t)(r >> 8) % (body_len + 1);
			else if (body_len)
				mut[(r >> 8) % body_len] = (uint8_t)(r >> 40);
		}
		if (decode_both(mut, body_len, &v))
			accepted++;
		else
			declined++;
		if (check_failures != failures_before) {
			CHECK(0, "mutated frame %d: the in-place reader and protobuf-c disagree", i);
			stop();
		}
	}
	CHECK(accepted > 1000 && declined > 1000, "in %s", __func__);
	printf("chunk codec: %d encodings read both ways; mutated frames: %llu read in place and agreed, %llu left to protobuf-c\n",
	       combos * 2, (unsigned long long)accepted, (unsigned long long)declined);
	xport_buf_free(&b);
}

static uint8_t ring_byte(uint64_t seq, size_t i)
{
	return (uint8_t)(seq * 31 + i * 7 + (i >> 9));
}

static void ack_upto(struct xport *x, uint64_t seq)
{
	Ftvm__Ack a = FTVM__ACK__INIT;
	uint8_t msg[64];

	a.acked_seq = seq;
	a.credit_chunks = 1u << 30;
	a.credit_bytes = 1ull << 40;
	CHECK(ftvm__ack__get_packed_size(&a) <= sizeof(msg), "in %s", __func__);
	CHECK(xport_detached_message(x, FTVM__ENVELOPE__BODY_ACK, msg, ftvm__ack__pack(&a, msg)) == 0, "in %s", __func__);
}

/*
 * The sender's payload ring under random sends and acks: after every step
 * each unacknowledged chunk still holds its own bytes (nothing overwritten
 * by a wrap), and a send is refused only when the window is really full.
 */
static void test_window_ring(uint32_t window_bytes, size_t small, size_t large)
{
	struct xport_config cfg = { .role = XPORT_ROLE_PRIMARY, .vm_id = "vm", .epoch = 3,
				    .window_chunks = 16, .window_bytes = window_bytes };
	static uint8_t buf[100000];
	unsigned grown = 0;
	size_t last_cap = 0;
	uint64_t rng = 88172645463325252ull, acked = 0, wraps = 0, refused = 0;
	size_t last_tail = 0, last_end = 0;
	int failures_before = check_failures;
	struct xport *x;

	CHECK(xport_detached_new(&cfg, NULL, &x) == 0, "in %s", __func__);
	ack_upto(x, 0);
	for (int step = 0; step < 20000; step++) {
		uint64_t r = xorshift(&rng);

		if (r % 3 || x->next_seq - 1 == acked) {
			size_t len = (size_t)(r >> 8) % (r % 7 ? small : large + 1);
			uint64_t seq = x->next_seq;
			int err;

			for (size_t i = 0; i < len; i++)
				buf[i] = ring_byte(seq, i);
			err = xport_send_chunk(x, 0, buf, len, &seq);
			if (err == -ENOBUFS) {
				CHECK(x->win_count == cfg.window_chunks || x->win_bytes + len > cfg.window_bytes, "in %s", __func__);
				refused++;
			} else {
				CHECK(err == 0 && seq == x->next_seq - 1, "in %s", __func__);
				wraps += x->ring_tail < last_tail;
				last_tail = x->ring_tail;
				grown += x->ring_cap != last_cap;
				last_cap = x->ring_cap;
			}
		} else {
			acked += 1 + (r >> 8) % (x->next_seq - 1 - acked);
			ack_upto(x, acked);
			CHECK(x->acked_seq == acked, "in %s", __func__);
		}
		/* The ring's books: [ring_head, ring_tail) is exactly the chunks, laid end to end or restarting at 0. */
		for (uint32_t k = 0; k < x->win_count; k++) {
			const struct xport_chunk *ch = &x->win[(x->win_head + k) % cfg.window_chunks];
			size_t off = (size_t)(ch->payload - x->ring);

			CHECK(ch->payload >= x->ring && ch->payload + ch->len <= x->ring + x->ring_cap, "in %s", __func__);
			if (k == 0)
				CHECK(off == x->ring_head, "in %s", __func__);
			else
				CHECK(off == 0 || off == last_end, "in %s", __func__);
			last_end = off + ch->len;
			if (k == x->win_count - 1)
				CHECK(last_end == x->ring_tail, "in %s", __func__);
			for (size_t i = 0; i < ch->len; i++)
				if (ch->payload[i] != ring_byte(ch->seq, i)) {
					CHECK(0, "step %d: chunk %llu byte %zu overwritten", step, (unsigned long long)ch->seq, i);
					stop();
				}
		}
		if (check_failures != failures_before) {
			CHECK(0, "window ring wrong after step %d", step);
			stop();
		}
	}
	CHECK(wraps > 100 && refused > 10, "%llu wraps, %llu refused", (unsigned long long)wraps,
	      (unsigned long long)refused);
	CHECK(x->ring_cap <= 2 * (size_t)window_bytes + 1, "ring of %zu bytes", x->ring_cap);
	CHECK(window_bytes < (64u << 10) || grown > 2, "ring sizes: %u", grown);
	printf("window ring of %u bytes: %llu chunks, %llu wraps, %llu sends refused with the window full, %u ring sizes (last %zu)\n",
	       window_bytes, (unsigned long long)x->next_seq - 1, (unsigned long long)wraps, (unsigned long long)refused,
	       grown, x->ring_cap);
	xport_free(x);
}

int main(void)
{
	struct xport_buf b = { 0 };
	const uint8_t *body;
	uint32_t len;
	struct xport *x;
	uint8_t big[4] = { 0x00, 0x40, 0x00, 0x01 };

	log_init("test_frame", 1, false);
	/* RFC 3720 appendix B.4 check value. */
	CHECK(crc32c(0, "123456789", 9) == 0xe3069283u, "in %s", __func__);
	CHECK(crc32c(crc32c(0, "1234", 4), "56789", 5) == 0xe3069283u, "in %s", __func__);
	{
		/* The interleaved long-buffer path agrees with the byte-serial one (pieces shorter than 12 KiB). */
		static uint8_t big_buf[100003];
		uint32_t whole, pieces = 0;

		for (size_t i = 0; i < sizeof(big_buf); i++)
			big_buf[i] = (uint8_t)(i * 2654435761u >> 13);
		whole = crc32c(0, big_buf, sizeof(big_buf));
		for (size_t off = 0; off < sizeof(big_buf); off += 7001)
			pieces = crc32c(pieces, big_buf + off, sizeof(big_buf) - off < 7001 ? sizeof(big_buf) - off : 7001);
		CHECK(whole == pieces, "in %s", __func__);
		/* And both agree with the definition: a bit at a time, reflected polynomial 0x82F63B78. */
		{
			uint32_t ref = ~0u;

			for (size_t i = 0; i < sizeof(big_buf); i++) {
				ref ^= big_buf[i];
				for (int k = 0; k < 8; k++)
					ref = ref & 1 ? (ref >> 1) ^ 0x82f63b78u : ref >> 1;
			}
			CHECK(whole == ~ref, "crc32c %08x, bitwise %08x", whole, ~ref);
		}
	}

	/* One byte over the limit is refused from the header alone, before any allocation. */
	b.data = big;
	b.len = b.cap = 4;
	CHECK(xport_frame_next(&b, &body, &len) == -EMSGSIZE && len == XPORT_MAX_FRAME + 1, "in %s", __func__);
	b = (struct xport_buf){ 0 };

	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	CHECK(xport_frame_next(&b, &body, &len) == 1 && len + 4 == b.len, "in %s", __func__);
	CHECK(xport_frame_next(&b, &body, &len) == 0, "in %s", __func__);
	b.off = b.len = 0;

	/* In order, duplicates dropped, gaps, bad checksums and excess credit refused. */
	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	put_chunk(&b, 1, "one", 0);
	put_chunk(&b, 2, "two", 0);
	put_chunk(&b, 1, "one", 0);
	CHECK(feed(x, &b) == 0, "in %s", __func__);
	CHECK(delivered == 2 && last_seq == 2 && x->st.chunks_duplicate == 1, "in %s", __func__);
	put_chunk(&b, 4, "four", 0);
	CHECK(feed(x, &b) == -EPROTO && delivered == 2, "in %s", __func__);
	xport_free(x);

	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	put_chunk(&b, 1, "bad", 1);
	CHECK(feed(x, &b) == -EPROTO && x->st.protocol_errors == 1, "in %s", __func__);
	xport_free(x);

	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	for (int i = 1; i <= 5; i++)
		put_chunk(&b, (uint64_t)i, "x", 0);
	CHECK(feed(x, &b) == -EPROTO && x->recv_seq == 4, "in %s", __func__);
	xport_free(x);

	/* Wrong epoch, wrong role, a chunk before Hello. */
	x = detached();
	put_hello(&b, 4, FTVM__ROLE__ROLE_PRIMARY);
	CHECK(feed(x, &b) == -EPROTO, "in %s", __func__);
	xport_free(x);
	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_BACKUP);
	CHECK(feed(x, &b) == -EPROTO, "in %s", __func__);
	xport_free(x);
	x = detached();
	put_chunk(&b, 1, "early", 0);
	CHECK(feed(x, &b) == -EPROTO, "in %s", __func__);
	xport_free(x);

	/* A truncated stream is just incomplete: nothing happens until more arrives. */
	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	CHECK(xport_detached_feed(x, b.data, b.len - 1) == 0 && x->active == NULL, "in %s", __func__);
	CHECK(xport_detached_feed(x, b.data + b.len - 1, 1) == 0 && x->active != NULL, "in %s", __func__);
	b.off = b.len = 0;
	xport_free(x);

	xport_buf_free(&b);
	test_chunk_codec();
	test_window_ring(5000, 1500, 5000);
	/* Large enough that the ring starts small and grows, packing the live chunks each time. */
	test_window_ring(400000, 20000, 100000);
	return check_done("test_frame");
}
