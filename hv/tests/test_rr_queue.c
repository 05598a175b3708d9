/* SPDX-License-Identifier: MIT */
/* test_rr_queue: the replay queue delivers everything in order to every consumer, the slowest one gates the producer, memory stays bounded. */
#include "hv/rq/queue.h"
#include "hv/tests/check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>

#define ITEMS 2000
#define MAX_ITEMS 16
#define MAX_BYTES (64 * 1024)


struct consumer {
	struct rq *q;
	int id;
	int delay_us;		/* per item: the slow one */
	int received;
	int out_of_order;
	int stop_after;		/* detach after this many (0: never) */
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	const uint8_t *buf;
	size_t len;

	while (rq_next(c->q, c->id, &buf, &len) == 1) {
		uint32_t seq;
		memcpy(&seq, buf, sizeof(seq));
		if (seq != (uint32_t)c->received || len != 100 + seq % 900)
			c->out_of_order++;
		c->received++;
		rq_release(c->q, c->id);
		if (c->delay_us) {
			struct timespec ts = { 0, c->delay_us * 1000L };
			nanosleep(&ts, NULL);
		}
		if (c->stop_after && c->received == c->stop_after) {
			rq_detach(c->q, c->id);
			break;
		}
	}
	return NULL;
}

static void run(int slow_us, int detach_after)
{
	struct rq *q = rq_new(MAX_ITEMS, MAX_BYTES);
	struct consumer fast = { .q = q }, slow = { .q = q, .delay_us = slow_us, .stop_after = detach_after };
	pthread_t tf, ts;
	uint8_t buf[1000];
	size_t max_held = 0;

	CHECK(q != NULL, "rq_new");
	fast.id = rq_add_consumer(q);
	slow.id = rq_add_consumer(q);
	CHECK(fast.id == 0 && slow.id == 1, "consumer ids %d %d", fast.id, slow.id);
	pthread_create(&tf, NULL, consume, &fast);
	pthread_create(&ts, NULL, consume, &slow);
	for (uint32_t i = 0; i < ITEMS; i++) {
		size_t len = 100 + i % 900;
		memset(buf, (int)i, sizeof(buf));
		memcpy(buf, &i, sizeof(i));
		CHECK(rq_push(q, buf, len) == 0, "push %u", i);
		struct rq_stats st;
		rq_get_stats(q, &st);
		CHECK(st.held_items <= MAX_ITEMS && st.held_bytes <= MAX_BYTES,
		      "queue holds %zu items, %zu bytes", st.held_items, st.held_bytes);
		if (st.held_bytes > max_held)
			max_held = st.held_bytes;
	}
	rq_close(q);
	pthread_join(tf, NULL);
	pthread_join(ts, NULL);

	struct rq_stats st;
	rq_get_stats(q, &st);
	CHECK(fast.received == ITEMS && fast.out_of_order == 0, "fast consumer got %d, %d out of order",
	      fast.received, fast.out_of_order);
	if (detach_after) {
		CHECK(slow.received == detach_after, "detached consumer got %d", slow.received);
	} else {
		CHECK(slow.received == ITEMS && slow.out_of_order == 0, "slow consumer got %d, %d out of order",
		      slow.received, slow.out_of_order);
		CHECK(st.pauses > 0 && st.paused_ns > 0, "a slow consumer never paused the producer");
	}
	CHECK(st.items == ITEMS, "pushed %llu", (unsigned long long)st.items);
	printf("slow %d us%s: %llu pauses, %.3f s paused, at most %zu bytes held\n", slow_us,
	       detach_after ? " (detaches)" : "", (unsigned long long)st.pauses, st.paused_ns / 1e9, max_held);
	CHECK(rq_push(q, buf, 10) == -EPIPE, "push after close");
	rq_free(q);
}

/* A continued log: the queue numbers its items on from those already in the file. */
static void start_at(void)
{
	struct rq *q = rq_new(4, 100);
	int id = rq_add_consumer(q);
	const uint8_t *buf;
	size_t len;
	uint64_t tag = 0, first = 0;

	CHECK(id == 0 && rq_start_at(q, 5) == 0, "start at item 5");
	CHECK(rq_push_tagged(q, "a", 1, 50) == 0 && rq_push_tagged(q, "b", 1, 60) == 0, "push");
	CHECK(rq_try_next(q, id, &buf, &len, &tag) == 1 && len == 1 && buf[0] == 'a' && tag == 50,
	      "the first consumer starts with the first item pushed");
	rq_release(q, id);
	CHECK(rq_start_at(q, 9) == -EBUSY, "not after a push");
	CHECK(rq_add_consumer(q) == -EBUSY, "no plain consumer after a push");
	int late = rq_add_consumer_at_head(q, &first);
	CHECK(late > 0 && first == 7, "a late consumer's first item is numbered on from 5 (%llu)",
	      (unsigned long long)first);
	CHECK(rq_push_tagged(q, "c", 1, 70) == 0, "push");
	CHECK(rq_try_next(q, late, &buf, &len, &tag) == 1 && buf[0] == 'c' && tag == 70, "late consumer");
	rq_release(q, late);
	rq_close(q);
	rq_free(q);
}

/*
 * A consumer detached while it still had items (its sink failed mid-way, say
 * the link dropped inside a send) gets none of them again: the other
 * consumer's release may have freed them already.
 */
static void detached(void)
{
	struct rq *q = rq_new(8, 1000);
	int a = rq_add_consumer(q), b = rq_add_consumer(q);
	const uint8_t *buf = NULL;
	size_t len = 0;

	CHECK(rq_push(q, "one", 3) == 0 && rq_push(q, "two", 3) == 0, "push");
	CHECK(rq_try_next(q, a, &buf, &len, NULL) == 1 && rq_try_next(q, b, &buf, &len, NULL) == 1, "both see one");
	rq_release(q, b);
	rq_release(q, b);
	rq_detach(q, a);
	struct rq_stats st;
	rq_get_stats(q, &st);
	CHECK(st.held_items == 0, "detaching lets the other consumer's releases free the items (%zu held)",
	      st.held_items);
	CHECK(rq_try_next(q, a, &buf, &len, NULL) == -EPIPE, "a detached consumer gets no freed item");
	CHECK(rq_next(q, a, &buf, &len) == 0, "nor waits for one");
	CHECK(rq_tag(q, a) == 0, "nor its tag");
	rq_close(q);
	rq_free(q);
}

int main(void)
{
	run(200, 0);		/* the slow consumer gates the producer; nothing is lost */
	run(0, 0);
	run(500, 50);		/* a consumer that gives up stops gating */
	struct rq *q = rq_new(4, 100);
	CHECK(rq_push(q, "x", 101) == -EMSGSIZE, "oversized item refused");
	rq_free(q);
	start_at();
	detached();
	return check_done("test_rr_queue");
}
