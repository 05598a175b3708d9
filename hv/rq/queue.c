/* SPDX-License-Identifier: MIT */
/* queue: a ring of chunks with one cursor per consumer; the slowest consumer gates the producer. */
#include "hv/rq/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * One mutex and two condition variables: the producer pushes a chunk every
 * few milliseconds at most, so a lock-free ring (liburcu's wfcqueue) would
 * buy nothing measurable while making the per-consumer cursors harder.
 */
struct rq_item {
	uint8_t *data;
	size_t len;
	uint64_t tag;
};

struct rq {
	pthread_mutex_t lock;
	pthread_cond_t not_full, not_empty;
	struct rq_item *ring;
	size_t max_items, max_bytes;
	uint64_t base;			/* index of the first item (rq_start_at) */
	uint64_t head;			/* index of the next item to push */
	uint64_t tail;			/* oldest item still held */
	uint64_t cursor[RQ_MAX_CONSUMERS];
	bool attached[RQ_MAX_CONSUMERS];
	int nconsumers;
	size_t held_bytes;
	bool closed;
	int notify_fd;
	struct rq_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct rq *rq_new(size_t max_items, size_t max_bytes)
{
	struct rq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ring = calloc(max_items, sizeof(*q->ring));
	if (!q->ring) {
		free(q);
		return NULL;
	}
	q->notify_fd = -1;
	q->max_items = max_items;
	q->max_bytes = max_bytes;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	return q;
}

int rq_add_consumer(struct rq *q)
{
	int id;

	pthread_mutex_lock(&q->lock);
	if (q->nconsumers == RQ_MAX_CONSUMERS || q->head != q->base) {
		pthread_mutex_unlock(&q->lock);
		return -EBUSY;
	}
	id = q->nconsumers++;
	q->attached[id] = true;
	q->cursor[id] = q->base;
	pthread_mutex_unlock(&q->lock);
	return id;
}

int rq_start_at(struct rq *q, uint64_t index)
{
	int rc = 0;

	pthread_mutex_lock(&q->lock);
	if (q->head != q->base) {
		rc = -EBUSY;
	} else {
		q->base = q->head = q->tail = index;
		for (int i = 0; i < q->nconsumers; i++)
			q->cursor[i] = index;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int rq_add_consumer_at_head(struct rq *q, uint64_t *first)
{
	int id = -EBUSY;

	pthread_mutex_lock(&q->lock);
	for (int i = 0; i < q->nconsumers; i++)
		if (!q->attached[i]) {
			id = i;
			break;
		}
	if (id < 0 && q->nconsumers < RQ_MAX_CONSUMERS)
		id = q->nconsumers++;
	if (id >= 0) {
		q->attached[id] = true;
		q->cursor[id] = q->head;
		*first = q->head;
	}
	pthread_mutex_unlock(&q->lock);
	return id;
}

/* Free items every attached consumer has passed. Called locked. */
static void reclaim(struct rq *q)
{
	uint64_t min = q->head;

	for (int i = 0; i < q->nconsumers; i++)
		if (q->attached[i] && q->cursor[i] < min)
			min = q->cursor[i];
	while (q->tail < min) {
		struct rq_item *it = &q->ring[q->tail % q->max_items];
		q->held_bytes -= it->len;
		free(it->data);
		it->data = NULL;
		q->tail++;
	}
	pthread_cond_broadcast(&q->not_full);
}

static void notify(struct rq *q)
{
	uint64_t one = 1;

	if (q->notify_fd >= 0 && write(q->notify_fd, &one, sizeof(one)) < 0) {
		/* an eventfd at its maximum count is still readable: nothing is lost */
	}
}

void rq_set_notify_fd(struct rq *q, int fd)
{
	pthread_mutex_lock(&q->lock);
	q->notify_fd = fd;
	pthread_mutex_unlock(&q->lock);
}

int rq_push(struct rq *q, const void *buf, size_t len)
{
	return rq_push_tagged(q, buf, len, 0);
}

int rq_push_tagged(struct rq *q, const void *buf, size_t len, uint64_t tag)
{
	uint8_t *copy;

	if (len > q->max_bytes)
		return -EMSGSIZE;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	pthread_mutex_lock(&q->lock);
	if (q->head - q->tail == q->max_items || q->held_bytes + len > q->max_bytes) {
		uint64_t t0 = now_ns();
		q->st.pauses++;
		while (!q->closed &&
		       (q->head - q->tail == q->max_items || q->held_bytes + len > q->max_bytes))
			pthread_cond_wait(&q->not_full, &q->lock);
		q->st.paused_ns += now_ns() - t0;
	}
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		free(copy);
		return -EPIPE;
	}
	q->ring[q->head % q->max_items] = (struct rq_item){ copy, len, tag };
	q->head++;
	q->held_bytes += len;
	q->st.items++;
	q->st.bytes += len;
	if (q->nconsumers == 0)
		reclaim(q);
	pthread_cond_broadcast(&q->not_empty);
	notify(q);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int rq_next(struct rq *q, int id, const uint8_t **buf, size_t *len)
{
	int rc = 0;

	pthread_mutex_lock(&q->lock);
	while (q->attached[id] && q->cursor[id] == q->head && !q->closed)
		pthread_cond_wait(&q->not_empty, &q->lock);
	/* A detached consumer's items may be freed already: it gets none. */
	if (q->attached[id] && q->cursor[id] < q->head) {
		struct rq_item *it = &q->ring[q->cursor[id] % q->max_items];
		*buf = it->data;
		*len = it->len;
		rc = 1;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int rq_try_next(struct rq *q, int id, const uint8_t **buf, size_t *len, uint64_t *tag)
{
	int rc = 0;

	pthread_mutex_lock(&q->lock);
	if (!q->attached[id]) {
		rc = -EPIPE;
	} else if (q->cursor[id] < q->head) {
		struct rq_item *it = &q->ring[q->cursor[id] % q->max_items];
		*buf = it->data;
		*len = it->len;
		if (tag)
			*tag = it->tag;
		rc = 1;
	} else if (q->closed) {
		rc = -EPIPE;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

uint64_t rq_tag(struct rq *q, int id)
{
	uint64_t tag = 0;

	pthread_mutex_lock(&q->lock);
	if (q->attached[id] && q->cursor[id] < q->head)
		tag = q->ring[q->cursor[id] % q->max_items].tag;
	pthread_mutex_unlock(&q->lock);
	return tag;
}

void rq_release(struct rq *q, int id)
{
	pthread_mutex_lock(&q->lock);
	if (q->cursor[id] < q->head)
		q->cursor[id]++;
	reclaim(q);
	pthread_mutex_unlock(&q->lock);
}

void rq_detach(struct rq *q, int id)
{
	pthread_mutex_lock(&q->lock);
	q->attached[id] = false;
	reclaim(q);
	pthread_cond_broadcast(&q->not_empty);	/* its rq_next returns 0 */
	pthread_mutex_unlock(&q->lock);
}

void rq_close(struct rq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	notify(q);
	pthread_mutex_unlock(&q->lock);
}

void rq_get_stats(struct rq *q, struct rq_stats *st)
{
	pthread_mutex_lock(&q->lock);
	*st = q->st;
	st->held_items = q->head - q->tail;
	st->held_bytes = q->held_bytes;
	pthread_mutex_unlock(&q->lock);
}

void rq_free(struct rq *q)
{
	if (!q)
		return;
	while (q->tail < q->head) {
		free(q->ring[q->tail % q->max_items].data);
		q->tail++;
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	free(q->ring);
	free(q);
}
