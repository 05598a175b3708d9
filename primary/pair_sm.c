/* SPDX-License-Identifier: MIT */
/*
 * pair_sm: the pair's protocol as a state machine. Events in, actions out,
 * no I/O, no clock (docs/pair-protocol.md has the states and the proof
 * obligations the simulator checks).
 *
 * The rules that keep a client's view safe:
 * - Nobody serves, or carries on alone, without winning the arbiter's
 *   compare-and-set of the epoch; a message of a newer epoch fences a
 *   primary (holds its output for good).
 * - Output at step s leaves only once every side that could take over holds
 *   chunk s in its log: a protected primary waits for the backup's ack and
 *   its own log, a primary alone for its own log.
 * - A backup may take over only once the primary said it is in sync
 *   (SYNCED, persisted): then its log holds every released output.
 * - The owner of an epoch may take over from its own log after a restart.
 */
#include "pair_sm.h"

#include <string.h>

struct out {
	struct pair_action *a;
	int n, max;
};

/* Actions kept back for room for the last ones of an event; pump() sends the rest later. */
#define PAIR_ACTION_RESERVE 12

static void emit(struct out *o, struct pair_action a)
{
	if (o->n < o->max)
		o->a[o->n++] = a;
}

static bool room(const struct out *o)
{
	return o->n + PAIR_ACTION_RESERVE < o->max;
}

static void tell(struct pair_sm *sm, struct out *o, enum pair_msg_kind k, uint64_t a, uint64_t b,
		 uint64_t c, bool flag)
{
	if (!sm->link_up)
		return;
	emit(o, (struct pair_action){ .kind = PX_SEND,
		.msg = { .kind = k, .epoch = sm->epoch, .a = a, .b = b, .c = c, .flag = flag } });
	sm->last_sent_ms = sm->now_ms;
}

static void persist(struct pair_sm *sm, struct out *o, uint64_t epoch, enum pair_vouch v)
{
	sm->epoch = epoch;
	sm->vouch = v;
	emit(o, (struct pair_action){ .kind = PX_PERSIST, .epoch = epoch, .vouch = v });
}

static void hist_note(struct pair_sm *sm, uint64_t tag, uint64_t step)
{
	if (sm->nhist && sm->hist[sm->nhist - 1].tag == tag)
		return;
	if (sm->nhist == PAIR_MAX_EPOCHS) {
		/* Forget the oldest epoch; a backup that old is sent everything again (agree_end). */
		memmove(sm->hist, sm->hist + 1, (PAIR_MAX_EPOCHS - 1) * sizeof(sm->hist[0]));
		sm->nhist--;
		sm->hist_forgot = true;
	}
	sm->hist[sm->nhist++] = (struct pair_hist){ .tag = tag, .first_step = step };
}

static void hist_cut(struct pair_sm *sm, uint64_t step)
{
	while (sm->nhist && sm->hist[sm->nhist - 1].first_step > step)
		sm->nhist--;
}

uint64_t pair_sm_tag_at(const struct pair_sm *sm, uint64_t step)
{
	uint64_t tag = 0;

	for (int i = 0; i < sm->nhist && sm->hist[i].first_step <= step; i++)
		tag = sm->hist[i].tag;
	return step ? tag : 0;
}

/* The last step of our history whose chunks were produced in an epoch no newer than tag. */
static uint64_t agree_end(const struct pair_sm *sm, uint64_t tag, uint64_t end)
{
	if (sm->hist_forgot && (!sm->nhist || tag < sm->hist[0].tag))
		return 0;
	for (int i = 0; i < sm->nhist; i++)
		if (sm->hist[i].tag > tag)
			return sm->hist[i].first_step - 1;
	return end;
}

bool pair_sm_serving(const struct pair_sm *sm)
{
	return sm->role == PAIR_PRIMARY &&
	       (sm->state == PS_PROTECTED || sm->state == PS_ALONE || sm->state == PS_PROMOTING ||
		(sm->state == PS_TAKING && sm->guest_started));
}

