/* SPDX-License-Identifier: MIT */
/* output_commit: held outputs, sealed with their step, released once the log is safe that far. */
#include "hv/rr/output_commit.h"

#include <errno.h>
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
	/* vCPU thread only */
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
	*oc->tail = it;
	oc->tail = &it->next;
	if (!oc->first_unsealed)
		oc->first_unsealed = it;
	oc->st.held++;
	oc->st.held_now++;
	oc->st.held_bytes_now += len;
	return 0;
}

void oc_seal(struct oc *oc, uint64_t step)
{
	uint64_t t = 0;

	for (struct oc_item *it = oc->first_unsealed; it; it = it->next) {
		if (!t)
			t = now_ns();
		it->step = step;
		it->sealed_ns = t;
		oc->last_sealed = step;
	}
	oc->first_unsealed = NULL;
}

bool oc_waiting(const struct oc *oc)
{
	return oc->head && oc->last_sealed > oc_safe(oc);
}

bool oc_holding(const struct oc *oc)
{
	return oc->head != NULL;
}

uint64_t oc_last_sealed(const struct oc *oc)
{
	return oc->last_sealed;
}

bool oc_over_limit(const struct oc *oc)
{
	return oc->st.held_bytes_now > OC_MAX_HELD_BYTES;
}

size_t oc_release(struct oc *oc, oc_emit_fn *emit, void *opaque)
{
	uint64_t safe = oc_safe(oc), t = 0, drained;
	size_t n = 0;

	if (read(oc->efd, &drained, sizeof(drained)) < 0) {
		/* EAGAIN: nobody moved the watermark since the last look */
	}
	if (oc_failed(oc))
		return 0;
	while (oc->head && oc->head->step != UNSEALED && oc->head->step <= safe) {
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
	return n;
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

void oc_get_stats(const struct oc *oc, struct oc_stats *st)
{
	*st = oc->st;
	st->safe_step = oc_safe(oc);
}
