/* SPDX-License-Identifier: MIT */
/* pair_sm: the pair's protocol (roles, epochs, liveness, arbiter, output release, resume, promote) with no I/O of its own. */
#ifndef PRIMARY_PAIR_SM_H
#define PRIMARY_PAIR_SM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * One struct pair_sm per side. The daemon's event loop (or the simulator in
 * failover-tests/pair_sim.c) feeds it events and carries out the actions it
 * returns, in order, before feeding the next event. Nothing here reads a
 * clock: time arrives as now_ms in TIMER events.
 *
 * Steps are counted in log chunks: chunk s ends at step s, and every chunk
 * carries the epoch of the side that produced it (its tag). Two logs agree up
 * to s when they hold the same tag there; the history table below records
 * at which step each epoch's chunks begin.
 *
 * What survives a crash (the side's log file and a small record beside it):
 * the chunks written (LOG_WRITTEN, or WRITE_CHUNK actions), and the record
 * written by PERSIST: the epoch and whether this side can vouch for that
 * epoch's history alone (it owns it and its local log covers every released
 * output, or it is a backup the primary declared in sync).
 */

/* Epochs remembered in a history table (the simulator also runs with 2, to cover forgetting). */
#ifndef PAIR_MAX_EPOCHS
#define PAIR_MAX_EPOCHS 64
#endif

enum pair_role {
	PAIR_PRIMARY = 1,
	PAIR_BACKUP = 2,
};

enum pair_state {
	PS_IDLE,	/* not started, or crashed */
	PS_WAIT_PEER,	/* primary: guest not started until the backup said hello (as the daemon does) */
	PS_PROTECTED,	/* primary: SYNCED sent; output leaves once the backup's ack and our log hold its step */
	PS_ALONE,	/* primary: no backup in sync (a returning one may be catching up); output on our log */
	PS_RETURNING,	/* backup: restarted or new, said hello, waiting for RESUME */
	PS_FOLLOWING,	/* backup: writing, acknowledging and replaying the primary's log */
	PS_TAKING,	/* either: asked the arbiter for the next epoch */
	PS_CATCHUP,	/* backup that won: replaying the rest of its log, then live */
	PS_PROMOTING,	/* primary: guest stopped at promote_step for a planned switchover */
	PS_STOPPED,	/* fenced or refused: holds all output, VM stopped */
};

/* What this side's durable record says it may do alone. */
enum pair_vouch {
	PV_NONE = 0,
	PV_OWNER = 1,		/* owns `epoch`: its own log holds every output released in it */
	PV_SYNCED = 2,		/* a backup declared in sync in `epoch`: its log holds every released output */
};

enum pair_msg_kind {
	PM_HELLO = 1,		/* a, b: log end, tag of its last chunk; c: role; flag: can vouch */
	PM_RESUME,		/* primary -> backup: a: keep your log up to a; c: our histories agree up to c; b: my step */
	PM_CHUNK,		/* a: step, b: tag */
	PM_ACK,			/* a: log written up to, b: replayed up to; flag: in sync (SYNCED recorded) */
	PM_SYNCED,		/* primary -> backup: a: you now hold every released output (I rely on your acks) */
	PM_PROGRESS,		/* a: the primary's step */
	PM_PROMOTE,		/* primary -> backup: a: I stopped at step a: replay to it and take over */
	PM_HEARTBEAT,
	PM_GOODBYE,
};

struct pair_msg {
	enum pair_msg_kind kind;
	uint64_t epoch;		/* every message carries its sender's epoch */
	uint64_t a, b, c;
	bool flag;
};

enum pair_event_kind {
	PE_START = 1,	/* role; log_end/log_tag/history and the durable record recovered from disk */
	PE_LINK_UP,
	PE_LINK_DOWN,
	PE_MSG_IN,
	PE_TIMER,	/* now_ms */
	PE_ARBITER_RESULT,
	PE_CHUNK_READY,	/* primary: the recorder closed chunk `step` */
	PE_LOG_WRITTEN,	/* the local log holds chunks up to `step` */
	PE_REPLAY_AT,	/* backup: the replay reached `step` */
	PE_GUEST_OUTPUT,	/* primary: output held at `step` */
	PE_PROMOTE_REQUEST,	/* operator: stop at `step` (0: now) and swap roles */
	PE_GUEST_STOPPED,	/* the guest ended (power off): nothing more to protect */
	PE_NO_PRIMARY,	/* backup: the driver's grace (after a switchover, or a restart on its own log) ran out */
};

enum pair_arbiter_result {
	PA_WON = 1,		/* epoch: the new epoch, ours */
	PA_LOST,		/* epoch: the winner's (current) epoch */
	PA_UNREACHABLE,
};

struct pair_hist {
	uint64_t tag, first_step;
};

struct pair_event {
	enum pair_event_kind kind;
	uint64_t now_ms;
	uint64_t step;
	struct pair_msg msg;
	enum pair_arbiter_result arb;
	uint64_t arb_epoch;
	bool arb_owner_is_us;	/* LOST, but the store names us: our own earlier take whose answer was lost */
	/*
	 * START. For a backup, what its log and durable record hold. For a
	 * primary, durable_epoch is the arbiter's epoch as read now: a primary
	 * starts a new VM only on a pair that never had one (epoch 0), or when
	 * the operator says so (new_vm).
	 */
	enum pair_role role;
	bool new_vm;
	/*
	 * A primary whose guest already runs at log_end, alone in
	 * durable_epoch, which it owns: a backup that took the guest over and
	 * goes on as the primary in the same process.
	 */
	bool running;
	uint64_t log_end, log_tag;
	const struct pair_hist *hist;	/* oldest first; only the newest PAIR_MAX_EPOCHS are kept */
	int nhist;
	uint64_t durable_epoch;
	enum pair_vouch durable_vouch;
};