static void fence(struct pair_sm *sm, struct out *o, const char *why)
{
	sm->why = why;
	if (sm->state == PS_STOPPED)
		return;
	sm->state = PS_STOPPED;
	emit(o, (struct pair_action){ .kind = PX_HOLD_ALL_OUTPUT_FOREVER });
	emit(o, (struct pair_action){ .kind = PX_STOP_VM, .reason = why });
	emit(o, (struct pair_action){ .kind = PX_CLOSE_LINK });
	sm->link_up = false;
}

static void take(struct pair_sm *sm, struct out *o, const char *why)
{
	sm->why = why;
	sm->take_from = sm->state;
	sm->state = PS_TAKING;
	sm->arb_pending = true;
	emit(o, (struct pair_action){ .kind = PX_TAKE_ARBITER, .epoch = sm->epoch });
}

/* Primary: move the release watermark to what every possible successor holds. */
static void release(struct pair_sm *sm, struct out *o)
{
	uint64_t safe = 0;

	if (sm->role != PAIR_PRIMARY || !sm->guest_started)
		return;
	switch (sm->state) {
	case PS_PROTECTED:
	case PS_PROMOTING:
	case PS_TAKING:
		/* The ack covers the backup's log; ours must hold it too, or our own restart could lose it. */
		safe = sm->acked;
		if (!sm->cfg.release_on_ack_only && sm->local_written < safe)
			safe = sm->local_written;
		break;
	case PS_ALONE:
		safe = sm->local_written;
		break;
	default:
		return;
	}
	if (safe > sm->guest_step)
		safe = sm->guest_step;
	if (safe > sm->released) {
		sm->released = safe;
		emit(o, (struct pair_action){ .kind = PX_RELEASE_OUTPUT_UP_TO, .step = safe });
	}
}

/* Primary: send the chunks the backup lacks, within the window. */
static void pump(struct pair_sm *sm, struct out *o)
{
	if (sm->role != PAIR_PRIMARY || !sm->link_up || !sm->peer_ok || sm->cfg.driver_streams)
		return;
	if (sm->state != PS_PROTECTED && sm->state != PS_ALONE && sm->state != PS_PROMOTING)
		return;
	if (sm->sent < sm->acked)
		sm->sent = sm->acked;
	while (sm->sent < sm->guest_step && sm->sent < sm->acked + sm->cfg.window_steps && room(o)) {
		sm->sent++;
		tell(sm, o, PM_CHUNK, sm->sent, pair_sm_tag_at(sm, sm->sent), 0, false);
	}
}

/* Primary: the lag bound (--max-lag-ms) and the bounded queue pause the guest. */
static void pace(struct pair_sm *sm, struct out *o)
{
	bool want = false;

	if (sm->role != PAIR_PRIMARY || !sm->guest_started || sm->state == PS_PROMOTING || sm->cfg.driver_streams)
		return;
	if (sm->state == PS_PROTECTED)
		want = sm->guest_step > sm->replayed + sm->cfg.max_lag_steps ||
		       sm->guest_step > sm->acked + 2 * sm->cfg.window_steps;
	if (want && !sm->guest_paused) {
		sm->guest_paused = true;
		emit(o, (struct pair_action){ .kind = PX_PAUSE_GUEST });
	} else if (!want && sm->guest_paused) {
		sm->guest_paused = false;
		emit(o, (struct pair_action){ .kind = PX_RESUME_GUEST });
	}
}

static void say_hello(struct pair_sm *sm, struct out *o)
{
	tell(sm, o, PM_HELLO, sm->log_end, sm->log_tag, sm->role, sm->vouch == PV_SYNCED);
}

static void ack(struct pair_sm *sm, struct out *o)
{
	tell(sm, o, PM_ACK, sm->log_end, sm->rep_step, 0, sm->synced);
}

