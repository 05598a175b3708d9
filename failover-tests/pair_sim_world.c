/* SPDX-License-Identifier: MIT */
/*
 * pair_sim_world: what pair_sim's schedules run in. Two sides, each a
 * pair_sm with a log file, a durable record and a machine (its history of
 * chunk tags); a network of connections whose messages can be dropped,
 * delayed, reordered or duplicated; an arbiter; and the invariant checks of
 * docs/pair-protocol.md, run after every event.
 */
#include "pair_sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void sim_vlog(struct sim *m, const char *fmt, ...)
{
	va_list ap;

	if (!m->verbose)
		return;
	printf("%6" PRIu64 " ", m->now);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void sim_failf(struct sim *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->fail[0])
		return;
	n = snprintf(m->fail, sizeof(m->fail), "t=%" PRIu64 " ms: ", m->now);
	va_start(ap, fmt);
	vsnprintf(m->fail + n, sizeof(m->fail) - n, fmt, ap);
	va_end(ap);
	sim_vlog(m, "INVARIANT BROKEN: %s", m->fail);
}

/* Whether the guest makes output at a step depends on the history, as a real guest's does. */
static bool has_output(const struct sim *m, uint64_t step, uint64_t tag)
{
	uint64_t h = m->seed ^ (step * 0x9e3779b97f4a7c15ULL) ^ (tag << 40);

	return rng_next(&h) % 3 == 0;
}

static void push(struct sim *m, int side, uint64_t at, const struct pair_event *ev, uint64_t gen)
{
	if (m->npend == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->pend = realloc(m->pend, m->cap * sizeof(*m->pend));
		if (!m->pend) {
			fprintf(stderr, "pair_sim: out of memory\n");
			exit(2);
		}
	}
	m->pend[m->npend++] = (struct pend){ .at = at, .seq = m->pseq++, .side = side,
					     .inc = m->s[side].inc, .gen = gen, .ev = *ev };
}


/* --- the network --- */

static void send_msg(struct sim *m, int from, const struct pair_msg *msg)
{
	int to = !from;
	struct pair_event ev = { .kind = PE_MSG_IN, .msg = *msg };
	uint64_t at, copies = 1;

	if (!m->conn_gen || m->s[from].link_gen != m->conn_gen)
		return;
	if (m->silent_part)
		return;
	if (m->now < m->lossy_until) {
		if (rng_pct(&m->rng, m->drop_pct))
			return;
		if (rng_pct(&m->rng, m->dup_pct))
			copies = 2;
	}
	for (uint64_t i = 0; i < copies; i++) {
		at = m->now + 1 + rng_below(&m->rng, m->now < m->lossy_until ? 20 : 2);
		if (!m->reorder || m->now >= m->lossy_until) {
			if (at < m->last_at[to])
				at = m->last_at[to];
			m->last_at[to] = at;
		}
		push(m, to, at, &ev, m->conn_gen);
	}
}

static void link_event(struct sim *m, int side, enum pair_event_kind k, uint64_t gen, uint64_t delay)
{
	struct pair_event ev = { .kind = k };

	push(m, side, m->now + delay, &ev, gen);
}

void sim_conn_close(struct sim *m, int closer, bool tell_peer)
{
	uint64_t gen = m->conn_gen;

	if (!gen)
		return;
	m->conn_gen = 0;
	m->conn_down_at = m->now;
	for (int i = 0; i < NSIDES; i++)
		if (i != closer && (tell_peer || closer < 0) && m->s[i].link_gen == gen)
			link_event(m, i, PE_LINK_DOWN, gen, 1 + rng_below(&m->rng, 5));
}

