/* SPDX-License-Identifier: MIT */
/* output_commit: held outputs, sealed with their step, released once the log is safe that far. */
#include "hv/rr/output_commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define UNSEALED UINT64_MAX

struct oc_item {
	struct oc_item *next;
	enum oc_kind kind;
	uint64_t step;	/* UNSEALED until the slice that produced it ends */
	uint64_t sealed_ns;
	size_t len;
	uint8_t data[];
};

struct oc {
	/* Under lock: the vCPU thread's, and a thread that releases frames (oc_release_frames). */
	pthread_mutex_t lock;
	struct oc_item *head, **tail;
	struct oc_item *first_unsealed;
	uint64_t last_sealed;	/* step of the newest sealed output */
	struct oc_stats st;
	/* shared: written with atomics */
	uint64_t safe_step;
	int failed;
	int efd;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct oc *oc_new(void)
{
	struct oc *oc = calloc(1, sizeof(*oc));

	if (!oc)
		return NULL;
	oc->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (oc->efd < 0) {
		free(oc);
		return NULL;
	}
	pthread_mutex_init(&oc->lock, NULL);
	oc->tail = &oc->head;
	return oc;
}

void oc_free(struct oc *oc)
{
	if (!oc)
		return;
	while (oc->head) {
		struct oc_item *it = oc->head;
		oc->head = it->next;
		free(it);
	}
	close(oc->efd);
	pthread_mutex_destroy(&oc->lock);
	free(oc);
}

int oc_fd(const struct oc *oc)
{
	return oc->efd;
}

int oc_hold(struct oc *oc, enum oc_kind kind, const uint8_t *data, size_t len)
{
	struct oc_item *it = malloc(sizeof(*it) + len);

	if (!it)
		return -ENOMEM;
	it->next = NULL;
	it->kind = kind;
	it->step = UNSEALED;
	it->len = len;
	memcpy(it->data, data, len);
	pthread_mutex_lock(&oc->lock);
	*oc->tail = it;
	oc->tail = &it->next;
	if (!oc->first_unsealed)
		oc->first_unsealed = it;
	oc->st.held++;
	oc->st.held_now++;
	oc->st.held_bytes_now += len;
	pthread_mutex_unlock(&oc->lock);
	return 0;
}

void oc_seal(struct oc *oc, uint64_t step)
{
	uint64_t t = 0;

	pthread_mutex_lock(&oc->lock);
	for (struct oc_item *it = oc->first_unsealed; it; it = it->next) {
		if (!t)
			t = now_ns();
		it->step = step;
		it->sealed_ns = t;
		oc->last_sealed = step;
	}
	oc->first_unsealed = NULL;
	pthread_mutex_unlock(&oc->lock);
}

bool oc_waiting(struct oc *oc)
{
	pthread_mutex_lock(&oc->lock);
	bool waiting = oc->head && oc->last_sealed > oc_safe(oc);
	pthread_mutex_unlock(&oc->lock);
	return waiting;
}

bool oc_holding(struct oc *oc)
{
	pthread_mutex_lock(&oc->lock);
	bool holding = oc->head != NULL;
	pthread_mutex_unlock(&oc->lock);
	return holding;
}

uint64_t oc_last_sealed(const struct oc *oc)
{
	return oc->last_sealed;	/* written by the vCPU thread, its only reader */
}

bool oc_over_limit(struct oc *oc)
{
	pthread_mutex_lock(&oc->lock);
	bool over = oc->st.held_bytes_now > OC_MAX_HELD_BYTES;
	pthread_mutex_unlock(&oc->lock);
	return over;
}

/* Emit, in order, the sealed outputs at the head whose step is safe; frames_only stops at console bytes. */
static size_t release(struct oc *oc, bool frames_only, oc_emit_fn *emit, void *opaque)
{
	uint64_t safe = oc_safe(oc), t = 0;
	size_t n = 0;

	pthread_mutex_lock(&oc->lock);
	while (!oc_failed(oc) && oc->head && oc->head->step != UNSEALED && oc->head->step <= safe &&
	       (!frames_only || oc->head->kind == OC_NET)) {
		struct oc_item *it = oc->head;
		if (!t)
			t = now_ns();
		uint64_t waited = t - it->sealed_ns;
		oc->st.wait_ns_total += waited;
		if (waited > oc->st.wait_ns_max)
			oc->st.wait_ns_max = waited;
		oc->head = it->next;
		if (!oc->head)
			oc->tail = &oc->head;
		emit(opaque, it->kind, it->data, it->len);
		oc->st.released++;
		oc->st.held_now--;
		oc->st.held_bytes_now -= it->len;
		free(it);
		n++;
	}
	pthread_mutex_unlock(&oc->lock);
	return n;
}

size_t oc_release(struct oc *oc, oc_emit_fn *emit, void *opaque)
{
	uint64_t drained;

	if (read(oc->efd, &drained, sizeof(drained)) < 0) {
		/* EAGAIN: nobody moved the watermark since the last look */
	}
	return release(oc, false, emit, opaque);
}

size_t oc_release_frames(struct oc *oc, oc_emit_fn *emit, void *opaque)
{
	return release(oc, true, emit, opaque);
}

void oc_set_safe(struct oc *oc, uint64_t step)
{
	uint64_t cur = __atomic_load_n(&oc->safe_step, __ATOMIC_ACQUIRE);
	uint64_t one = 1;

	while (step > cur &&
	       !__atomic_compare_exchange_n(&oc->safe_step, &cur, step, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE))
		;
	if (write(oc->efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: it is readable anyway */
	}
}

void oc_fail(struct oc *oc, int err)
{
	uint64_t one = 1;

	__atomic_store_n(&oc->failed, err < 0 ? err : -EIO, __ATOMIC_RELEASE);
	if (write(oc->efd, &one, sizeof(one)) < 0) {
		/* as above */
	}
}

uint64_t oc_safe(const struct oc *oc)
{
	return __atomic_load_n(&oc->safe_step, __ATOMIC_ACQUIRE);
}

int oc_failed(const struct oc *oc)
{
	return __atomic_load_n(&oc->failed, __ATOMIC_ACQUIRE);
}

void oc_get_stats(struct oc *oc, struct oc_stats *st)
{
	pthread_mutex_lock(&oc->lock);
	*st = oc->st;
	pthread_mutex_unlock(&oc->lock);
	st->safe_step = oc_safe(oc);
}
