/* SPDX-License-Identifier: MIT */
/* output_commit: the guest's outputs wait until the log holding their cause is safe (invariant 6). */
#ifndef HV_OUTPUT_COMMIT_H
#define HV_OUTPUT_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The vCPU thread holds each output (a frame, console bytes) and seals it
 * with the step at the end of the slice that produced it. Another thread
 * (the log writer, or the channel receiving the backup's acks) moves the
 * safe step forward; held outputs whose step is safe are released, in the
 * order the guest produced them, on the vCPU thread, or frames on the thread
 * that moved the step (oc_release_frames) when the network backend may send
 * from any thread. Nothing is dropped: past OC_MAX_HELD_BYTES the guest
 * waits (oc_over_limit) for the log.
 */
#define OC_MAX_HELD_BYTES (32u << 20)

enum oc_kind {
	OC_CONSOLE = 1,
	OC_NET = 2,
};

typedef void oc_emit_fn(void *opaque, enum oc_kind kind, const uint8_t *data, size_t len);

struct oc_stats {
	uint64_t held, released;		/* outputs */
	uint64_t held_bytes_now, held_now;	/* waiting now */
	uint64_t wait_ns_total, wait_ns_max;	/* from sealing to release */
	uint64_t safe_step;
};

struct oc;

struct oc *oc_new(void);
void oc_free(struct oc *oc);
/* Readable whenever the safe step moved: poll it in the vCPU thread's loop. */
int oc_fd(const struct oc *oc);

/* vCPU thread: hold an output (copied). -ENOMEM leaves the guest's output undone, never early. */
int oc_hold(struct oc *oc, enum oc_kind kind, const uint8_t *data, size_t len)
	__attribute__((warn_unused_result));
/* vCPU thread: every output held since the last seal was produced at or before step step. */
void oc_seal(struct oc *oc, uint64_t step);
/* vCPU thread: outputs sealed at a step the log does not yet cover. */
bool oc_waiting(struct oc *oc);
bool oc_over_limit(struct oc *oc);
/* vCPU thread: any output held at all; the step of the newest sealed one. */
bool oc_holding(struct oc *oc);
uint64_t oc_last_sealed(const struct oc *oc);
/* vCPU thread: emit every held output whose step is safe; returns how many. */
size_t oc_release(struct oc *oc, oc_emit_fn *emit, void *opaque);
/*
 * Any thread: emit the safe frames at the head of the queue, in order,
 * stopping at the first console output (a console write may block; the vCPU
 * thread takes it and what follows). emit runs under the queue's lock.
 */
size_t oc_release_frames(struct oc *oc, oc_emit_fn *emit, void *opaque);

/* Any thread: the log is safe up to step step (never moves back). */
void oc_set_safe(struct oc *oc, uint64_t step);
/* Any thread: nothing will ever be safe again (the log cannot be written): hold everything for good. */
void oc_fail(struct oc *oc, int err);
uint64_t oc_safe(const struct oc *oc);
/* 0, or the negative errno oc_fail was given. */
int oc_failed(const struct oc *oc);
void oc_get_stats(struct oc *oc, struct oc_stats *st);

#endif