void sim_conn_maybe_open(struct sim *m)
{
	if (m->conn_gen || m->now < m->conn_down_at + 20 || m->now < m->part_until)
		return;
	for (int i = 0; i < NSIDES; i++)
		if (!side_up(&m->s[i]) || m->s[i].sm.state == PS_STOPPED || m->now < m->s[i].paused_until)
			return;
	m->conn_gen = ++m->next_gen;
	for (int i = 0; i < NSIDES; i++) {
		if (m->s[i].link_gen)
			link_event(m, i, PE_LINK_DOWN, m->s[i].link_gen, 0);
		link_event(m, i, PE_LINK_UP, m->conn_gen, 1 + rng_below(&m->rng, 3));
	}
}

/* --- the arbiter --- */

static void arbiter_take(struct sim *m, int side, uint64_t expect)
{
	struct pair_event ev = { .kind = PE_ARBITER_RESULT };
	uint64_t delay = 1 + rng_below(&m->rng, 5);

	if (m->now < m->arb_out_until) {
		ev.arb = PA_UNREACHABLE;
		push(m, side, m->now + 20 + rng_below(&m->rng, 30), &ev, 0);
		return;
	}
	if (m->arb_epoch == expect) {
		m->arb_epoch++;
		m->arb_owner = side;
		ev.arb = PA_WON;
		sim_vlog(m, "arbiter: side %d takes epoch %" PRIu64, side, m->arb_epoch);
	} else {
		ev.arb = PA_LOST;
		ev.arb_owner_is_us = m->arb_owner == side;
	}
	ev.arb_epoch = m->arb_epoch;
	if (m->now < m->arb_lose_until && rng_pct(&m->rng, 50)) {
		ev.arb = PA_UNREACHABLE;	/* applied, but the answer timed out */
		delay = 30;
	}
	push(m, side, m->now + delay, &ev, 0);
}

/* --- the checks --- */

static uint64_t future_tag(const struct side *y, uint64_t step)
{
	return step <= y->hist_end ? y->hist_tags[step] : y->sm.epoch;
}

static void check_release(struct sim *m, int x, uint64_t upto)
{
	struct side *a = &m->s[x], *b = &m->s[!x];

	if (a->fenced)
		sim_failf(m, "side %d released output after HOLD_ALL_OUTPUT_FOREVER", x);
	if (upto > a->hist_end)
		sim_failf(m, "side %d released up to step %" PRIu64 " beyond its guest (%" PRIu64 ")", x, upto,
		      a->hist_end);
	for (uint64_t s = a->released + 1; s <= upto && s <= a->hist_end; s++) {
		uint64_t tag = a->hist_tags[s];
		if (!has_output(m, s, tag))
			continue;
		bool own = s <= a->log_end && a->log_tags[s] == tag;
		bool peer = s <= b->log_end && b->log_tags[s] == tag;
		switch (a->sm.state) {
		case PS_ALONE:
			if (m->arb_epoch != a->sm.epoch || m->arb_owner != x)
				sim_failf(m, "side %d released step %" PRIu64 " alone without owning the arbiter "
				      "(epoch %" PRIu64 ", arbiter epoch %" PRIu64 " owner %d)", x, s, a->sm.epoch,
				      m->arb_epoch, m->arb_owner);
			if (!own)
				sim_failf(m, "side %d released step %" PRIu64 " alone before its log held it", x, s);
			break;
		case PS_PROTECTED:
		case PS_PROMOTING:
		case PS_TAKING:
			if (!peer)
				sim_failf(m, "side %d released step %" PRIu64 " before the backup's log held it", x, s);
			if (!own && !(m->today & TODAY_ACK))
				sim_failf(m, "side %d released step %" PRIu64 " before its own log held it", x, s);
			break;
		default:
			sim_failf(m, "side %d released output in state %s", x, pair_state_name(a->sm.state));
		}
		if (m->told[s] && m->told[s] != tag)
			sim_failf(m, "clients were told step %" PRIu64 " of epoch %" PRIu64 ", now of epoch %" PRIu64,
			      s, m->told[s], tag);
		m->told[s] = tag;
		if (s > m->told_max)
			m->told_max = s;
		for (int y = 0; y < NSIDES; y++)
			if (y != x && side_up(&m->s[y]) && pair_sm_serving(&m->s[y].sm) &&
			    m->s[y].sm.epoch > a->sm.epoch && future_tag(&m->s[y], s) != tag)
				sim_failf(m, "side %d released step %" PRIu64 " (epoch %" PRIu64 ") that serving side %d's "
				      "history will not contain", x, s, tag, y);
	}
	if (upto > a->released && a->sm.epoch < m->arb_epoch)
		m->n.stale_releases++;
	if (upto > a->released)
		a->released = upto;
}