/* Either side: the peer is gone (link down or silent past dead_ms). */
static void peer_lost(struct pair_sm *sm, struct out *o, const char *why)
{
	sm->peer_ok = false;
	switch (sm->state) {
	case PS_PROTECTED:
	case PS_PROMOTING:
		/* The backup may hold SYNCED: carry on alone only with the arbiter's consent (invariant 5). */
		take(sm, o, why);
		break;
	case PS_FOLLOWING:
		if (sm->synced)
			take(sm, o, why);
		else {
			sm->why = "primary lost before this backup was in sync: waiting for a primary";
			sm->state = PS_RETURNING;
		}
		break;
	default:
		break;
	}
}

/* A backup learns of a newer epoch than the one it follows: start over as a returning backup. */
static void rejoin(struct pair_sm *sm, struct out *o, uint64_t epoch)
{
	sm->synced = false;
	sm->promoted = false;
	persist(sm, o, epoch, PV_NONE);
	sm->state = PS_RETURNING;
	say_hello(sm, o);
}

static void become_live(struct pair_sm *sm, struct out *o)
{
	sm->role = PAIR_PRIMARY;
	sm->state = PS_ALONE;
	sm->why = "live";
	sm->guest_step = sm->takeover_step;
	sm->released = sm->takeover_step;
	sm->local_written = sm->log_end;
	sm->acked = sm->sent = sm->replayed = 0;
	sm->peer_ok = false;
	sm->backup_synced = false;
	sm->guest_started = true;
	sm->guest_paused = false;
	emit(o, (struct pair_action){ .kind = PX_GO_LIVE, .step = sm->takeover_step });
	emit(o, (struct pair_action){ .kind = PX_CARRY_ON_UNPROTECTED });
	/* Our first word carries the new epoch: a promoting peer learns it was taken over. */
	tell(sm, o, PM_PROGRESS, sm->guest_step, 0, 0, false);
}

/* A promoting primary whose backup took over: its machine stands at promote_step, so it follows on. */
static void hand_over(struct pair_sm *sm, struct out *o, uint64_t epoch)
{
	sm->role = PAIR_BACKUP;
	sm->log_end = sm->local_written;
	sm->log_tag = pair_sm_tag_at(sm, sm->log_end);
	sm->rep_step = sm->promote_step;
	sm->guest_started = false;
	sm->why = "promoted the backup: now its backup";
	rejoin(sm, o, epoch);
}

static void catchup(struct pair_sm *sm, struct out *o)
{
	if (sm->state == PS_CATCHUP && sm->rep_step >= sm->takeover_step)
		become_live(sm, o);
}

static void on_arbiter(struct pair_sm *sm, const struct pair_event *in, struct out *o)
{
	if (sm->state != PS_TAKING || !sm->arb_pending)
		return;
	sm->arb_pending = false;
	if (in->arb == PA_WON || (in->arb == PA_LOST && in->arb_owner_is_us && in->arb_epoch == sm->epoch + 1)) {
		persist(sm, o, in->arb == PA_WON ? in->arb_epoch : sm->epoch + 1, PV_OWNER);
		if (sm->role == PAIR_PRIMARY && sm->guest_started) {
			sm->state = PS_ALONE;
			sm->why = "backup lost: carrying on unprotected";
			emit(o, (struct pair_action){ .kind = PX_CARRY_ON_UNPROTECTED });
			emit(o, (struct pair_action){ .kind = PX_CLOSE_LINK });
			sm->link_up = false;
			pace(sm, o);
			release(sm, o);
		} else if (sm->role == PAIR_PRIMARY) {
			sm->state = PS_WAIT_PEER;	/* a fresh primary: wait for the backup's hello */
			sm->why = "waiting for the backup";
		} else {
			sm->state = PS_CATCHUP;
			sm->takeover_step = sm->promoted ? sm->promote_step : sm->log_end;
			sm->why = "won: replaying the rest of the log";
			emit(o, (struct pair_action){ .kind = PX_REPLAY_UP_TO, .step = sm->takeover_step });
			catchup(sm, o);
		}
		return;
	}
	if (in->arb == PA_UNREACHABLE && !sm->cfg.fence_on_unreachable) {
		sm->arb_retry_ms = sm->now_ms + sm->cfg.heartbeat_ms;
		return;
	}
	if (in->arb == PA_LOST && sm->role == PAIR_BACKUP) {
		/* Our machine is a prefix of the winner's history: follow it as a returning backup. */
		rejoin(sm, o, in->arb_epoch);
		return;
	}
	if (in->arb == PA_LOST && sm->take_from == PS_PROMOTING && sm->promote_sent) {
		hand_over(sm, o, in->arb_epoch);
		return;
	}
	fence(sm, o, in->arb == PA_LOST ? "lost the arbiter" : "the arbiter cannot be reached");
}

