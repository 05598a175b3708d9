/* SPDX-License-Identifier: MIT */
/* pair_sim: the simulated world (two sides, a network, an arbiter, the checks) that pair_sim.c runs schedules in. */
#ifndef FAILOVER_TESTS_PAIR_SIM_H
#define FAILOVER_TESTS_PAIR_SIM_H

#include "primary/pair_sm.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define NSIDES 2
#define MAX_STEPS 24000
#define MAX_ACT 40		/* smaller than the window: pair_sm must send the rest later, never drop */
#define MAX_FAULTS 64

/* --today: the daemons' rules as they are, one flag each. */
#define TODAY_FENCE 1u		/* an unreachable arbiter stops the side that asked */
#define TODAY_ACK 2u		/* a protected primary releases at the backup's ack alone */
#define TODAY_NEW_VM 4u		/* a restarted 'ftvm primary' starts a new VM with a new log */
#define TODAY_ALL 7u

/* splitmix64: small, good enough, and the same everywhere. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static inline bool rng_pct(uint64_t *s, unsigned pct)
{
	return rng_below(s, 100) < pct;
}

enum fault_kind {
	F_CRASH,	/* a: side; the process dies, its memory with it */
	F_RESTART,	/* a: side */
	F_PAUSE,	/* a: side, dur: no event reaches it, then all at once */
	F_PARTITION,	/* a: 1 silent (dropped, no reset), 0 reset; dur */
	F_ARBITER_OUT,	/* dur */
	F_LOSSY,	/* dur: a drop%, b dup%, c: reorder */
	F_SLOW_REPLAY,	/* a: side, dur */
	F_PROMOTE,	/* the operator asks the serving side for a planned switchover */
	F_ARB_LOSES_ANSWERS,	/* dur: the arbiter applies a take but the answer is lost */
	F_RESTART_FRESH,	/* a: side; the unit restarts in its first role: 'ftvm primary' with a new log */
};

struct fault {
	enum fault_kind kind;
	uint64_t at, dur;
	int a, b, c;
};

struct pend {
	uint64_t at, seq;
	int side;
	uint64_t inc;		/* the side's incarnation it was meant for */
	uint64_t gen;		/* messages: the connection they travel on */
	struct pair_event ev;
};

struct side {
	struct pair_sm sm;
	bool alive, exited;
	uint64_t inc, down_at;
	uint64_t paused_until;
	uint64_t link_gen;
	/* durable: the log file and the record beside it */
	uint64_t log_tags[MAX_STEPS + 1];
	uint64_t log_end;
	uint64_t d_epoch;
	enum pair_vouch d_vouch;
	/* memory: the machine's history (produced or replayed) */
	uint64_t hist_tags[MAX_STEPS + 1];
	uint64_t hist_end;
	bool running, gpaused, fenced;
	uint64_t released;
	uint64_t rep_limit;
	uint64_t slow_until;
	uint64_t write_due[MAX_STEPS + 1];
	uint64_t written_upto;	/* the local writer's position (primary) */
	uint64_t timer_phase;
};

struct sim {
	uint64_t seed, rng, now;
	bool verbose;
	unsigned today;		/* TODAY_*: the daemons' current rules instead of pair_sm's */
	int nfaults;
	struct fault faults[MAX_FAULTS];
	struct side s[NSIDES];
	struct pair_config cfg;
	/* the network */
	struct pend *pend;
	size_t npend, cap;
	uint64_t pseq;
	uint64_t conn_gen, next_gen, conn_down_at;
	bool silent_part, reset_part;
	uint64_t part_until, lossy_until, arb_out_until, arb_lose_until;
	int drop_pct, dup_pct;
	bool reorder;
	uint64_t last_at[NSIDES];
	/* the arbiter */
	uint64_t arb_epoch;
	int arb_owner;
	/* what clients were told: the tag of each released output's step */
	uint64_t told[MAX_STEPS + 1];
	uint64_t told_max;
	uint64_t fault_end, heal_at, told_at_heal;
	bool progressed, protected_again;
	struct sim_counts {
		uint64_t events, takeovers, promoted, fenced, stale_releases, resumes, replay_restarts;
		uint64_t own_log_takeovers;
	} n;
	uint64_t restarts;
	char fail[512];
};

static inline bool side_up(const struct side *x)
{
	return x->alive && !x->exited;
}

void sim_vlog(struct sim *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the first broken invariant (with the time); the run stops after the current event. */
void sim_failf(struct sim *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Feeds one event to side x, carries out its actions, checks the invariants. */
void sim_deliver(struct sim *m, int x, struct pair_event *ev);
/* Starts side x's process: a backup from its log and record, or a primary. */
void sim_start_side(struct sim *m, int x, enum pair_role role);
/* The process dies: memory lost, the log and its record kept. */
void sim_crash(struct sim *m, int x);
/* One millisecond of side x's own work: timer, guest, local log writer, replay. */
void sim_side_tick(struct sim *m, int x);
/* Hands every due message and answer to its side, in time order. */
void sim_deliver_due(struct sim *m);
/* The connection closes (closer: the side that closed it, -1 the network); the other hears a reset if told. */
void sim_conn_close(struct sim *m, int closer, bool tell_peer);
/* Opens a new connection when both sides run, no partition holds and the redial delay passed. */
void sim_conn_maybe_open(struct sim *m);

#endif