/* A side starts serving at step g: its history must hold every output clients were told. */
static void check_history(struct sim *m, int y, const char *what)
{
	struct side *a = &m->s[y];

	for (uint64_t s = 1; s <= m->told_max; s++)
		if (m->told[s] && future_tag(a, s) != m->told[s]) {
			sim_failf(m, "side %d %s at step %" PRIu64 " (epoch %" PRIu64 ") but clients were told "
			      "step %" PRIu64 " of epoch %" PRIu64 ": lost", y, what, a->hist_end, a->sm.epoch, s,
			      m->told[s]);
			return;
		}
}

/* Log matching: a backup that follows a primary holds a prefix of the primary's history. */
static void check_log_prefix(struct sim *m, int x)
{
	const struct side *b = &m->s[x], *p = &m->s[!x];

	if (!side_up(p) || p->sm.role != PAIR_PRIMARY || p->sm.epoch != b->sm.epoch)
		return;
	if (b->log_end > p->hist_end) {
		sim_failf(m, "side %d's log runs to step %" PRIu64 ", past its primary's history (%" PRIu64 ")", x,
		      b->log_end, p->hist_end);
		return;
	}
	for (uint64_t s = 1; s <= b->log_end; s++)
		if (b->log_tags[s] != p->hist_tags[s]) {
			sim_failf(m, "side %d's log has step %" PRIu64 " of epoch %" PRIu64 ", its primary's history "
			      "of epoch %" PRIu64, x, s, b->log_tags[s], p->hist_tags[s]);
			return;
		}
}

static void check_global(struct sim *m)
{
	for (int i = 0; i < NSIDES; i++)
		for (int j = i + 1; j < NSIDES; j++)
			if (side_up(&m->s[i]) && side_up(&m->s[j]) && pair_sm_serving(&m->s[i].sm) &&
			    pair_sm_serving(&m->s[j].sm) && m->s[i].sm.epoch == m->s[j].sm.epoch)
				sim_failf(m, "two sides live in epoch %" PRIu64, m->s[i].sm.epoch);
	for (int i = 0; i < NSIDES; i++)
		if (side_up(&m->s[i]) && m->s[i].sm.epoch > m->arb_epoch)
			sim_failf(m, "side %d speaks for epoch %" PRIu64 ", the arbiter only reached %" PRIu64, i,
			      m->s[i].sm.epoch, m->arb_epoch);
}

/* --- driving one side --- */

static void apply(struct sim *m, int x, const struct pair_action *a, int n);

