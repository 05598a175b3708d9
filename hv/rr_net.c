/* SPDX-License-Identifier: MIT */
/* rr_net: received Ethernet frames, logged as NET_RX events. */
#include "rr.h"

#include <errno.h>
#include <string.h>

int rr_net_save(const struct hv_event *in, struct rr_event *out)
{
	if (in->len < RR_NET_FRAME_MIN || in->len > RR_NET_FRAME_MAX)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = RR_NET_RX;
	out->icount = in->icount;
	out->data = in->data;
	out->len = in->len;
	return 0;
}

int rr_net_load(const struct rr_event *in, struct hv_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = HV_EV_NET_RX;
	out->icount = in->icount;
	out->data = in->data;
	out->len = in->len;
	return 0;
}
