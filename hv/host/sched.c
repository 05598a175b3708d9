/* SPDX-License-Identifier: MIT */
/* sched: short scheduler slices for the threads output waits on. */
#include "hv/host/sched.h"

#include <errno.h>
#include <linux/sched.h>
#include <linux/sched/types.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The scheduler's lower bound: about as long as one hand-off runs. */
#define SHORT_SLICE_NS 100000ULL

int host_sched_slice(bool short_slice)
{
	struct sched_attr a = { 0 };

	/* Only the slice changes: the policy and nice value stay what the operator gave. */
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0))
		return -errno;
	if (a.sched_policy != SCHED_NORMAL)
		return 0;
	a.size = sizeof(a);
	a.sched_flags = 0;
	a.sched_runtime = short_slice ? SHORT_SLICE_NS : 0;
	return syscall(SYS_sched_setattr, 0, &a, 0) ? -errno : 0;
}