/* Primary: a backup said hello. */
static void primary_hello(struct pair_sm *sm, const struct pair_msg *m, struct out *o)
{
	uint64_t agree, keep;

	if (m->c != PAIR_BACKUP)
		return;
	if (sm->state != PS_PROTECTED && sm->state != PS_ALONE && sm->state != PS_WAIT_PEER &&
	    sm->state != PS_PROMOTING)
		return;
	agree = agree_end(sm, m->b, sm->guest_step);
	keep = m->a < agree ? m->a : agree;
	/*
	 * A restarted backup's log still holds all it acknowledged, but a new
	 * one's may not: count only what it says it holds, and expect it to
	 * confirm SYNCED again before relying on it for a promotion.
	 */
	sm->acked = keep;
	sm->sent = keep;
	sm->replayed = 0;	/* its acks say where its replay is */
	sm->peer_ok = true;
	sm->backup_synced = m->flag && m->epoch == sm->epoch;
	sm->last_ack_ms = sm->now_ms;
	tell(sm, o, PM_RESUME, keep, sm->guest_step, agree, false);
	pump(sm, o);
}

static void primary_msg(struct pair_sm *sm, const struct pair_msg *m, struct out *o)
{
	if (m->epoch > sm->epoch) {
		if (sm->state == PS_PROMOTING && sm->promote_sent) {
			/* Our backup took over at promote_step: follow it from there, nothing copied. */
			hand_over(sm, o, m->epoch);
			return;
		}
		if (sm->state == PS_WAIT_PEER || pair_sm_serving(sm))
			fence(sm, o, "a newer epoch exists");
		return;
	}
	if (m->kind == PM_HELLO) {
		primary_hello(sm, m, o);
		return;
	}
	if (m->epoch < sm->epoch || !sm->peer_ok)
		return;
	switch (m->kind) {
	case PM_ACK:
		if (m->a > sm->acked && m->a <= sm->guest_step) {
			sm->acked = m->a;
			sm->last_ack_ms = sm->now_ms;
		}
		if (m->b > sm->replayed)
			sm->replayed = m->b;
		if (m->flag)
			sm->backup_synced = true;
		/*
		 * The backup's log holds every released output and its replay is
		 * within the lag bound: from SYNCED on, output waits for its acks.
		 */
		if ((sm->state == PS_ALONE || sm->state == PS_WAIT_PEER) && sm->acked >= sm->released &&
		    sm->guest_step <= sm->replayed + sm->cfg.max_lag_steps) {
			sm->state = PS_PROTECTED;
			sm->why = "protected";
			tell(sm, o, PM_SYNCED, sm->released, 0, 0, false);
		}
		if (sm->state == PS_PROTECTED && !sm->guest_started) {
			sm->guest_started = true;
			emit(o, (struct pair_action){ .kind = PX_START_GUEST, .step = sm->guest_step });
		}
		if (sm->state == PS_PROMOTING && sm->acked >= sm->promote_step && !sm->promote_sent) {
			sm->promote_sent = true;
			tell(sm, o, PM_PROMOTE, sm->promote_step, 0, 0, false);
		}
		break;
	default:
		break;
	}
	pump(sm, o);
	pace(sm, o);
	release(sm, o);
}

