/* SPDX-License-Identifier: MIT */
/* Codec tests without a network: CRC-32C, frame bounds, and the message handlers on a detached channel. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/log.h"

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); \
	fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) FAIL("%s", #c); } while (0)

static uint64_t delivered, last_seq;

static void on_chunk(void *arg, uint64_t seq, uint64_t first_insn, const uint8_t *payload, size_t len)
{
	delivered++;
	last_seq = seq;
}

static void put(struct xport_buf *b, uint64_t epoch, Ftvm__Envelope *env)
{
	env->epoch = epoch;
	CHECK(xport_frame_put(b, env) == 0);
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
	m.crc32c = xport_crc32c(0, text, strlen(text)) ^ crc_xor;
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

	CHECK(xport_detached_new(&cfg, &cb, &x) == 0);
	return x;
}

static int feed(struct xport *x, struct xport_buf *b)
{
	int r = xport_detached_feed(x, b->data + b->off, b->len - b->off);

	b->off = b->len = 0;
	return r;
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
	CHECK(xport_crc32c(0, "123456789", 9) == 0xe3069283u);
	CHECK(xport_crc32c(xport_crc32c(0, "1234", 4), "56789", 5) == 0xe3069283u);
	{
		/* The interleaved long-buffer path agrees with the byte-serial one (pieces shorter than 12 KiB). */
		static uint8_t big_buf[100003];
		uint32_t whole, pieces = 0;

		for (size_t i = 0; i < sizeof(big_buf); i++)
			big_buf[i] = (uint8_t)(i * 2654435761u >> 13);
		whole = xport_crc32c(0, big_buf, sizeof(big_buf));
		for (size_t off = 0; off < sizeof(big_buf); off += 7001)
			pieces = xport_crc32c(pieces, big_buf + off,
					      sizeof(big_buf) - off < 7001 ? sizeof(big_buf) - off : 7001);
		CHECK(whole == pieces);
	}

	/* One byte over the limit is refused from the header alone, before any allocation. */
	b.data = big;
	b.len = b.cap = 4;
	CHECK(xport_frame_next(&b, &body, &len) == -EMSGSIZE && len == XPORT_MAX_FRAME + 1);
	b = (struct xport_buf){ 0 };

	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	CHECK(xport_frame_next(&b, &body, &len) == 1 && len + 4 == b.len);
	CHECK(xport_frame_next(&b, &body, &len) == 0);
	b.off = b.len = 0;

	/* In order, duplicates dropped, gaps, bad checksums and excess credit refused. */
	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	put_chunk(&b, 1, "one", 0);
	put_chunk(&b, 2, "two", 0);
	put_chunk(&b, 1, "one", 0);
	CHECK(feed(x, &b) == 0);
	CHECK(delivered == 2 && last_seq == 2 && x->st.chunks_duplicate == 1);
	put_chunk(&b, 4, "four", 0);
	CHECK(feed(x, &b) == -EPROTO && delivered == 2);
	xport_free(x);

	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	put_chunk(&b, 1, "bad", 1);
	CHECK(feed(x, &b) == -EPROTO && x->st.protocol_errors == 1);
	xport_free(x);

	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	for (int i = 1; i <= 5; i++)
		put_chunk(&b, (uint64_t)i, "x", 0);
	CHECK(feed(x, &b) == -EPROTO && x->recv_seq == 4);
	xport_free(x);

	/* Wrong epoch, wrong role, a chunk before Hello. */
	x = detached();
	put_hello(&b, 4, FTVM__ROLE__ROLE_PRIMARY);
	CHECK(feed(x, &b) == -EPROTO);
	xport_free(x);
	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_BACKUP);
	CHECK(feed(x, &b) == -EPROTO);
	xport_free(x);
	x = detached();
	put_chunk(&b, 1, "early", 0);
	CHECK(feed(x, &b) == -EPROTO);
	xport_free(x);

	/* A truncated stream is just incomplete: nothing happens until more arrives. */
	x = detached();
	put_hello(&b, 3, FTVM__ROLE__ROLE_PRIMARY);
	CHECK(xport_detached_feed(x, b.data, b.len - 1) == 0 && x->active == NULL);
	CHECK(xport_detached_feed(x, b.data + b.len - 1, 1) == 0 && x->active != NULL);
	b.off = b.len = 0;
	xport_free(x);

	xport_buf_free(&b);
	printf("PASS test_frame\n");
	return 0;
}
