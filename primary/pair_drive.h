/* SPDX-License-Identifier: MIT */
/* pair_drive: a daemon's event loop driving pair_sm: events in turn, actions carried out, the arbiter asked. */
#ifndef PRIMARY_PAIR_DRIVE_H
#define PRIMARY_PAIR_DRIVE_H

#include "pair_sm.h"

#include <stdbool.h>
#include <stdint.h>

struct ft_arbiter;

/* What the daemon does with the machine's word. All calls come from the loop thread that feeds it. */
struct pair_drive_ops {
	bool (*over)(void *opaque);	/* the run is over: nothing more is fed */
	/* Carry out one action (TAKE_ARBITER is the driver's); after_lost: it follows the arbiter's LOST. */
	void (*act)(void *opaque, const struct pair_action *a, bool after_lost);
	void (*stepped)(void *opaque, enum pair_state was);	/* after each event, with the state before it */
	void (*unreachable)(void *opaque, const char *why, unsigned retry_ms);	/* the arbiter: asked again later */
};

struct pair_drive {
	struct pair_sm sm;
	const char *who;		/* "primary", "backup": for the log */
	const struct pair_drive_ops *ops;
	void *opaque;
	struct ft_arbiter *arb;
	const char *name;		/* ours, at the arbiter */
	uint64_t won;			/* an epoch won before the loop ran: the answer to the machine's first take */
	bool busy;
	struct pair_event pending[8];	/* events that came while actions ran */
	int npending;
	char arb_why[512];		/* the arbiter's last word on a take */
	char take_why[128];		/* why the machine asked for it */
	unsigned retry_ms;		/* unreachable: the next try's delay (100 ms doubling to 2 s) */
	uint64_t retry_at_ms;
	uint64_t trips;			/* the arbiter's round trips spent on takes */
};

/*
 * The daemons' machine: the channel streams, acks and carries the
 * heartbeats (driver_streams, no silence timeout of its own); a protected
 * primary's output also waits for its own log, which the session sees to.
 */
void pair_drive_init(struct pair_drive *d, uint32_t heartbeat_ms, const char *who, struct ft_arbiter *arb,
		     const char *name, const struct pair_drive_ops *ops, void *opaque);
/*
 * Feed one event and carry out its actions in order. An event fed while
 * they run (a send that loses the link) waits its turn; a TAKE_ARBITER is
 * asked of the store (blocking within its time bound) and its answer is the
 * next event.
 */
void pair_drive_feed(struct pair_drive *d, struct pair_event ev);
/* Every heartbeat: TIMER, except while an unreachable arbiter's backoff runs. */
void pair_drive_tick(struct pair_drive *d);

#endif