static void backup_msg(struct pair_sm *sm, const struct pair_msg *m, struct out *o)
{
	if (m->kind == PM_HELLO)
		return;
	if (m->epoch < sm->epoch)
		return;
	if (sm->state == PS_TAKING || sm->state == PS_CATCHUP || sm->state == PS_STOPPED)
		return;
	if (m->epoch > sm->epoch && m->kind != PM_RESUME) {
		rejoin(sm, o, m->epoch);
		return;
	}
	switch (m->kind) {
	case PM_RESUME:
		if (sm->state != PS_RETURNING)
			return;
		if (sm->rep_step > m->c) {
			/* Our machine ran past where the histories fork: rebuild it from the start of the log. */
			sm->rep_step = 0;
			emit(o, (struct pair_action){ .kind = PX_RESTART_REPLAY });
		}
		if (m->epoch > sm->epoch)
			persist(sm, o, m->epoch, PV_NONE);
		if (sm->vouch != PV_SYNCED)
			sm->synced = false;
		else
			sm->synced = true;
		if (m->a < sm->log_end) {
			sm->log_end = m->a;
			hist_cut(sm, m->a);
			sm->log_tag = pair_sm_tag_at(sm, sm->log_end);
			emit(o, (struct pair_action){ .kind = PX_TRUNCATE_LOG, .step = m->a });
		}
		sm->primary_step = m->b;
		sm->state = PS_FOLLOWING;
		sm->why = "following";
		emit(o, (struct pair_action){ .kind = PX_REPLAY_UP_TO, .step = sm->log_end });
		ack(sm, o);
		break;
	case PM_CHUNK:
		if (sm->state != PS_FOLLOWING)
			return;
		if (m->a == sm->log_end + 1) {
			emit(o, (struct pair_action){ .kind = PX_WRITE_CHUNK, .step = m->a,
				.msg = { .kind = PM_CHUNK, .a = m->a, .b = m->b } });
			sm->log_end = m->a;
			sm->log_tag = m->b;
			hist_note(sm, m->b, m->a);
			emit(o, (struct pair_action){ .kind = PX_REPLAY_UP_TO, .step = sm->log_end });
		}
		if (m->a <= sm->log_end + 1)
			ack(sm, o);
		break;
	case PM_SYNCED:
		if (sm->state != PS_FOLLOWING || m->a > sm->log_end)
			return;
		if (!sm->synced) {
			sm->synced = true;
			persist(sm, o, sm->epoch, PV_SYNCED);
		}
		ack(sm, o);
		break;
	case PM_PROGRESS:
		sm->primary_step = m->a;
		break;
	case PM_PROMOTE:
		if (sm->state != PS_FOLLOWING || !sm->synced || m->a > sm->log_end)
			return;
		sm->promoted = true;
		sm->promote_step = m->a;
		take(sm, o, "promoted by the primary");
		break;
	case PM_GOODBYE:
		/* The guest ended on the primary: the replay ends at the same END; nothing to take over. */
		sm->state = PS_STOPPED;
		sm->why = "the guest ended on the primary";
		emit(o, (struct pair_action){ .kind = PX_STOP_VM, .reason = sm->why });
		break;
	default:
		break;
	}
}

static void on_start(struct pair_sm *sm, const struct pair_event *in, struct out *o)
{
	struct pair_config cfg = sm->cfg;

	memset(sm, 0, sizeof(*sm));
	sm->cfg = cfg;
	sm->role = in->role;
	sm->now_ms = sm->started_ms = sm->last_heard_ms = sm->last_primary_ms = in->now_ms;
	sm->epoch = in->durable_epoch;
	sm->vouch = in->durable_vouch;
	sm->log_end = sm->local_written = in->log_end;
	sm->log_tag = in->log_tag;
	sm->nhist = in->nhist < PAIR_MAX_EPOCHS ? in->nhist : PAIR_MAX_EPOCHS;
	if (sm->nhist > 0)
		memcpy(sm->hist, in->hist + (in->nhist - sm->nhist), sm->nhist * sizeof(sm->hist[0]));
	else
		sm->nhist = 0;
	sm->hist_forgot = in->nhist > PAIR_MAX_EPOCHS;
	if (sm->role == PAIR_PRIMARY && in->running && sm->epoch && sm->vouch == PV_OWNER) {
		sm->state = PS_ALONE;
		sm->why = "took the guest over: carrying on unprotected";
		sm->guest_started = true;
		sm->guest_step = sm->released = in->log_end;
		return;
	}
	if (sm->role == PAIR_PRIMARY) {
		/*
		 * A new VM on a pair whose arbiter already has an epoch would fork
		 * the guest's history from step 0 beside a side that may be live:
		 * such a host comes back as a backup and resumes from its log.
		 */
		if (sm->epoch && !in->new_vm) {
			sm->state = PS_STOPPED;
			sm->why = "the pair already has an epoch: start this side as a backup";
			emit(o, (struct pair_action){ .kind = PX_STOP_VM, .reason = sm->why });
			return;
		}
		sm->guest_step = in->log_end;
		take(sm, o, "starting: a new epoch");
		return;
	}
	sm->state = PS_RETURNING;
	sm->why = "returning";
	say_hello(sm, o);
}

