/* SPDX-License-Identifier: MIT */
/* rr_clock: guest clock adjustments (rate refits, idle wake-ups), logged as CLOCK events. */
#include "rr.h"

#include <errno.h>
#include <string.h>

int rr_clock_save(const struct hv_event *in, struct rr_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = RR_CLOCK;
	out->icount = in->icount;
	out->anchor_mtime = in->clock.anchor_mtime;
	out->rate_q32 = in->clock.rate_q32;
	return 0;
}

int rr_clock_load(const struct rr_event *in, struct hv_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = HV_EV_CLOCK;
	out->icount = in->icount;
	out->clock.anchor_mtime = in->anchor_mtime;
	out->clock.rate_q32 = in->rate_q32;
	return 0;
}