void sim_deliver(struct sim *m, int x, struct pair_event *ev)
{
	struct side *sd = &m->s[x];
	struct pair_action act[MAX_ACT];
	enum pair_state before = sd->sm.state;
	int n;

	ev->now_ms = m->now;
	if (m->verbose && ev->kind != PE_TIMER) {
		if (ev->kind == PE_MSG_IN)
			sim_vlog(m, "side %d <- %s e%" PRIu64 " a=%" PRIu64 " b=%" PRIu64 " c=%" PRIu64 "%s [%s]", x,
			     pair_msg_name(ev->msg.kind), ev->msg.epoch, ev->msg.a, ev->msg.b, ev->msg.c,
			     ev->msg.flag ? " flag" : "", pair_state_name(sd->sm.state));
		else
			sim_vlog(m, "side %d <- %s step=%" PRIu64 " arb=%d/%" PRIu64 " [%s e%" PRIu64 "]", x,
			     pair_event_name(ev->kind), ev->step, ev->arb, ev->arb_epoch,
			     pair_state_name(sd->sm.state), sd->sm.epoch);
	}
	m->n.events++;
	n = pair_sm_step(&sd->sm, ev, act, MAX_ACT);
	if (n >= MAX_ACT)
		sim_failf(m, "side %d: %d actions for one event fill the room: some may be lost", x, n);
	apply(m, x, act, n);
	if ((before == PS_RETURNING && sd->sm.state == PS_FOLLOWING) ||
	    (before != PS_PROTECTED && sd->sm.state == PS_PROTECTED))
		check_log_prefix(m, sd->sm.role == PAIR_BACKUP ? x : !x);
	check_global(m);
}

static void apply(struct sim *m, int x, const struct pair_action *a, int n)
{
	struct side *sd = &m->s[x];

	for (int i = 0; i < n; i++) {
		const struct pair_action *p = &a[i];
		struct pair_msg msg;
		if (m->verbose && p->kind != PX_SEND)
			sim_vlog(m, "side %d -> %s step=%" PRIu64 " epoch=%" PRIu64 "%s%s", x, pair_action_name(p->kind),
			     p->step, p->epoch, p->reason ? " " : "", p->reason ? p->reason : "");
		switch (p->kind) {
		case PX_SEND:
			msg = p->msg;
			if (msg.kind == PM_CHUNK && msg.a <= sd->hist_end)
				msg.b = sd->hist_tags[msg.a];
			if (msg.kind == PM_CHUNK && (msg.a > sd->hist_end || !msg.b))
				sim_failf(m, "side %d sent chunk %" PRIu64 " it does not have", x, msg.a);
			if (m->verbose)
				sim_vlog(m, "side %d -> %s e%" PRIu64 " a=%" PRIu64 " b=%" PRIu64 " c=%" PRIu64 "%s", x,
				     pair_msg_name(msg.kind), msg.epoch, msg.a, msg.b, msg.c, msg.flag ? " flag" : "");
			send_msg(m, x, &msg);
			break;
		case PX_TAKE_ARBITER:
			arbiter_take(m, x, p->epoch);
			break;
		case PX_RELEASE_OUTPUT_UP_TO:
			check_release(m, x, p->step);
			break;
		case PX_HOLD_ALL_OUTPUT_FOREVER:
			m->n.fenced++;
			sd->fenced = true;
			sd->running = false;
			break;
		case PX_PAUSE_GUEST:
			sd->gpaused = true;
			break;
		case PX_RESUME_GUEST:
			sd->gpaused = false;
			break;
		case PX_START_GUEST:
			if (p->step != sd->hist_end)
				sim_failf(m, "side %d starts its guest at %" PRIu64 ", its machine is at %" PRIu64, x,
				      p->step, sd->hist_end);
			sd->running = true;
			sd->gpaused = false;
			sd->written_upto = sd->log_end;
			check_history(m, x, "started its guest");
			break;
		case PX_GO_LIVE:
			if (p->step != sd->hist_end)
				sim_failf(m, "side %d goes live at %" PRIu64 ", its machine is at %" PRIu64, x, p->step,
				      sd->hist_end);
			sd->running = true;
			sd->gpaused = false;
			sd->written_upto = sd->log_end;
			m->n.takeovers++;
			if (sd->sm.promoted)
				m->n.promoted++;
			if (sd->sm.take_from == PS_RETURNING)
				m->n.own_log_takeovers++;
			check_history(m, x, "went live");
			break;
		case PX_STOP_VM:
			sd->running = false;
			sd->exited = true;
			sd->down_at = m->now;
			if (m->s[!x].link_gen == m->conn_gen && m->conn_gen && sd->link_gen == m->conn_gen)
				sim_conn_close(m, x, true);
			sim_vlog(m, "side %d stops: %s", x, p->reason ? p->reason : "");
			break;
		case PX_CARRY_ON_UNPROTECTED:
			break;
		case PX_CLOSE_LINK:
			if (m->conn_gen && sd->link_gen == m->conn_gen)
				sim_conn_close(m, x, !m->silent_part);
			sd->link_gen = 0;
			break;
		case PX_WRITE_CHUNK:
			if (p->step != sd->log_end + 1 || p->step > MAX_STEPS)
				sim_failf(m, "side %d writes chunk %" PRIu64 ", its log ends at %" PRIu64, x, p->step,
				      sd->log_end);
			else {
				sd->log_tags[p->step] = p->msg.b;
				sd->log_end = p->step;
			}
			break;
		case PX_TRUNCATE_LOG:
			if (p->step < sd->log_end)
				sd->log_end = p->step;
			/* A machine past the cut would hold steps the new history does not. */
			if (sd->hist_end > sd->log_end)
				sim_failf(m, "side %d cut its log to %" PRIu64 " under its machine at %" PRIu64, x,
					  sd->log_end, sd->hist_end);
			break;
		case PX_REPLAY_UP_TO:
			if (sd->sm.state == PS_FOLLOWING && sd->rep_limit == 0 && p->step)
				m->n.resumes++;
			sd->rep_limit = p->step;
			break;
		case PX_RESTART_REPLAY:
			m->n.replay_restarts++;
			sd->hist_end = 0;
			break;
		case PX_PERSIST:
			sd->d_epoch = p->epoch;
			sd->d_vouch = p->vouch;
			break;
		}
	}
}