static void on_timer(struct pair_sm *sm, struct out *o)
{
	if (sm->state == PS_IDLE || sm->state == PS_STOPPED)
		return;
	if (sm->state == PS_TAKING && !sm->arb_pending && sm->now_ms >= sm->arb_retry_ms) {
		sm->arb_pending = true;
		emit(o, (struct pair_action){ .kind = PX_TAKE_ARBITER, .epoch = sm->epoch });
	}
	if (sm->link_up && sm->now_ms - sm->last_heard_ms > sm->cfg.dead_ms) {
		emit(o, (struct pair_action){ .kind = PX_CLOSE_LINK });
		sm->link_up = false;
		peer_lost(sm, o, "the peer fell silent");
	}
	/* A returning side that can vouch for its epoch and hears no primary takes over itself. */
	if (sm->state == PS_RETURNING && sm->vouch != PV_NONE &&
	    sm->now_ms - sm->last_primary_ms > sm->cfg.dead_ms) {
		sm->synced = sm->vouch == PV_SYNCED;
		take(sm, o, "no primary, and this log vouches for the epoch");
		return;
	}
	if (!sm->link_up)
		return;
	if (sm->state == PS_RETURNING && sm->now_ms - sm->last_sent_ms >= sm->cfg.heartbeat_ms)
		say_hello(sm, o);
	if (sm->role == PAIR_PRIMARY && sm->peer_ok) {
		if (sm->sent > sm->acked && sm->now_ms - sm->last_ack_ms > sm->cfg.resend_ms) {
			sm->sent = sm->acked;
			sm->last_ack_ms = sm->now_ms;
		}
		if (!sm->backup_synced && sm->state == PS_PROTECTED &&
		    sm->now_ms - sm->last_sent_ms >= sm->cfg.heartbeat_ms)
			tell(sm, o, PM_SYNCED, sm->released, 0, 0, false);
		if (sm->promote_sent && sm->state == PS_PROMOTING &&
		    sm->now_ms - sm->last_sent_ms >= sm->cfg.heartbeat_ms)
			tell(sm, o, PM_PROMOTE, sm->promote_step, 0, 0, false);
		pump(sm, o);
	}
	if (sm->state == PS_FOLLOWING && sm->now_ms - sm->last_sent_ms >= sm->cfg.heartbeat_ms)
		ack(sm, o);
	if (sm->now_ms - sm->last_sent_ms >= sm->cfg.heartbeat_ms)
		tell(sm, o, sm->role == PAIR_PRIMARY ? PM_PROGRESS : PM_HEARTBEAT, sm->guest_step, 0, 0, false);
}

