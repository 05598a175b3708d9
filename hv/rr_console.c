/* SPDX-License-Identifier: MIT */
/* rr_console: console input bytes, logged as CONSOLE_IN events. */
#include "rr.h"

#include <errno.h>
#include <string.h>

int rr_console_save(const struct hv_event *in, struct rr_event *out)
{
	if (in->len < RR_CONSOLE_MIN || in->len > RR_CONSOLE_MAX)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = RR_CONSOLE_IN;
	out->icount = in->icount;
	out->data = in->data;
	out->len = in->len;
	return 0;
}

int rr_console_load(const struct rr_event *in, struct hv_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = HV_EV_CONSOLE_IN;
	out->icount = in->icount;
	out->data = in->data;
	out->len = in->len;
	return 0;
}
