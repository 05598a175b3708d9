/* SPDX-License-Identifier: MIT */
/*
 * pair_drive: the one place where a daemon's loop meets pair_sm. The
 * machine has no clock and no I/O; this gives it the loop's time, keeps
 * events in order while their actions run, and asks the arbiter for it.
 */
#include "pair_drive.h"
#include "pair.h"
#include "transport/log.h"
#include "transport/xport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint64_t now_ms(void)
{
	return xport_now_us() / 1000;
}

void pair_drive_init(struct pair_drive *d, uint32_t heartbeat_ms, const char *who, struct ft_arbiter *arb,
		     const char *name, const struct pair_drive_ops *ops, void *opaque)
{
	struct pair_config cfg = { .heartbeat_ms = heartbeat_ms, .dead_ms = UINT32_MAX / 2,
				   .resend_ms = UINT32_MAX / 2, .window_steps = UINT64_MAX / 4,
				   .release_on_ack_only = true, .driver_streams = true };

	memset(d, 0, sizeof(*d));
	pair_sm_init(&d->sm, &cfg);
	d->who = who;
	d->arb = arb;
	d->name = name;
	d->ops = ops;
	d->opaque = opaque;
}

/* TAKE_ARBITER: the store's answer, as the next event. */
static struct pair_event ask(struct pair_drive *d, uint64_t expect)
{
	struct pair_event ev = { .kind = PE_ARBITER_RESULT, .arb_epoch = expect + 1 };

	if (d->won && d->won == expect + 1) {
		d->won = 0;
		ev.arb = PA_WON;
		return ev;
	}
	uint64_t trips = ft_arbiter_round_trips(d->arb);
	int rc = ft_arbiter_take(d->arb, expect, d->name, d->arb_why, sizeof(d->arb_why));
	d->trips += ft_arbiter_round_trips(d->arb) - trips;
	if (!rc) {
		ev.arb = PA_WON;
		d->retry_ms = 0;
	} else if (rc == -EAGAIN) {
		ev.arb = PA_LOST;
	} else {
		/* Nobody serves without the arbiter: the machine holds its ground; ask again after a backoff. */
		ev.arb = PA_UNREACHABLE;
		d->retry_ms = d->retry_ms ? (d->retry_ms * 2 > 2000 ? 2000 : d->retry_ms * 2) : 100;
		d->retry_at_ms = now_ms() + d->retry_ms;
		d->ops->unreachable(d->opaque, d->arb_why, d->retry_ms);
	}
	return ev;
}

void pair_drive_feed(struct pair_drive *d, struct pair_event ev)
{
	struct pair_action act[64];

	if (d->busy) {
		if (d->npending < (int)(sizeof(d->pending) / sizeof(d->pending[0])))
			d->pending[d->npending++] = ev;
		else
			log_warnx("%s: pair event %s dropped: too many at once", d->who, pair_event_name(ev.kind));
		return;
	}
	d->busy = true;
	for (;;) {
		enum pair_state was = d->sm.state;
		uint64_t take = 0;
		if (d->ops->over(d->opaque))
			break;
		ev.now_ms = now_ms();
		bool lost = ev.kind == PE_ARBITER_RESULT && ev.arb == PA_LOST;
		int n = pair_sm_step(&d->sm, &ev, act, (int)(sizeof(act) / sizeof(act[0])));
		for (int i = 0; i < n; i++) {
			if (act[i].kind != PX_TAKE_ARBITER) {
				d->ops->act(d->opaque, &act[i], lost);
				continue;
			}
			take = act[i].epoch + 1;
			snprintf(d->take_why, sizeof(d->take_why), "%s", d->sm.why ? d->sm.why : "");
		}
		if (d->sm.state != was)
			log_info("%s: pair: %s -> %s (%s), epoch %" PRIu64, d->who, pair_state_name(was),
				 pair_state_name(d->sm.state), d->sm.why ? d->sm.why : "", d->sm.epoch);
		d->ops->stepped(d->opaque, was);
		if (take) {
			ev = ask(d, take - 1);
			continue;
		}
		if (!d->npending)
			break;
		ev = d->pending[0];
		memmove(d->pending, d->pending + 1, --d->npending * sizeof(d->pending[0]));
	}
	d->npending = 0;
	d->busy = false;
}

void pair_drive_tick(struct pair_drive *d)
{
	if (d->sm.state != PS_TAKING || now_ms() >= d->retry_at_ms)
		pair_drive_feed(d, (struct pair_event){ .kind = PE_TIMER });
}