int pair_sm_step(struct pair_sm *sm, const struct pair_event *in, struct pair_action *out, int max_out)
{
	struct out o = { .a = out, .max = max_out };

	if (in->now_ms > sm->now_ms)
		sm->now_ms = in->now_ms;
	if (in->kind == PE_START) {
		on_start(sm, in, &o);
		return o.n;
	}
	if (sm->state == PS_IDLE || sm->state == PS_STOPPED)
		return 0;
	switch (in->kind) {
	case PE_LINK_UP:
		sm->link_up = true;
		sm->peer_ok = false;
		sm->last_heard_ms = sm->now_ms;
		if (sm->role == PAIR_BACKUP) {
			if (sm->state == PS_FOLLOWING)
				sm->state = PS_RETURNING;
			if (sm->state == PS_RETURNING)
				say_hello(sm, &o);
		}
		break;
	case PE_LINK_DOWN:
		if (!sm->link_up)
			break;
		sm->link_up = false;
		peer_lost(sm, &o, "link lost");
		break;
	case PE_MSG_IN:
		if (!sm->link_up)
			break;
		if (in->msg.epoch >= sm->epoch) {
			sm->last_heard_ms = sm->now_ms;
			if (in->msg.kind != PM_HELLO && in->msg.kind != PM_ACK && in->msg.kind != PM_HEARTBEAT)
				sm->last_primary_ms = sm->now_ms;
		}
		if (sm->role == PAIR_PRIMARY)
			primary_msg(sm, &in->msg, &o);
		else
			backup_msg(sm, &in->msg, &o);
		break;
	case PE_TIMER:
		on_timer(sm, &o);
		break;
	case PE_ARBITER_RESULT:
		on_arbiter(sm, in, &o);
		break;
	case PE_CHUNK_READY:
		if (sm->role != PAIR_PRIMARY)
			break;
		sm->guest_step = in->step;
		hist_note(sm, sm->epoch, in->step);
		if (sm->state == PS_PROMOTING && sm->guest_step >= sm->promote_step && !sm->guest_paused) {
			sm->promote_step = sm->guest_step;
			sm->guest_paused = true;
			emit(&o, (struct pair_action){ .kind = PX_PAUSE_GUEST });
		}
		pump(sm, &o);
		pace(sm, &o);
		break;
	case PE_LOG_WRITTEN:
		if (sm->role == PAIR_PRIMARY && in->step > sm->local_written) {
			sm->local_written = in->step;
			release(sm, &o);
		}
		break;
	case PE_REPLAY_AT:
		if (sm->role != PAIR_BACKUP)
			break;
		sm->rep_step = in->step;
		catchup(sm, &o);
		break;
	case PE_GUEST_OUTPUT:
		if (in->step > sm->held_step)
			sm->held_step = in->step;
		release(sm, &o);
		break;
	case PE_PROMOTE_REQUEST:
		if (sm->state != PS_PROTECTED || !sm->backup_synced || !sm->peer_ok)
			break;
		sm->state = PS_PROMOTING;
		sm->why = "promoting the backup";
		/* A guest paused by the lag bound stops where it is. */
		sm->promote_step = in->step > sm->guest_step && !sm->guest_paused ? in->step : sm->guest_step;
		sm->promote_sent = false;
		if (sm->promote_step > sm->guest_step)
			break;	/* stop when the guest reaches it (CHUNK_READY) */
		if (!sm->guest_paused) {
			sm->guest_paused = true;
			emit(&o, (struct pair_action){ .kind = PX_PAUSE_GUEST });
		}
		if (sm->acked >= sm->promote_step) {
			sm->promote_sent = true;
			tell(sm, &o, PM_PROMOTE, sm->promote_step, 0, 0, false);
		}
		break;
	case PE_NO_PRIMARY:
		/* Rule 3 on the driver's clock rather than dead_ms: take over only if our record vouches. */
		if (sm->role == PAIR_BACKUP && sm->state == PS_RETURNING && sm->vouch != PV_NONE) {
			sm->synced = sm->vouch == PV_SYNCED;
			take(sm, &o, "no primary came, and this log vouches for the epoch");
		}
		break;
	case PE_GUEST_STOPPED:
		tell(sm, &o, PM_GOODBYE, 0, 0, 0, false);
		sm->state = PS_STOPPED;
		sm->why = "the guest ended";
		emit(&o, (struct pair_action){ .kind = PX_STOP_VM, .reason = sm->why });
		break;
	default:
		break;
	}
	return o.n;
}