void sim_start_side(struct sim *m, int x, enum pair_role role)
{
	struct side *sd = &m->s[x];
	struct pair_hist hist[256];
	int nh = 0;
	struct pair_event ev = { .kind = PE_START, .role = role };

	pair_sm_init(&sd->sm, &m->cfg);
	sd->alive = true;
	sd->exited = false;
	sd->inc++;
	sd->paused_until = 0;
	sd->link_gen = 0;
	sd->hist_end = 0;
	sd->running = sd->gpaused = sd->fenced = false;
	sd->rep_limit = 0;
	sd->released = 0;
	sd->written_upto = sd->log_end;
	for (uint64_t s = 1; s <= sd->log_end; s++)
		if ((!nh || hist[nh - 1].tag != sd->log_tags[s]) && nh < 256)
			hist[nh++] = (struct pair_hist){ .tag = sd->log_tags[s], .first_step = s };
	ev.log_end = sd->log_end;
	ev.log_tag = sd->log_end ? sd->log_tags[sd->log_end] : 0;
	ev.hist = hist;
	ev.nhist = nh;
	ev.durable_epoch = role == PAIR_PRIMARY ? m->arb_epoch : sd->d_epoch;
	ev.new_vm = role == PAIR_PRIMARY && (m->today & TODAY_NEW_VM);
	ev.durable_vouch = sd->d_vouch;
	sim_deliver(m, x, &ev);
}

void sim_crash(struct sim *m, int x)
{
	struct side *sd = &m->s[x];

	if (!sd->alive)
		return;
	sim_vlog(m, "side %d CRASHES (%s, epoch %" PRIu64 ")", x, pair_state_name(sd->sm.state), sd->sm.epoch);
	sd->alive = false;
	sd->inc++;
	sd->running = false;
	sd->down_at = m->now;
	if (m->conn_gen && sd->link_gen == m->conn_gen)
		sim_conn_close(m, x, rng_pct(&m->rng, 50));
	sd->link_gen = 0;
}

