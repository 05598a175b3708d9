/* SPDX-License-Identifier: MIT */
/*
 * clock: the guest clock as a source of non-determinism. The host side ties guest time to host
 * time (never read in the core); its CLOCK events (rate refits, idle wake-ups) go to and come from
 * the log.
 */
#include "hv/rr/det.h"
#include "hv/rr/rr.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define DET_CLOCK_PERIOD_MS 10
#define TICKS_PER_MS (HV_MTIME_HZ / 1000)
/* Beyond this lag the guest clock jumps instead of running fast. */
#define MAX_CATCHUP_TICKS (50 * TICKS_PER_MS)
/* A rate change smaller than 1/RATE_SLACK is not worth an event. */
#define RATE_SLACK 2000

static uint64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void det_clock_init(struct det_clock *c, bool virtual_time)
{
	c->virtual_time = virtual_time;
	c->host_t0_ns = virtual_time ? 0 : host_ns();
	c->last_fit_ns = c->host_t0_ns;
	c->last_fit_step = 0;
	c->events = 0;
}

uint64_t det_clock_host_mtime(const struct det_clock *c)
{
	return (host_ns() - c->host_t0_ns) / (1000000000ULL / HV_MTIME_HZ);
}

void det_clock_sync(struct det_clock *c, const struct hv_machine *m)
{
	if (c->virtual_time)
		return;
	uint64_t now = host_ns();
	c->host_t0_ns = now - hv_mtime(m) * (1000000000ULL / HV_MTIME_HZ);
	c->last_fit_ns = now;
	c->last_fit_step = hv_steps(m);
}

static int emit(struct det_clock *c, struct hv_machine *m, uint64_t anchor, uint64_t rate,
		det_apply_fn apply, void *opaque)
{
	struct hv_event ev = {
		.kind = HV_EV_CLOCK,
		.step = hv_steps(m),
		.clock = { .anchor_mtime = anchor, .rate_q32 = rate },
	};

	c->events++;
	return apply(opaque, &ev);
}

int det_clock_tick(struct det_clock *c, struct hv_machine *m, det_apply_fn apply, void *opaque)
{
	if (c->virtual_time)
		return 0;
	uint64_t now = host_ns();
	uint64_t dt_ns = now - c->last_fit_ns;
	if (dt_ns < DET_CLOCK_PERIOD_MS * 1000000ULL)
		return 0;

	uint64_t step = hv_steps(m);
	uint64_t steps = step - c->last_fit_step;
	c->last_fit_ns = now;
	c->last_fit_step = step;

	uint64_t host_mt = det_clock_host_mtime(c);
	uint64_t guest_mt = hv_mtime(m);
	struct hv_clock cur = hv_clock_get(m);
	uint64_t period = DET_CLOCK_PERIOD_MS * TICKS_PER_MS;
	uint64_t anchor = guest_mt, rate = cur.rate_q32;

	if (steps < 1000)	/* mostly idle: wake-ups keep time, nothing to fit */
		return 0;
	/* steps per tick over the last period, then aim to close the gap over the next one. */
	double steps_per_tick = (double)steps / ((double)dt_ns / (1e9 / HV_MTIME_HZ));
	int64_t gap = (int64_t)(host_mt - guest_mt);
	if (gap > (int64_t)MAX_CATCHUP_TICKS) {
		anchor = host_mt;
		gap = 0;
	}
	double want = (double)period + (double)gap;
	if (want < (double)period / 4)
		want = (double)period / 4;
	double r = want / ((double)period * steps_per_tick) * 4294967296.0;
	if (r < 1.0)
		r = 1.0;
	if (r > 1e15)
		r = 1e15;
	rate = (uint64_t)r;

	uint64_t diff = rate > cur.rate_q32 ? rate - cur.rate_q32 : cur.rate_q32 - rate;
	if (anchor == guest_mt && diff < cur.rate_q32 / RATE_SLACK)
		return 0;
	return emit(c, m, anchor, rate, apply, opaque);
}

int det_clock_idle_timeout_ms(const struct det_clock *c, const struct hv_machine *m,
			      uint64_t until_mtime)
{
	if (c->virtual_time)
		return 0;
	if (until_mtime == UINT64_MAX)
		return -1;
	uint64_t now = det_clock_host_mtime(c);
	if (until_mtime <= now)
		return 0;
	uint64_t ms = (until_mtime - now + TICKS_PER_MS - 1) / TICKS_PER_MS;
	return ms > 1000 ? 1000 : (int)ms;
}

int det_clock_wake(struct det_clock *c, struct hv_machine *m, uint64_t until_mtime,
		   det_apply_fn apply, void *opaque)
{
	uint64_t guest_mt = hv_mtime(m);
	uint64_t target;

	if (c->virtual_time) {
		if (until_mtime == UINT64_MAX)
			return 0;
		target = until_mtime;
	} else {
		target = det_clock_host_mtime(c);
		/* Restart the fit: the idle gap says nothing about execution speed. */
		c->last_fit_ns = host_ns();
		c->last_fit_step = hv_steps(m);
	}
	if (target <= guest_mt)
		return 0;
	return emit(c, m, target, hv_clock_get(m).rate_q32, apply, opaque);
}

/* The log form. */
int rr_clock_save(const struct hv_event *in, struct rr_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = RR_CLOCK;
	out->step = in->step;
	out->anchor_mtime = in->clock.anchor_mtime;
	out->rate_q32 = in->clock.rate_q32;
	return 0;
}

int rr_clock_load(const struct rr_event *in, struct hv_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = HV_EV_CLOCK;
	out->step = in->step;
	out->clock.anchor_mtime = in->anchor_mtime;
	out->clock.rate_q32 = in->rate_q32;
	return 0;
}
