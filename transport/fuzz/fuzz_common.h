/* SPDX-License-Identifier: MIT */
/* Shared set-up for the transport fuzzers: a detached receiver with a few chunks of its own in flight. */
#ifndef TRANSPORT_FUZZ_COMMON_H
#define TRANSPORT_FUZZ_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "transport/log.h"
#include "transport/xport_internal.h"

static void fuzz_on_chunk(void *arg, uint64_t seq, uint64_t first_step, const uint8_t *payload, size_t len)
{
	volatile uint8_t sink = len ? payload[0] ^ payload[len - 1] : 0;

	(void)sink;
}

static struct xport *fuzz_channel(void)
{
	static const struct xport_callbacks cb = { .on_chunk = fuzz_on_chunk };
	struct xport_config cfg = {
		.role = XPORT_ROLE_BACKUP,
		.vm_id = "vm",
		.epoch = 1,
		.window_chunks = 8,
		.credit_chunks = 16,
		.credit_bytes = 1 << 16,
	};
	struct xport *x;

	log_init("fuzz", -1, false);
	if (xport_detached_new(&cfg, &cb, &x))
		abort();
	/* Chunks of our own in flight, so that Acks have something to trim. */
	x->credit_seq_limit = 4;
	x->credit_bytes_limit = 1 << 16;
	for (int i = 0; i < 4; i++)
		if (xport_send_chunk(x, (uint64_t)i, "abc", 3, NULL))
			abort();
	return x;
}

/* The in-place LogChunk reader must decline a body or read exactly what protobuf-c reads. */
static void fuzz_check_chunk_view(const uint8_t *body, size_t len)
{
	struct xport_chunk_view v;
	Ftvm__Envelope *env;

	if (!xport_frame_chunk_view(body, len, &v))
		return;
	env = ftvm__envelope__unpack(NULL, len, body);
	if (!env || env->body_case != FTVM__ENVELOPE__BODY_CHUNK || env->epoch != v.epoch ||
	    env->chunk->seq != v.seq || env->chunk->first_step != v.first_step || env->chunk->crc32c != v.crc ||
	    env->chunk->payload.len != v.len || v.payload < body || v.payload + v.len > body + len ||
	    (v.len && memcmp(env->chunk->payload.data, v.payload, v.len) != 0))
		abort();
	ftvm__envelope__free_unpacked(env, NULL);
}

/* Bytes of a valid Hello frame for fuzz_channel(). */
static size_t fuzz_hello_frame(struct xport_buf *b)
{
	Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
	Ftvm__Hello h;

	ftvm__hello__init(&h);
	h.format_major = XPORT_FORMAT_MAJOR;
	h.role = FTVM__ROLE__ROLE_PRIMARY;
	h.vm_id = (char *)(uintptr_t)"vm";
	h.epoch = 1;
	env.epoch = 1;
	env.body_case = FTVM__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	if (xport_frame_put(b, &env))
		abort();
	return b->len;
}

#endif
