/* SPDX-License-Identifier: MIT */
/* test_output_commit: held outputs leave in order, only once their step is safe, never after a failure, from either thread. */
#include "hv/rr/output_commit.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sink {
	char got[4096];
	size_t len;
	int consoles, frames;
};

static void emit(void *opaque, enum oc_kind kind, const uint8_t *data, size_t len)
{
	struct sink *s = opaque;

	memcpy(s->got + s->len, data, len);
	s->len += len;
	s->got[s->len] = '\0';
	if (kind == OC_CONSOLE)
		s->consoles++;
	else
		s->frames++;
}

static int hold(struct oc *oc, enum oc_kind kind, const char *s)
{
	return oc_hold(oc, kind, (const uint8_t *)s, strlen(s));
}

static void test_order_and_watermark(void)
{
	struct oc *oc = oc_new();
	struct sink s = { .len = 0 };

	CHECK(oc != NULL);
	CHECK(!oc_holding(oc) && !oc_waiting(oc));
	CHECK(hold(oc, OC_CONSOLE, "a") == 0 && hold(oc, OC_NET, "b") == 0);
	/* Unsealed output never leaves, whatever the watermark says. */
	oc_set_safe(oc, 1000);
	CHECK_EQ(oc_release(oc, emit, &s), 0, "released before sealing");
	oc_seal(oc, 2000);
	CHECK(oc_waiting(oc), "sealed past the safe step: waiting");
	CHECK_EQ(oc_release(oc, emit, &s), 0, "released before safe");
	CHECK(hold(oc, OC_CONSOLE, "c") == 0);
	oc_seal(oc, 3000);
	oc_set_safe(oc, 2999);
	CHECK_EQ(oc_release(oc, emit, &s), 2, "the two outputs of step 2000");
	CHECK(!strcmp(s.got, "ab"), "got %s", s.got);
	oc_set_safe(oc, 1);	/* the watermark never moves back */
	CHECK_EQ(oc_safe(oc), 2999, "watermark after a lower value");
	oc_set_safe(oc, 3000);
	CHECK_EQ(oc_release(oc, emit, &s), 1, "the output of step 3000");
	CHECK(!strcmp(s.got, "abc") && s.consoles == 2 && s.frames == 1);
	CHECK(!oc_holding(oc));
	struct oc_stats st;
	oc_get_stats(oc, &st);
	CHECK_EQ(st.held, 3, "held");
	CHECK_EQ(st.released, 3, "released");
	CHECK_EQ(st.held_now, 0, "held now");
	oc_free(oc);
}

static void test_failure_holds_forever(void)
{
	struct oc *oc = oc_new();
	struct sink s = { .len = 0 };

	CHECK(hold(oc, OC_NET, "x") == 0);
	oc_seal(oc, 10);
	oc_fail(oc, -ENOSPC);
	oc_set_safe(oc, 100);
	CHECK_EQ(oc_release(oc, emit, &s), 0, "released after the log failed");
	CHECK(oc_failed(oc) == -ENOSPC);
	oc_free(oc);	/* frees what it still holds (ASan checks) */
}

struct mover {
	struct oc *oc;
	uint64_t to;
};

static void *move_watermark(void *arg)
{
	struct mover *m = arg;

	for (uint64_t i = 1; i <= m->to; i++)
		oc_set_safe(m->oc, i);
	return NULL;
}

/* Another thread moves the watermark; the fd wakes a poller; everything comes out in order. */
static void test_threads(void)
{
	struct oc *oc = oc_new();
	struct sink s = { .len = 0 };
	struct mover m = { oc, 100 };
	pthread_t t;

	for (int i = 0; i < 100; i++) {
		char c[2] = { (char)('0' + i % 10), 0 };
		CHECK(hold(oc, OC_CONSOLE, c) == 0);
		oc_seal(oc, (uint64_t)i + 1);
	}
	CHECK(pthread_create(&t, NULL, move_watermark, &m) == 0);
	while (s.len < 100) {
		struct pollfd p = { .fd = oc_fd(oc), .events = POLLIN };
		CHECK(poll(&p, 1, 5000) >= 0);
		oc_release(oc, emit, &s);
	}
	pthread_join(t, NULL);
	for (int i = 0; i < 100; i++)
		CHECK(s.got[i] == '0' + i % 10, "order at %d", i);
	oc_free(oc);
}

/* Frames leave from the thread that moves the watermark; console bytes wait for the vCPU thread. */
static void test_frames_any_thread(void)
{
	struct oc *oc = oc_new();
	struct sink s = { .len = 0 };

	CHECK(hold(oc, OC_NET, "a") == 0 && hold(oc, OC_CONSOLE, "b") == 0 && hold(oc, OC_NET, "c") == 0);
	oc_seal(oc, 10);
	oc_set_safe(oc, 9);
	CHECK_EQ(oc_release_frames(oc, emit, &s), 0, "frames released before safe");
	oc_set_safe(oc, 10);
	CHECK_EQ(oc_release_frames(oc, emit, &s), 1, "frames up to the console output");
	CHECK_EQ(oc_release(oc, emit, &s), 2, "the console output and the frame after it");
	CHECK(!strcmp(s.got, "abc"), "got %s", s.got);
	oc_free(oc);
}

struct releaser {
	struct oc *oc;
	struct sink *s;
	uint64_t to;
};

static void *release_frames(void *arg)
{
	struct releaser *r = arg;

	for (uint64_t i = 1; i <= r->to; i++) {
		oc_set_safe(r->oc, i);
		oc_release_frames(r->oc, emit, r->s);
	}
	return NULL;
}

/* The vCPU thread holds, seals and releases while another releases frames: each leaves once, in order. */
static void test_frames_race(void)
{
	struct oc *oc = oc_new();
	struct sink s = { .len = 0 };
	struct releaser r = { oc, &s, 1000 };
	pthread_t t;

	CHECK(pthread_create(&t, NULL, release_frames, &r) == 0);
	for (int i = 0; i < 1000; i++) {
		char c[2] = { (char)('a' + i % 26), 0 };
		CHECK(hold(oc, i % 7 ? OC_NET : OC_CONSOLE, c) == 0);
		oc_seal(oc, (uint64_t)i + 1);
		oc_release(oc, emit, &s);
	}
	pthread_join(t, NULL);
	oc_release(oc, emit, &s);
	CHECK_EQ(s.len, 1000, "released once each");
	for (int i = 0; i < 1000; i++)
		CHECK(s.got[i] == 'a' + i % 26, "order at %d", i);
	CHECK(!oc_holding(oc));
	oc_free(oc);
}

static void emit_count(void *opaque, enum oc_kind kind, const uint8_t *data, size_t len)
{
	(*(size_t *)opaque) += len;
}

static void test_limit_counts(void)
{
	struct oc *oc = oc_new();
	static uint8_t big[1 << 20];
	size_t bytes = 0;

	for (int i = 0; i < 40; i++)
		CHECK(oc_hold(oc, OC_NET, big, sizeof(big)) == 0);
	CHECK(oc_over_limit(oc), "40 MiB held is over the limit");
	oc_seal(oc, 7);
	oc_set_safe(oc, 7);
	CHECK_EQ(oc_release(oc, emit_count, &bytes), 40, "released");
	CHECK_EQ(bytes, 40u << 20, "bytes");
	CHECK(!oc_over_limit(oc) && !oc_holding(oc));
	oc_free(oc);
}

int main(void)
{
	test_order_and_watermark();
	test_failure_holds_forever();
	test_threads();
	test_frames_any_thread();
	test_frames_race();
	test_limit_counts();
	return check_done("test_output_commit");
}
