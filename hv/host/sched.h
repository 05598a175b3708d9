/* SPDX-License-Identifier: MIT */
/* sched: host threads on the path of held output ask the scheduler for short slices. */
#ifndef HV_HOST_SCHED_H
#define HV_HOST_SCHED_H

#include <stdbool.h>

/*
 * short_slice: the calling thread wakes often and runs briefly (the log
 * writer, the channel's I/O loop), and held output waits on its hand-offs.
 * A short slice lets its wake-ups preempt the threads that keep the cores
 * busy (the guest, the backup's replay) instead of waiting out their slices.
 * false: the scheduler's default again (a thread inherits its creator's).
 * Linux 6.12's scheduler honours it (sched_runtime of a normal thread);
 * elsewhere it changes nothing. Needs no privilege; 0 or -errno.
 */
int host_sched_slice(bool short_slice);

#endif