enum pair_action_kind {
	PX_SEND = 1,		/* msg (for a CHUNK, the driver fills the tag from its history when b is 0) */
	PX_TAKE_ARBITER,	/* expect epoch: compare-and-set expect -> expect+1 */
	PX_RELEASE_OUTPUT_UP_TO,	/* step */
	PX_HOLD_ALL_OUTPUT_FOREVER,
	PX_PAUSE_GUEST,
	PX_RESUME_GUEST,
	PX_START_GUEST,		/* primary: run the guest from `step` */
	PX_GO_LIVE,		/* backup: at step, live input from now on; this side is now the primary */
	PX_STOP_VM,		/* reason */
	PX_CARRY_ON_UNPROTECTED,
	PX_CLOSE_LINK,
	PX_WRITE_CHUNK,		/* backup: append chunk step with tag to the log (durable) before the ack */
	PX_TRUNCATE_LOG,	/* backup: keep chunks up to step, drop the rest */
	PX_REPLAY_UP_TO,	/* backup: the replay may advance to step */
	PX_PERSIST,		/* write the durable record: epoch, vouch */
	PX_RESTART_REPLAY,	/* backup: the machine ran past a fork: rebuild it and replay from step 0 */
};

struct pair_action {
	enum pair_action_kind kind;
	struct pair_msg msg;
	uint64_t step, epoch;
	enum pair_vouch vouch;
	const char *reason;
};

struct pair_config {
	uint32_t heartbeat_ms, dead_ms;
	uint32_t resend_ms;		/* no ack progress for this long: send unacknowledged chunks again */
	uint64_t max_lag_steps;		/* primary pauses its guest past this lag (--max-lag-ms in steps) */
	uint64_t window_steps;		/* chunks in flight beyond the last ack */
	bool fence_on_unreachable;	/* an unreachable arbiter stops the side (the daemons before 6d479d0) */
	/*
	 * A protected primary releases at the backup's ack alone. Unsafe on
	 * its own (pair_sim --today=ack); pair_drive sets it because the
	 * recording session holds output until our own log holds it too.
	 */
	bool release_on_ack_only;
	/*
	 * The daemons (primary/pair_drive.c): their channel streams the log,
	 * acknowledges it and carries the heartbeats, and the primary's vCPU
	 * thread keeps the lag bound, so the machine sends no CHUNK and pauses
	 * no guest.
	 */
	bool driver_streams;
};

struct pair_sm {
	struct pair_config cfg;
	enum pair_role role;
	enum pair_state state;
	uint64_t epoch;
	enum pair_vouch vouch;		/* as persisted */
	bool link_up, peer_ok;		/* peer_ok: hello exchanged in this epoch */
	uint64_t now_ms, last_heard_ms, last_sent_ms, last_ack_ms, started_ms, arb_retry_ms;
	bool arb_pending;
	enum pair_state take_from;	/* the state TAKING began in */
	uint64_t last_primary_ms;	/* backup: last heard from a primary */
	/* primary */
	uint64_t guest_step;		/* newest chunk closed */
	uint64_t local_written;		/* local log end */
	uint64_t sent, acked, replayed;	/* peer's log end (acked) and replay position */
	uint64_t safe, released;	/* safe: the step output may leave at; released: announced to the driver */
	uint64_t held_step;		/* newest output held */
	bool guest_paused, guest_started;
	bool backup_synced;		/* the backup's ack says it recorded SYNCED */
	bool promote_sent;
	uint64_t promote_step;
	/* backup */
	uint64_t log_end, log_tag;	/* own log */
	uint64_t rep_step;		/* own replay position */
	uint64_t primary_step;		/* the primary's step, as last heard */
	bool synced;
	uint64_t takeover_step;		/* CATCHUP: live here */
	bool promoted;			/* PROMOTE received: take over at promote_step */
	/* the history this side holds (its log, then its guest): where each epoch's chunks begin */
	struct pair_hist hist[PAIR_MAX_EPOCHS];
	int nhist;
	bool hist_forgot;		/* older epochs fell out of the table */
	const char *why;		/* the last reason for a state change, for reports */
};

void pair_sm_init(struct pair_sm *sm, const struct pair_config *cfg);
/*
 * Feed one event; the actions land in out, to be carried out in order before
 * the next event. Returns how many. With max_out >= 32 none is ever lost:
 * chunks that do not fit are sent on a later event.
 */
int pair_sm_step(struct pair_sm *sm, const struct pair_event *in, struct pair_action *out, int max_out);
/* The epoch of the chunk at step in this side's history (0 before it). */
uint64_t pair_sm_tag_at(const struct pair_sm *sm, uint64_t step);
/* True while this side serves the guest (releases output of its own steps). */
bool pair_sm_serving(const struct pair_sm *sm);

const char *pair_state_name(enum pair_state s);
const char *pair_msg_name(enum pair_msg_kind k);
const char *pair_event_name(enum pair_event_kind k);
const char *pair_action_name(enum pair_action_kind k);

#endif