void pair_sm_init(struct pair_sm *sm, const struct pair_config *cfg)
{
	memset(sm, 0, sizeof(*sm));
	sm->cfg = *cfg;
	sm->state = PS_IDLE;
}

const char *pair_state_name(enum pair_state s)
{
	static const char *const n[] = {
		[PS_IDLE] = "idle", [PS_WAIT_PEER] = "wait-peer", [PS_PROTECTED] = "protected",
		[PS_ALONE] = "alone", [PS_RETURNING] = "returning", [PS_FOLLOWING] = "following",
		[PS_TAKING] = "taking", [PS_CATCHUP] = "catchup", [PS_PROMOTING] = "promoting",
		[PS_STOPPED] = "stopped",
	};
	return (unsigned)s < sizeof(n) / sizeof(n[0]) && n[s] ? n[s] : "?";
}

const char *pair_msg_name(enum pair_msg_kind k)
{
	static const char *const n[] = {
		[PM_HELLO] = "HELLO", [PM_RESUME] = "RESUME", [PM_CHUNK] = "CHUNK", [PM_ACK] = "ACK",
		[PM_SYNCED] = "SYNCED", [PM_PROGRESS] = "PROGRESS", [PM_PROMOTE] = "PROMOTE",
		[PM_HEARTBEAT] = "HEARTBEAT", [PM_GOODBYE] = "GOODBYE",
	};
	return (unsigned)k < sizeof(n) / sizeof(n[0]) && n[k] ? n[k] : "?";
}

const char *pair_event_name(enum pair_event_kind k)
{
	static const char *const n[] = {
		[PE_START] = "START", [PE_LINK_UP] = "LINK_UP", [PE_LINK_DOWN] = "LINK_DOWN",
		[PE_MSG_IN] = "MSG_IN", [PE_TIMER] = "TIMER", [PE_ARBITER_RESULT] = "ARBITER_RESULT",
		[PE_CHUNK_READY] = "CHUNK_READY", [PE_LOG_WRITTEN] = "LOG_WRITTEN",
		[PE_REPLAY_AT] = "REPLAY_AT", [PE_GUEST_OUTPUT] = "GUEST_OUTPUT",
		[PE_PROMOTE_REQUEST] = "PROMOTE_REQUEST", [PE_GUEST_STOPPED] = "GUEST_STOPPED",
		[PE_NO_PRIMARY] = "NO_PRIMARY",
	};
	return (unsigned)k < sizeof(n) / sizeof(n[0]) && n[k] ? n[k] : "?";
}

const char *pair_action_name(enum pair_action_kind k)
{
	static const char *const n[] = {
		[PX_SEND] = "SEND", [PX_TAKE_ARBITER] = "TAKE_ARBITER",
		[PX_RELEASE_OUTPUT_UP_TO] = "RELEASE_OUTPUT_UP_TO",
		[PX_HOLD_ALL_OUTPUT_FOREVER] = "HOLD_ALL_OUTPUT_FOREVER", [PX_PAUSE_GUEST] = "PAUSE_GUEST",
		[PX_RESUME_GUEST] = "RESUME_GUEST", [PX_START_GUEST] = "START_GUEST",
		[PX_GO_LIVE] = "GO_LIVE", [PX_STOP_VM] = "STOP_VM",
		[PX_CARRY_ON_UNPROTECTED] = "CARRY_ON_UNPROTECTED", [PX_CLOSE_LINK] = "CLOSE_LINK",
		[PX_WRITE_CHUNK] = "WRITE_CHUNK", [PX_TRUNCATE_LOG] = "TRUNCATE_LOG",
		[PX_REPLAY_UP_TO] = "REPLAY_UP_TO", [PX_PERSIST] = "PERSIST",
		[PX_RESTART_REPLAY] = "RESTART_REPLAY",
	};
	return (unsigned)k < sizeof(n) / sizeof(n[0]) && n[k] ? n[k] : "?";
}
