/* SPDX-License-Identifier: MIT */
/* queue: the bounded replay queue between the recording vCPU and its consumers (disk, network). */
#ifndef HV_RR_QUEUE_H
#define HV_RR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define RQ_MAX_CONSUMERS 4

struct rq;

struct rq_stats {
	uint64_t items, bytes;		/* pushed so far */
	uint64_t pauses, paused_ns;	/* producer waits for the slowest consumer */
	size_t held_items, held_bytes;	/* in the queue now */
};

/* A queue holding at most max_items chunks and max_bytes bytes. */
struct rq *rq_new(size_t max_items, size_t max_bytes);
/* Consumers must be added before the first push; returns the consumer id or -errno. */
int rq_add_consumer(struct rq *q);
/*
 * A consumer joining late (a backup that returns): it starts at the next item
 * pushed, whose index (0 = the first item ever pushed) goes to *first; the
 * items before it must be read from where they were kept (the log file).
 * Reuses a detached consumer's slot. Returns the consumer id or -errno.
 */
int rq_add_consumer_at_head(struct rq *q, uint64_t *first);
/*
 * Before the first push: the first item's index is index, not 0 (a recorder
 * that continues a log numbers its chunks on from those already in the file).
 * -EBUSY after a push.
 */
int rq_start_at(struct rq *q, uint64_t index);
/*
 * Append a copy of buf. While the slowest consumer keeps the queue full the
 * producer waits (counted in pauses / paused_ns); nothing is ever dropped.
 * -EPIPE if the queue was closed, -EMSGSIZE if len exceeds max_bytes.
 */
int rq_push(struct rq *q, const void *buf, size_t len) __attribute__((warn_unused_result));
/* The same, with a tag the consumers get back (the recorder: the chunk's end step). */
int rq_push_tagged(struct rq *q, const void *buf, size_t len, uint64_t tag)
	__attribute__((warn_unused_result));
/*
 * The next item after consumer id's cursor, waiting for one. Returns 1 with
 * buf and len set (valid until rq_release), 0 once the queue is closed and drained.
 */
int rq_next(struct rq *q, int id, const uint8_t **buf, size_t *len);
/* Without waiting: 1 with the item (and its tag if tag is not NULL), 0 if none now, -EPIPE once closed and drained. */
int rq_try_next(struct rq *q, int id, const uint8_t **buf, size_t *len, uint64_t *tag);
/* The tag of the item rq_next last gave consumer id. */
uint64_t rq_tag(struct rq *q, int id);
/* An eventfd (or any fd) the queue writes 8 bytes to on every push and on close: wakes an event loop. */
void rq_set_notify_fd(struct rq *q, int fd);
/* Consumer id is done with the item rq_next gave it. */
void rq_release(struct rq *q, int id);
/*
 * A consumer that will read no more (its sink failed): it stops gating the
 * producer, and from now on rq_next returns 0 and rq_try_next -EPIPE for it
 * (the items it had not released may be freed).
 */
void rq_detach(struct rq *q, int id);
/* No more pushes: consumers drain what is left, then rq_next returns 0. */
void rq_close(struct rq *q);
void rq_get_stats(struct rq *q, struct rq_stats *st);
void rq_free(struct rq *q);

#endif