/* One millisecond of one side's own work: timers, guest, local log writer, replay. */
void sim_side_tick(struct sim *m, int x)
{
	struct side *sd = &m->s[x];
	struct pair_event ev;

	if (!side_up(sd) || m->now < sd->paused_until)
		return;
	if ((m->now + sd->timer_phase) % 5 == 0) {
		ev = (struct pair_event){ .kind = PE_TIMER };
		sim_deliver(m, x, &ev);
	}
	if (sd->sm.role == PAIR_PRIMARY && sd->running && !sd->gpaused && !sd->fenced &&
	    sd->hist_end < MAX_STEPS - 1 && side_up(sd)) {
		uint64_t s = ++sd->hist_end;
		sd->hist_tags[s] = sd->sm.epoch;
		sd->write_due[s] = m->now + rng_below(&m->rng, 4);
		if (has_output(m, s, sd->hist_tags[s])) {
			ev = (struct pair_event){ .kind = PE_GUEST_OUTPUT, .step = s };
			sim_deliver(m, x, &ev);
		}
		ev = (struct pair_event){ .kind = PE_CHUNK_READY, .step = s };
		sim_deliver(m, x, &ev);
	}
	if (sd->sm.role == PAIR_PRIMARY && side_up(sd)) {
		uint64_t w = sd->written_upto;
		while (w < sd->hist_end && sd->write_due[w + 1] <= m->now) {
			w++;
			sd->log_tags[w] = sd->hist_tags[w];
		}
		if (w > sd->written_upto) {
			sd->written_upto = sd->log_end = w;
			ev = (struct pair_event){ .kind = PE_LOG_WRITTEN, .step = w };
			sim_deliver(m, x, &ev);
		}
	} else if (sd->sm.role == PAIR_BACKUP && side_up(sd)) {
		uint64_t r = sd->hist_end, lim = sd->rep_limit < sd->log_end ? sd->rep_limit : sd->log_end;
		unsigned rate = m->now < sd->slow_until ? (m->now % 4 == 0) : 4;
		for (unsigned i = 0; i < rate && r < lim; i++) {
			r++;
			sd->hist_tags[r] = sd->log_tags[r];
		}
		if (r > sd->hist_end) {
			sd->hist_end = r;
			ev = (struct pair_event){ .kind = PE_REPLAY_AT, .step = r };
			sim_deliver(m, x, &ev);
		}
	}
}

static int pend_cmp(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hand every due item to its side, in time order; a paused side's wait in the queue. */
void sim_deliver_due(struct sim *m)
{
	size_t keep = 0, n = m->npend;
	struct pend *due = NULL;
	size_t ndue = 0;

	for (size_t i = 0; i < n; i++) {
		struct pend *p = &m->pend[i];
		struct side *sd = &m->s[p->side];
		if (p->inc != sd->inc || !side_up(sd))
			continue;	/* meant for a process that is gone */
		if (p->at > m->now || m->now < sd->paused_until) {
			m->pend[keep++] = *p;
			continue;
		}
		if (!due)
			due = malloc(n * sizeof(*due));
		if (!due)
			exit(2);
		due[ndue++] = *p;
	}
	m->npend = keep;
	if (!ndue)
		return;
	qsort(due, ndue, sizeof(*due), pend_cmp);
	for (size_t i = 0; i < ndue && !m->fail[0]; i++) {
		struct pend *p = &due[i];
		struct side *sd = &m->s[p->side];
		if (p->inc != sd->inc || !side_up(sd))
			continue;
		if (p->ev.kind == PE_MSG_IN && (p->gen != m->conn_gen || sd->link_gen != p->gen))
			continue;	/* the connection it travelled on is closed */
		if (p->ev.kind == PE_LINK_DOWN && sd->link_gen != p->gen)
			continue;
		if (p->ev.kind == PE_LINK_UP) {
			if (p->gen != m->conn_gen)
				continue;
			sd->link_gen = p->gen;
		}
		if (p->ev.kind == PE_LINK_DOWN)
			sd->link_gen = 0;
		sim_deliver(m, p->side, &p->ev);
	}
	free(due);
}
