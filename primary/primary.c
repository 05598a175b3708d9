/* SPDX-License-Identifier: MIT */
/*
 * primary: 'ftvm primary'. The vCPU thread runs and records the guest; an
 * I/O thread streams the replay queue to the backup as LogChunks and feeds
 * the pair's protocol (pair_sm), which turns the backup's acks into the step
 * up to which output may leave. When the backup is lost, the primary carries
 * on alone only after winning the arbiter; when it loses, or learns of a
 * newer epoch, it stops its VM.
 */
#include "pair.h"
#include "pair_drive.h"
#include "hv/crc32c.h"
#include "hv/host/sched.h"
#include "hv/rq/queue.h"
#include "hv/rr/session.h"
#include "transport/log.h"
#include "transport/xport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_CHUNKS 1024u
#define WINDOW_BYTES (256ULL << 20)
/* The primary closes a chunk at least this often, so the backup is never far behind. */
#define CHUNK_MS 2
/* A backup that takes a checkpoint gets a fresh one when ours is older than this (guest time) ... */
#define FRESH_CKPT_MS 5000
/* ... and is served with what there is if it is not saved within this long. */
#define FRESH_CKPT_WAIT_S 30

struct primary {
	struct ft_opts o;
	struct ft_arbiter *arb;
	uint64_t epoch;
	struct rr_session *s;
	struct rq *q;
	int qid, q_efd;
	struct xport_loop *loop;
	struct xport *x;
	struct ft_control *ctl;
	pthread_t io;
	bool io_started;
	uint64_t tags[WINDOW_CHUNKS * 2];	/* seq -> the step its chunk ends at */
	uint64_t sent_us[WINDOW_CHUNKS * 2];	/* seq -> when it was handed to the channel */
	uint32_t rtt_us[256];			/* loop thread: the newest acks' round trips */
	unsigned rtt_n;
	uint64_t last_tag;
	uint8_t digest[32];
	bool streaming;			/* a consumer of the queue feeds the channel */
	/* a returning backup: items [file_next, join_item) come from the log file */
	bool rejoining;
	uint64_t join_item, file_next, file_tag, rq_sent;
	/* I/O thread: output commit: the step the backup acknowledged */
	uint64_t acked_step;
	int file_fd;
	struct rr_reader *file_reader;
	struct ft_ckpt_send ckpt_out;	/* a returning backup that lacks our checkpoint's place gets it first */
	/* ... and one whose checkpoint would be old waits for a fresh one (fresh_checkpoint_wait) */
	bool ckpt_wait;
	int64_t ckpt_timer;
	uint64_t ckpt_wait_saved, ckpt_wait_failed;
	double ckpt_wait_since;
	uint8_t *file_buf;
	size_t file_len;
	bool stream_done;		/* the queue is closed and drained */
	/* shared with the vCPU thread (atomics) */
	int link_up, protected_, fenced, done;
	int guest_go;		/* the pair's protocol started the guest (START_GUEST) */
	int switching;		/* 'ftvm promote': the guest stops for the backup to take over */
	int switch_done;	/* ... and the main thread no longer needs the loop */
	uint64_t acked_end;	/* the step the backup's acks cover */
	int converging;		/* a returning backup follows the queue: the lag bound applies */
	int rejoin_throttle;	/* a returning backup replays the history: the guest slows down */
	uint64_t replayed, sent_end, acked_seq, steps, steps_per_ms;
	uint64_t held_now, held_bytes, released, held_wait_ns, pauses, paused_ns;
	uint64_t last_ack_us;
	double start_s, done_s;
	/* vCPU thread: execution speed */
	uint64_t speed_t, speed_steps, slice_t;
	bool lease_gated;		/* alone with a lapsed lease: output held */
	struct ft_ckpt ckpt;		/* vCPU thread's */
	bool took_over;			/* this process was the backup and took the guest over */
	struct ft_adoption taken;	/* ... and its figures */
	bool peer_owns;			/* take_epoch: our peer owns the epoch (it took the guest over) */
	double speed;
	struct ft_note note;
	/* I/O thread: the pair's protocol */
	struct pair_drive pd;
	bool synced_told;		/* SYNCED said for this protection */
};

#define set_note(d, ...) ft_note_set(&(d)->note, "primary", __VA_ARGS__)

/*
 * I/O thread: hand one payload to the channel; its ack counts for step tag.
 * 1 taken, 0 no credit now (retry after an ack), <0 error.
 */
static int send_payload(struct primary *p, const uint8_t *buf, size_t len, uint64_t tag, const char *what)
{
	uint64_t seq;
	int rc = xport_send_chunk(p->x, p->last_tag, buf, len, &seq);

	if (rc == -ENOBUFS)
		return 0;
	if (rc) {
		set_note(p, "cannot send %s: %s", what, strerror(-rc));
		return rc;
	}
	p->tags[seq % (WINDOW_CHUNKS * 2)] = tag;
	p->sent_us[seq % (WINDOW_CHUNKS * 2)] = xport_now_us();
	return 1;
}

/* I/O thread: offer one item of the log to the channel. */
static int offer(struct primary *p, const uint8_t *buf, size_t len, uint64_t tag)
{
	int rc = send_payload(p, buf, len, tag, "a chunk");

	if (rc == 1) {
		p->last_tag = tag;
		STORE(p->sent_end, tag);
	}
	return rc;
}

/*
 * The next item of the local log file (the header, then chunks): its offset,
 * length and end step. In a trimmed log the chunk after the header is the
 * first one after the hole: file_next moves to it.
 */
static int read_item(struct primary *p, uint64_t *start, size_t *len, uint64_t *tag, char *why,
		     size_t why_len)
{
	struct rr_header h;
	struct rr_chunk c;
	int rc;

	rc = p->file_next == 0 ? rr_reader_read_header(p->file_reader, &h, why, why_len)
			       : rr_reader_next(p->file_reader, &c, why, why_len);
	if (rc < 0 || (p->file_next && rc != 1))
		return rc < 0 ? rc : -EIO;
	*start = p->file_next ? c.offset : 0;
	if (p->file_next && c.seq + 1 != p->file_next) {
		if (p->file_next != 1 || c.seq + 1 < p->file_next) {
			snprintf(why, why_len, "chunk %" PRIu64 " where item %" PRIu64 " was next", c.seq, p->file_next);
			return -EIO;
		}
		p->file_next = c.seq + 1;
	}
	*tag = p->file_next ? c.end_step : 0;
	*len = rr_reader_offset(p->file_reader) - *start;
	return 0;
}

/* I/O thread: a checkpoint piece; it holds no step, so the acked step stays where it was. */
static int offer_piece(struct primary *p, const uint8_t *buf, size_t len)
{
	return send_payload(p, buf, len, p->acked_step, "a checkpoint piece");
}

/* I/O thread: the checkpoint's pieces, before the log's items. 1: all sent, 0: more later. */
static int pump_checkpoint(struct primary *p)
{
	const uint8_t *piece;
	size_t len;
	int rc;

	while ((rc = ft_ckpt_send_next(&p->ckpt_out, &piece, &len)) == 1) {
		rc = offer_piece(p, piece, len);
		if (!p->rejoining)
			return 0;	/* the send lost the link, and forget_returning let go of the file */
		if (rc == 0)
			return 0;	/* no credit: the next ack brings us back */
		if (rc < 0)
			break;
		ft_ckpt_send_taken(&p->ckpt_out);
	}
	if (rc < 0)
		log_warnx("primary: cannot send the checkpoint to the returning backup: %s; it replays the "
			  "log instead", strerror(-rc));
	else
		log_info("primary: sent the returning backup our checkpoint at step %" PRIu64 " (%" PRIu64
			 " bytes)", p->ckpt_out.steps, p->ckpt_out.size);
	ft_ckpt_send_close(&p->ckpt_out);
	return 1;
}

static void close_file(struct primary *p)
{
	rr_reader_close(p->file_reader);
	p->file_reader = NULL;
	if (p->file_fd >= 0)
		close(p->file_fd);
	p->file_fd = -1;
	p->file_len = 0;
}

/* The local log, held (ft_log_hold: no checkpoint trims it) until close_file. */
static int open_file(struct primary *p)
{
	close_file(p);
	p->file_fd = open(p->o.log_path, O_RDONLY | O_CLOEXEC);
	if (p->file_fd < 0 || ft_log_hold(p->file_fd) < 0) {
		set_note(p, "log %s: %s", p->o.log_path, strerror(errno));
		close_file(p);
		return -EIO;
	}
	return 0;
}

/* Read from the start of the open log to its item skip_items (in a trimmed log: 0, 1, or one it still holds). */
static int seek_file(struct primary *p, uint64_t skip_items)
{
	char why[256];

	rr_reader_close(p->file_reader);
	p->file_len = 0;
	p->file_reader = lseek(p->file_fd, 0, SEEK_SET) == 0 ? rr_reader_open_fd(p->file_fd) : NULL;
	if (!p->file_reader) {
		set_note(p, "log %s: %s", p->o.log_path, strerror(errno ? errno : ENOMEM));
		return -EIO;
	}
	rr_reader_allow_trimmed(p->file_reader);
	p->file_tag = 0;
	for (p->file_next = 0; p->file_next < skip_items; p->file_next++) {
		uint64_t start;
		size_t len;
		if (read_item(p, &start, &len, &p->file_tag, why, sizeof(why)) ||
		    (p->file_next >= skip_items && snprintf(why, sizeof(why), "it was trimmed past item %" PRIu64,
							     skip_items))) {
			set_note(p, "log %s: %s", p->o.log_path, why);
			return -EIO;
		}
	}
	return 0;
}

static void sm_hello(struct primary *p);

/*
 * I/O thread, a returning backup: it gets the log from the local file, item
 * by item as the writer adds them, with no hold on the replay queue, so the
 * guest never waits while the backup replays the history. Once the backup's
 * replay is within the lag bound, a queue cursor joins at the head and the
 * file supplies only the items before it.
 */
static void pump_file(struct primary *p)
{
	char why[256];

	if (p->ckpt_out.fd >= 0 && !pump_checkpoint(p))
		return;
	for (;;) {
		uint64_t written = rr_session_items_written(p->s);
		if (p->join_item == UINT64_MAX && p->file_next >= written && !p->file_len) {
			/* Join within ten lag bounds (at least a second); the lag bound then closes the rest. */
			uint64_t ms = p->o.max_lag_ms * 10 > 1000 ? p->o.max_lag_ms * 10 : 1000;
			if (LOAD(p->sent_end) > LOAD(p->replayed) + ms * LOAD(p->steps_per_ms))
				return;	/* still replaying the history: keep tailing the file */
			uint64_t first;
			int id = rq_add_consumer_at_head(p->q, &first);
			if (id < 0) {
				set_note(p, "cannot follow the queue for the returning backup: %s", strerror(-id));
				return;
			}
			p->qid = id;
			p->join_item = first;
			p->rq_sent = 0;
			STORE(p->converging, 1);
			STORE(p->rejoin_throttle, 0);
			/* From here it follows the queue as any backup: the protocol hears its hello. */
			sm_hello(p);
		}
		if (p->file_next >= p->join_item)
			break;
		if (!p->file_len) {
			if (written <= p->file_next)
				return;	/* the writer is behind: the timer comes back */
			uint64_t start;
			if (read_item(p, &start, &p->file_len, &p->file_tag, why, sizeof(why))) {
				set_note(p, "cannot read back the log for the returning backup: %s", why);
				p->rejoining = false;
				p->streaming = false;
				p->file_len = 0;
				return;
			}
			uint8_t *nb = realloc(p->file_buf, p->file_len);
			if (!nb || pread(p->file_fd, nb, p->file_len, (off_t)start) != (ssize_t)p->file_len) {
				if (nb)
					p->file_buf = nb;
				set_note(p, "cannot read back the log for the returning backup");
				p->rejoining = false;
				p->streaming = false;
				p->file_len = 0;
				return;
			}
			p->file_buf = nb;
		}
		int rc = offer(p, p->file_buf, p->file_len, p->file_tag);
		if (rc <= 0)
			return;
		/* A send can lose the link at once, and with it this backup (forget_returning). */
		if (!p->rejoining)
			return;
		p->file_len = 0;
		p->file_next++;
	}
	set_note(p, "the returning backup has the %" PRIu64 " items it missed; following the queue",
		 p->join_item);
	close_file(p);
	p->rejoining = false;
}

/* I/O thread: hand queued chunks to the channel until it has no more credit. */
static void pump(struct primary *p)
{
	const uint8_t *buf;
	size_t len;
	uint64_t tag;
	int rc;

	if (!p->streaming || !p->x)
		return;
	if (p->rejoining) {
		pump_file(p);
		if (p->rejoining)
			return;
	}
	/*
	 * A send can lose the link at once (its write fails), and the loss can
	 * let go of the queue (carry_on_alone, forget_returning detach our consumer,
	 * whose items may then be freed): look again after every offer.
	 */
	while (p->streaming && !p->rejoining && p->x) {
		rc = rq_try_next(p->q, p->qid, &buf, &len, &tag);
		if (rc == -EPIPE) {
			p->stream_done = true;
			return;
		}
		if (rc != 1 || offer(p, buf, len, tag) <= 0)
			return;
		if (!p->streaming)
			return;
		rq_release(p->q, p->qid);
		p->rq_sent++;
	}
}

static void on_queue(struct xport_loop *loop, int fd, unsigned events, void *arg)
{
	struct primary *p = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: already drained */
	}
	pump(p);
}

/*
 * I/O thread: the pair's protocol is primary/pair_sm.c's. Every event the
 * channel and the arbiter bring goes into it, and what it decides comes out
 * as actions, carried out here in order: who serves in which epoch (the
 * arbiter's answers, fencing), when a backup protects the guest (SYNCED),
 * and up to which step output may leave while it does. The channel streams
 * the log and carries the heartbeats; the vCPU thread keeps the lag bound
 * (cfg.driver_streams).
 */

/* Stop the VM: hold every output for good and end the run. */
static void fence(struct primary *p, const char *why)
{
	if (LOAD(p->fenced))
		return;
	STORE(p->fenced, 1);
	STORE(p->protected_, 0);
	set_note(p, "fenced: %s; stopping the VM, its held output never leaves", why);
	rr_session_stop(p->s);
	rr_session_fail_output(p->s);
}

static int open_channel(struct primary *p);
static void forget_returning(struct primary *p);

/* The old channel speaks for the old epoch: a new one, for a backup that returns. */
static int64_t renew_channel(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct primary *p = arg;

	if (p->x) {
		xport_free(p->x);
		p->x = NULL;
	}
	STORE(p->acked_seq, 0);
	p->last_tag = 0;
	if (!p->o.log_path) {
		set_note(p, "no --log here: a returning backup cannot be served; carrying on UNPROTECTED");
		return -1;
	}
	if (!LOAD(p->done) && !LOAD(p->fenced) && open_channel(p))
		set_note(p, "cannot open a channel for a returning backup");
	return -1;
}

/*
 * SYNCED: the backup holds every output let out so far, and its replay is
 * within the lag bound. From here output waits for its acks, and Progress
 * tells it from which step it may take over (it then holds every step whose
 * output our own log let out). Told once per protection: the channel does
 * not lose it.
 */
static void tell_synced(struct primary *p)
{
	if (p->synced_told)
		return;
	p->synced_told = true;
	STORE(p->ckpt.trim_upto, UINT64_MAX);
	rr_session_commit_on_ack(p->s);
	uint64_t from = LOAD(p->guest_go) ? rr_session_written_step(p->s) : 0;
	/* Protected before Progress goes: the send can lose the link at once, and that loss needs the arbiter. */
	STORE(p->protected_, 1);
	STORE(p->converging, 0);
	if (LOAD(p->guest_go))
		set_note(p, "protected again from step %" PRIu64 " (epoch %" PRIu64 ")", from, p->epoch);
	if (xport_send_progress(p->x, from))
		log_warnx("primary: cannot send Progress");
}

/* The arbiter let us carry on alone: output on our log's word, and a new channel for a backup that returns. */
static void carry_on_alone(struct primary *p)
{
	p->streaming = false;
	p->rejoining = false;
	ft_ckpt_send_close(&p->ckpt_out);
	STORE(p->converging, 0);
	STORE(p->rejoin_throttle, 0);
	rq_detach(p->q, p->qid);
	rr_session_commit_on_log(p->s);
	set_note(p, "backup lost (%s); won epoch %" PRIu64 ": carrying on UNPROTECTED", p->pd.take_why, p->epoch);
	if (xport_loop_add_timer(p->loop, 0, renew_channel, p) < 0)
		log_warnx("primary: cannot schedule the channel's renewal");
}

static void carry_out(void *opaque, const struct pair_action *a, bool after_lost)
{
	struct primary *p = opaque;
	char why[700];

	switch (a->kind) {
	case PX_SEND:
		/* RESUME was the channel's Hello; PROGRESS and HEARTBEAT are the channel's heartbeats. */
		if (a->msg.kind == PM_SYNCED)
			tell_synced(p);
		break;
	case PX_PERSIST:
		p->epoch = a->epoch;	/* the arbiter's store is the record */
		break;
	case PX_RELEASE_OUTPUT_UP_TO:
		/* Alone, the session lets output out on its log's word (and on the lease: on_slice). */
		if (p->pd.sm.state != PS_ALONE)
			rr_session_set_acked(p->s, a->step);
		break;
	case PX_START_GUEST:
		STORE(p->guest_go, 1);
		break;
	case PX_CARRY_ON_UNPROTECTED:
		carry_on_alone(p);
		break;
	case PX_STOP_VM:
		/* Lost the arbiter: its word names the winner. */
		snprintf(why, sizeof(why), "%s%s%s", a->reason ? a->reason : "stopped", after_lost ? ": " : "",
			 after_lost ? p->pd.arb_why : "");
		fence(p, why);
		break;
	default:
		/* HOLD_ALL_OUTPUT_FOREVER comes with STOP_VM (fence); CLOSE_LINK: the channel is renewed or the run ends. */
		break;
	}
}

static bool run_over(void *opaque)
{
	struct primary *p = opaque;

	return LOAD(p->fenced) || LOAD(p->done);
}

static void stepped(void *opaque, enum pair_state was)
{
	struct primary *p = opaque;

	if (p->pd.sm.state != PS_PROTECTED && p->pd.sm.state != PS_PROMOTING) {
		STORE(p->protected_, 0);
		p->synced_told = false;
	}
}

static void arbiter_unreachable(void *opaque, const char *why, unsigned retry_ms)
{
	struct primary *p = opaque;

	set_note(p, "backup lost (%s) and the arbiter cannot be reached (%s): holding output, asking again in %u ms",
		 p->pd.take_why, why, retry_ms);
}

static const struct pair_drive_ops drive_ops = {
	.over = run_over, .act = carry_out, .stepped = stepped, .unreachable = arbiter_unreachable,
};

/* What the machine hears with each ack: our log's end, the guest's step, the lag bound in steps. */
static void sm_progress(struct primary *p)
{
	uint64_t written = rr_session_written_step(p->s), step = LOAD(p->steps);

	if (step < written)
		step = written;
	if (step < p->acked_step)
		step = p->acked_step;
	p->pd.sm.cfg.max_lag_steps = p->o.max_lag_ms * LOAD(p->steps_per_ms);
	if (step > p->pd.sm.guest_step)
		pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_CHUNK_READY, .step = step });
	pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_LOG_WRITTEN, .step = written });
}

/*
 * The backup follows the queue (the first one from item 0, a returning one
 * once it joins it): the machine hears its hello, holding what it acked.
 */
static void sm_hello(struct primary *p)
{
	sm_progress(p);
	pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_MSG_IN,
		.msg = { .kind = PM_HELLO, .epoch = p->epoch, .a = p->acked_step, .b = p->epoch, .c = PAIR_BACKUP } });
	pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_MSG_IN,
		.msg = { .kind = PM_ACK, .epoch = p->epoch, .a = p->acked_step, .b = LOAD(p->replayed) } });
}

static int64_t sm_tick(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct primary *p = arg;

	pair_drive_tick(&p->pd);
	return p->o.heartbeat_ms ? p->o.heartbeat_ms : 50;
}

/*
 * Before the loop runs (main thread): a new primary took its epoch already
 * (take_epoch): the machine hears that answer; one that took the guest over
 * runs it alone in the epoch it owns.
 */
static void sm_start(struct primary *p)
{
	struct pair_event ev = { .kind = PE_START, .role = PAIR_PRIMARY, .log_end = rr_session_written_step(p->s) };

	pair_drive_init(&p->pd, p->o.heartbeat_ms, "primary", p->arb, p->o.name, &drive_ops, p);
	if (p->took_over) {
		ev.running = true;
		ev.durable_epoch = p->epoch;
		ev.durable_vouch = PV_OWNER;
		pair_drive_feed(&p->pd, ev);
		STORE(p->guest_go, 1);
		return;
	}
	ev.new_vm = true;
	ev.durable_epoch = p->epoch - 1;
	p->pd.won = p->epoch;
	pair_drive_feed(&p->pd, ev);
	if (p->pd.sm.state != PS_WAIT_PEER)
		fence(p, "the pair's protocol did not start");
}

static void on_ack(void *arg, uint64_t acked_seq, uint64_t steps_replayed)
{
	struct primary *p = arg;

	if (acked_seq && acked_seq > LOAD(p->acked_seq)) {
		uint64_t step = p->tags[acked_seq % (WINDOW_CHUNKS * 2)];
		uint64_t rtt = xport_now_us() - p->sent_us[acked_seq % (WINDOW_CHUNKS * 2)];
		p->rtt_us[p->rtt_n++ % 256] = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
		if (step > p->acked_step)
			p->acked_step = step;
		STORE(p->acked_end, p->acked_step);
		STORE(p->acked_seq, acked_seq);
	}
	STORE(p->replayed, steps_replayed);
	STORE(p->last_ack_us, xport_now_us());
	/*
	 * The backup writes before it acks: its log holds acked_step. Output of
	 * step s leaves once that covers s and our own log holds s too (the
	 * session releases on whichever comes last), so a primary that comes
	 * back from its own log never has let out what that log lacks.
	 */
	sm_progress(p);
	pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_MSG_IN,
		.msg = { .kind = PM_ACK, .epoch = p->epoch, .a = p->acked_step, .b = steps_replayed } });
	pump(p);
}

/*
 * A backup connects to a primary that carries on alone. Its Hello says how
 * many items of the log it already holds (restarted on its own log file) and
 * the CRC of its header and last items (pair_log.c): if our log holds
 * exactly those, it gets only the rest, from our log file; otherwise (a log
 * we never wrote, or none) the log from the start, which tells it to set its
 * own aside. Our log may be trimmed (it starts at our checkpoint's chunk):
 * then "from the start" is our checkpoint, the header, and the chunks we
 * hold, and a backup that cannot take that is not served.
 */
static void begin_rejoin(struct primary *p)
{
	uint64_t have = 0, from = 0, written = rr_session_items_written(p->s), caps = xport_peer_capabilities(p->x);
	uint32_t have_crc = 0;
	struct ft_log_tail t = { 0 };
	char why[512] = "";
	const char *refused = NULL;

	xport_peer_log(p->x, &have, &have_crc, &from);
	if (!(caps & XPORT_CAP_TRIMMED))
		from = 1;	/* its CRC covers every item */
	if (open_file(p))
		return;
	if (have > written) {
		refused = "more than this primary's log holds";
	} else if (have) {
		int rc = ft_log_check(p->file_fd, have, from, have_crc, &t, why, sizeof(why));
		if (rc == 1 && have < t.first_item)
			snprintf(why, sizeof(why), "this log was trimmed to start at item %" PRIu64, t.first_item);
		refused = rc == 1 && have >= t.first_item ? NULL : why;
	}
	if (refused) {
		log_warnx("primary: the returning backup holds %" PRIu64 " items of a log, %s: it must start "
			  "fresh; sending it the log from the start", have, refused);
		have = 0;
	}
	if (!have && ft_log_tail_scan(p->file_fd, &t, 2, NULL, why, sizeof(why)) < 0) {
		set_note(p, "log %s: %s", p->o.log_path, why);
		close_file(p);
		return;
	}
	ft_ckpt_send_close(&p->ckpt_out);
	if (caps & XPORT_CAP_CHECKPOINT) {
		if (ft_ckpt_send_open(&p->ckpt_out, p->ckpt.path, p->o.log_path, have, why, sizeof(why)) == 1)
			log_info("primary: the returning backup holds %" PRIu64 " log items, our checkpoint stands at "
				 "item %" PRIu64 " (step %" PRIu64 "): sending it the checkpoint (%" PRIu64 " bytes) "
				 "first", have, p->ckpt_out.place_items - 1, p->ckpt_out.steps, p->ckpt_out.size);
		else
			log_info("primary: no checkpoint for the returning backup: %s", why);
	}
	if (!have && t.first_item > 1) {
		const char *lacks = !(caps & XPORT_CAP_TRIMMED) ? "it cannot start a trimmed log (an older ftvm)"
				    : p->ckpt_out.fd < 0 ? "there is no checkpoint it can take"
				    : p->ckpt_out.place_items - 1 < t.first_item ? "our checkpoint stands before it"
				    : NULL;
		if (lacks) {
			ft_ckpt_send_close(&p->ckpt_out);
			close_file(p);
			set_note(p, "a backup connected, and our log was trimmed to start at item %" PRIu64 ": %s; it "
				 "cannot be served: carrying on UNPROTECTED", t.first_item, lacks);
			/* One of ours whose replay has begun: started again, it takes one (with a LOG.ckpt.bad, not). */
			if (caps & XPORT_CAP_TRIMMED) {
				xport_set_goodbye(p->x, FT_GOODBYE_TRIMMED);
				if (xport_loop_add_timer(p->loop, 0, renew_channel, p) < 0)
					log_warnx("primary: cannot schedule the channel's renewal");
			}
			return;
		}
	}
	if (seek_file(p, have)) {
		ft_ckpt_send_close(&p->ckpt_out);
		close_file(p);
		return;
	}
	p->last_tag = p->file_tag;
	p->join_item = UINT64_MAX;
	p->rejoining = true;
	p->streaming = true;
	STORE(p->rejoin_throttle, 1);
	const char *ckpt = p->ckpt_out.fd >= 0 ? "our checkpoint, then " : "";
	if (have)
		set_note(p, "a backup returned holding %" PRIu64 " of our %" PRIu64 " log items: sending it "
			 "%sthe rest from item %" PRIu64 ", then live", have, written, ckpt, have);
	else if (t.first_item > 1)
		set_note(p, "a backup connected holding none of our log (returning, or new): sending it %sthe "
			 "log from item %" PRIu64 " (it was trimmed before), then live", ckpt, t.first_item);
	else
		set_note(p, "a backup connected holding none of our log (returning, or new): sending it %sthe "
			 "log from the start, then live", ckpt);
}

/* I/O thread: the checkpoint asked for a returning backup is saved (or failed, or late): serve the backup. */
static int64_t fresh_checkpoint_wait(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct primary *p = arg;
	bool saved = LOAD(p->ckpt.saved) != p->ckpt_wait_saved, failed = LOAD(p->ckpt.failed) != p->ckpt_wait_failed;
	bool late = ft_now_s() - p->ckpt_wait_since > FRESH_CKPT_WAIT_S;

	(void)loop, (void)id;
	if (!saved && !failed && !late && !LOAD(p->fenced) && !LOAD(p->done))
		return 50;
	p->ckpt_timer = 0;
	p->ckpt_wait = false;
	STORE(p->ckpt.asap, 0);
	if (!saved && !LOAD(p->fenced) && !LOAD(p->done))
		log_warnx("primary: the checkpoint taken for the returning backup %s; it gets the last one, if any",
			  failed ? "failed" : "is late");
	if (LOAD(p->link_up) && p->pd.sm.state == PS_ALONE && !p->streaming && !LOAD(p->fenced) && !LOAD(p->done)) {
		begin_rejoin(p);
		pump(p);
	}
	return -1;
}

/*
 * A backup that takes a checkpoint replays from it to the head while the
 * guest runs at two thirds of its speed, so it catches up in about three
 * times the checkpoint's age in guest time. When ours is older than
 * FRESH_CKPT_MS (or there is none it could use), the vCPU thread takes one
 * now and the backup waits for it: a checkpoint is written in a second or
 * two, where the interval (default 60 s) could cost minutes.
 */
static bool ask_fresh_checkpoint(struct primary *p)
{
	struct ft_ckpt_send probe = { .fd = -1 };
	uint64_t have = 0, from = 0, steps = LOAD(p->steps), steps_per_ms = LOAD(p->steps_per_ms), age_ms = UINT64_MAX;
	uint32_t have_crc = 0;
	char why[512];

	if (!p->ckpt.every_s || !(xport_peer_capabilities(p->x) & XPORT_CAP_CHECKPOINT))
		return false;
	xport_peer_log(p->x, &have, &have_crc, &from);
	if (ft_ckpt_send_open(&probe, p->ckpt.path, p->o.log_path, have, why, sizeof(why)) == 1 && steps_per_ms)
		age_ms = steps > probe.steps ? (steps - probe.steps) / steps_per_ms : 0;
	ft_ckpt_send_close(&probe);
	if (age_ms <= FRESH_CKPT_MS)
		return false;
	p->ckpt_wait_saved = LOAD(p->ckpt.saved);
	p->ckpt_wait_failed = LOAD(p->ckpt.failed);
	p->ckpt_wait_since = ft_now_s();
	p->ckpt_timer = xport_loop_add_timer(p->loop, 50, fresh_checkpoint_wait, p);
	if (p->ckpt_timer < 0) {
		p->ckpt_timer = 0;
		return false;
	}
	p->ckpt_wait = true;
	STORE(p->ckpt.asap, 1);
	if (age_ms == UINT64_MAX)
		set_note(p, "a backup connected that takes a checkpoint, and it could use none of ours: taking one "
			 "for it first");
	else
		set_note(p, "a backup connected that takes a checkpoint, and ours is %" PRIu64 " ms of guest time "
			 "old: taking a fresh one for it first", age_ms);
	return true;
}

static void start_rejoin(struct primary *p)
{
	uint64_t have = 0, from = 0;
	uint32_t crc = 0;

	if (p->ckpt_wait)
		return;	/* a checkpoint is on its way for a backup: the timer serves this one */
	/* Until it is protected again, no checkpoint trims our log past what it holds: it gets only the rest. */
	xport_peer_log(p->x, &have, &crc, &from);
	if (have > 1)
		STORE(p->ckpt.trim_upto, have);
	if (!ask_fresh_checkpoint(p))
		begin_rejoin(p);
}

/*
 * The link to a backup that is not yet protecting dropped. The backup may
 * come back as the same process or as a new one, which cannot resume this
 * channel's sequence (the transport's resume lives in one process), and what
 * it holds may have changed (it writes what it got; it cuts a torn tail): let
 * go of the queue and the file, and give it a new channel whose Hello says
 * where to start again. The backup renews its side when it loses the link too.
 */
static void forget_returning(struct primary *p)
{
	if (p->join_item != UINT64_MAX)
		rq_detach(p->q, p->qid);
	p->join_item = UINT64_MAX;
	close_file(p);
	STORE(p->ckpt.trim_upto, UINT64_MAX);
	ft_ckpt_send_close(&p->ckpt_out);
	if (p->ckpt_timer)
		xport_loop_del_timer(p->loop, (uint64_t)p->ckpt_timer);
	p->ckpt_timer = 0;
	p->ckpt_wait = false;
	STORE(p->ckpt.asap, 0);
	p->streaming = false;
	p->rejoining = false;
	STORE(p->converging, 0);
	STORE(p->rejoin_throttle, 0);
	set_note(p, "the returning backup was lost before it caught up: carrying on UNPROTECTED; it may "
		 "return again");
	if (xport_loop_add_timer(p->loop, 0, renew_channel, p) < 0)
		log_warnx("primary: cannot schedule the channel's renewal");
}

static void on_link(void *arg, bool up)
{
	struct primary *p = arg;

	STORE(p->link_up, up);
	if (!up) {
		pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_LINK_DOWN });
		/* A returning backup that had not caught up: a new channel for its return. */
		if (p->pd.sm.state == PS_ALONE && (p->streaming || p->ckpt_wait) && !LOAD(p->fenced) && !LOAD(p->done))
			forget_returning(p);
		return;
	}
	STORE(p->last_ack_us, xport_now_us());
	pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_LINK_UP });
	if (!p->streaming && p->pd.sm.state == PS_ALONE && !LOAD(p->fenced) && !LOAD(p->done))
		start_rejoin(p);
	else if (p->streaming && !p->rejoining) {
		log_info("primary: backup %s connected (epoch %" PRIu64 ")", p->o.addr, p->epoch);
		sm_hello(p);
	}
	pump(p);
}

static void on_epoch(void *arg, uint64_t peer_epoch)
{
	struct primary *p = arg;
	char why[128];

	if (peer_epoch <= p->epoch)
		return;
	pair_drive_feed(&p->pd, (struct pair_event){ .kind = PE_MSG_IN,
		.msg = { .kind = PM_HEARTBEAT, .epoch = peer_epoch } });
	/* The machine hears messages on a link it holds up; a refused channel's Hello fences here. */
	snprintf(why, sizeof(why), "the peer speaks for epoch %" PRIu64 ", newer than ours (%" PRIu64 ")",
		 peer_epoch, p->epoch);
	fence(p, why);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Loop thread (the control socket's): p50 and p99 of the newest acks' round trips. */
static void ack_rtt(struct primary *p, double *p50, double *p99)
{
	uint32_t v[256];
	unsigned n = p->rtt_n < 256 ? p->rtt_n : 256;

	*p50 = *p99 = 0;
	if (!n)
		return;
	memcpy(v, p->rtt_us, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_u32);
	*p50 = v[n / 2];
	*p99 = v[(n * 99) / 100];
}

static void fill_status(void *opaque, struct ft_status *st)
{
	struct primary *p = opaque;
	struct xport_stats xs = { 0 };
	uint64_t steps = LOAD(p->steps), replayed = LOAD(p->replayed), sent = LOAD(p->sent_end);

	if (p->x)
		xport_get_stats(p->x, &xs);
	st->role = LOAD(p->fenced) ? "stopped (fenced)" : LOAD(p->done) ? "stopped"
		   : p->took_over ? "primary (took over)" : "primary";
	st->protocol = pair_state_name(p->pd.sm.state);
	st->epoch = p->epoch;
	st->arbiter = ft_arbiter_name(p->arb);
	ft_status_lease(st, p->arb);
	st->peer = p->o.addr;
	st->link_up = LOAD(p->link_up);
	st->protected_ = LOAD(p->protected_) && st->link_up;
	st->steps = steps;
	st->peer_steps = replayed;
	st->lag_steps = sent > replayed ? sent - replayed : 0;
	uint64_t spm = LOAD(p->steps_per_ms);
	st->lag_ms = spm ? (double)st->lag_steps / spm : 0;
	struct rq_stats qs;
	rq_get_stats(p->q, &qs);
	st->buffer_bytes = qs.held_bytes;
	st->log_bytes = qs.bytes;
	double up = ft_now_s() - p->start_s;
	st->log_bytes_per_s = up > 0 ? qs.bytes / up : 0;
	st->pauses = LOAD(p->pauses) + qs.pauses;
	st->paused_s = (LOAD(p->paused_ns) + qs.paused_ns) / 1e9;
	st->held_outputs = LOAD(p->held_now);
	st->held_bytes = LOAD(p->held_bytes);
	st->released_outputs = LOAD(p->released);
	st->held_wait_ns_total = LOAD(p->held_wait_ns);
	ack_rtt(p, &st->ack_rtt_us_p50, &st->ack_rtt_us_p99);
	st->last_heartbeat_ms_ago = (xport_now_us() - LOAD(p->last_ack_us)) / 1e3;
	st->chunks_sent = xs.chunks_sent;
	st->chunks_acked = LOAD(p->acked_seq);
	ft_note_get(&p->note, st->note, sizeof(st->note));
}

/*
 * Loop thread: 'ftvm protect'. A primary that runs alone (its backup's host
 * is gone for good) is given another host's backup instead. The channel
 * dials there from now on; the new backup holds none of our log, so it gets
 * it from its start (our log file), as a backup that returns empty-handed
 * does, and protects the guest once it caught up. The strings are never
 * freed: other threads may still hold the old ones.
 */
static void protect_with(struct primary *p, const char *args, char *reply, size_t len)
{
	char addr[300], name[128], extra[2], host[sizeof(p->o.host)], port[sizeof(p->o.port)];
	const char *why = NULL;
	char *new_addr, *new_name;

	if (sscanf(args, "%299s %127s %1s", addr, name, extra) != 2) {
		snprintf(reply, len, "refused: want 'protect HOST:PORT NAME' (the backup's address and certificate name)\n");
		return;
	}
	if (ft_addr_split(addr, host, port))
		why = "the backup's address is not HOST:PORT";
	else if (!p->o.log_path)
		why = "this primary keeps no --log, so it could not send a new backup the log from its start";
	else if (LOAD(p->switching))
		why = "a switchover is under way";
	else if (LOAD(p->fenced) || LOAD(p->done) || !LOAD(p->guest_go))
		why = "the guest does not run here";
	else if (LOAD(p->link_up))
		why = "a backup follows the log now: stop it before naming another";
	else if (p->pd.sm.state != PS_ALONE)
		why = "this primary does not run alone yet (see 'ftvm status'): its backup may still return";
	if (why) {
		snprintf(reply, len, "refused: %s\n", why);
		return;
	}
	new_addr = strdup(addr);
	new_name = strdup(name);
	if (!new_addr || !new_name) {
		free(new_addr);
		free(new_name);
		snprintf(reply, len, "refused: out of memory\n");
		return;
	}
	if (p->x) {
		xport_free(p->x);
		p->x = NULL;
	}
	memcpy(p->o.host, host, sizeof(host));
	memcpy(p->o.port, port, sizeof(port));
	__atomic_store_n(&p->o.addr, new_addr, __ATOMIC_RELEASE);
	__atomic_store_n(&p->o.peer_name, new_name, __ATOMIC_RELEASE);
	log_info("primary: the backup is %s at %s from now on", new_name, new_addr);
	set_note(p, "carrying on UNPROTECTED until the new backup %s at %s holds the log", new_name, new_addr);
	renew_channel(p->loop, 0, p);
	snprintf(reply, len, "ok: dialing the backup %s at %s; it gets our last checkpoint (if any) and the log, "
		 "and protects the guest once it caught up ('ftvm status' says when)\n", new_name, new_addr);
}

/*
 * Loop thread: 'ftvm promote' ('protect' is above). Only a protected primary
 * with a log and an address to listen on as the backup hands over: the
 * guest stops at the end of the running slice, and the main thread does the
 * rest (switch_over).
 */
static void on_command(void *opaque, const char *cmd, char *reply, size_t len)
{
	struct primary *p = opaque;
	const char *why = NULL;

	if (!strncmp(cmd, "protect", 7) && (cmd[7] == ' ' || !cmd[7])) {
		protect_with(p, cmd + 7, reply, len);
		return;
	}
	if (strcmp(cmd, "promote"))
		why = "unknown command";
	else if (!p->o.log_path)
		why = "this primary keeps no --log, so it could not follow the new primary";
	else if (!p->o.switch_addr)
		why = "no --listen HOST:PORT: this host would have nowhere to listen as the backup";
	else if (LOAD(p->switching))
		why = "a switchover is under way";
	else if (LOAD(p->fenced) || LOAD(p->done))
		why = "the guest does not run here";
	else if (!LOAD(p->link_up))
		why = "not protected: no backup follows the log";
	else if (!LOAD(p->protected_))
		why = "not protected: the backup does not hold the log yet";
	if (why) {
		snprintf(reply, len, "refused: %s\n", why);
		return;
	}
	STORE(p->switching, 1);
	rr_session_set_open_ended(p->s, true);
	rr_session_stop(p->s);
	set_note(p, "switchover asked: the guest stops at the next slice end; the backup takes over there");
	snprintf(reply, len, "ok: the guest stops at the next slice end; the backup (%s) takes over there "
		 "and this host follows it from %s\n", p->o.addr, p->o.switch_addr);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* vCPU thread, after every slice: publish figures; keep the backup within --max-lag-ms. */
/*
 * Guest execution speed in steps per millisecond: a slowly decaying maximum
 * of what slices achieved (intervals with an idle wait in them run slower and
 * do not pull it down). It turns --max-lag-ms into steps.
 */
static double execution_speed(struct primary *p, uint64_t steps)
{
	uint64_t t = now_ns();

	if (p->speed_t && t > p->speed_t && steps > p->speed_steps) {
		double sample = (double)(steps - p->speed_steps) * 1e6 / (double)(t - p->speed_t);
		p->speed = sample > p->speed ? sample : p->speed * 0.999;
	}
	p->speed_t = t;
	p->speed_steps = steps;
	return p->speed > 1000 ? p->speed : 1000;
}

static int on_slice(void *opaque, struct hv_machine *m)
{
	struct primary *p = opaque;
	struct oc_stats os;
	double steps_per_ms = execution_speed(p, hv_steps(m));
	/* A slice runs on past the check: stop at nine tenths so the lag never shows above the bound. */
	uint64_t max_lag = (uint64_t)(p->o.max_lag_ms * steps_per_ms * 0.9);
	uint64_t t0 = 0;

	STORE(p->steps, hv_steps(m));
	STORE(p->steps_per_ms, (uint64_t)steps_per_ms);
	/*
	 * A returning backup replays the history at about the guest's own speed,
	 * so it would never close the gap on a busy guest: while it is far
	 * behind, the guest runs at two thirds of its speed (it sleeps half as
	 * long as it ran), like live migration's auto-converge. Counted as paused.
	 */
	uint64_t t = now_ns();
	if (LOAD(p->rejoin_throttle) && LOAD(p->link_up) && p->slice_t && t > p->slice_t) {
		uint64_t nap = (t - p->slice_t) / 2;
		if (nap > 5000000)
			nap = 5000000;
		usleep(nap / 1000);
		STORE(p->paused_ns, LOAD(p->paused_ns) + nap);
	}
	p->slice_t = now_ns();
	if (!LOAD(p->switching) && !LOAD(p->fenced))
		ft_ckpt_maybe(&p->ckpt, p->s);
	/*
	 * Alone, output leaves on the local log's word only while our lease
	 * surely lives: a successor waits out a lapsed lease before serving
	 * (docs/split-brain.md). While it is in doubt, output waits.
	 */
	if (ft_arbiter_lease_ms(p->arb) && !LOAD(p->protected_) && !LOAD(p->converging)) {
		bool valid = ft_arbiter_lease_valid(p->arb, now_ns() / 1000000);
		if (!valid && !p->lease_gated) {
			rr_session_commit_on_ack(p->s);
			p->lease_gated = true;
		} else if (valid && p->lease_gated) {
			rr_session_commit_on_log(p->s);
			p->lease_gated = false;
		}
	}
	for (;;) {
		uint64_t sent = LOAD(p->sent_end), replayed = LOAD(p->replayed);
		if ((!LOAD(p->protected_) && !LOAD(p->converging)) || LOAD(p->fenced) ||
		    sent <= replayed + max_lag || live_signalled() || !LOAD(p->link_up))
			break;
		if (!t0) {
			t0 = now_ns();
			STORE(p->pauses, LOAD(p->pauses) + 1);
		}
		rr_session_release(p->s);
		usleep(500);
	}
	if (t0)
		STORE(p->paused_ns, LOAD(p->paused_ns) + now_ns() - t0);
	rr_session_output_stats(p->s, &os);
	STORE(p->held_now, os.held_now);
	STORE(p->held_bytes, os.held_bytes_now);
	STORE(p->released, os.released);
	STORE(p->held_wait_ns, os.wait_ns_total);
	return 0;
}

/* The arbiter's lease (etcd): renewed from the loop; a newer epoch elsewhere fences this side. */
static int64_t keepalive(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct primary *p = arg;
	char err[512];
	int rc = ft_arbiter_keepalive(p->arb, err, sizeof(err));

	/* During a switchover the backup's new epoch is the plan; the main thread's compare-and-set decides. */
	if (rc == -EAGAIN && !LOAD(p->switching))
		fence(p, err);
	else if (rc)
		set_note(p, "arbiter unreachable: %s; retrying", err);
	return (int64_t)(ft_arbiter_lease_ms(p->arb) / 3);
}

/*
 * An arbiter without a lease (lock:) tells nobody when its epoch moves on:
 * read it now and then, so a primary whose backup took the guest (say, one
 * that never reached it after a switchover) stops instead of waiting on.
 * During a switchover the backup's new epoch is the plan, not a fence.
 */
static int64_t watch_epoch(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct primary *p = arg;
	char owner[128], err[512], why[320];
	uint64_t e;

	if (LOAD(p->fenced) || LOAD(p->done) || LOAD(p->switching))
		return 500;
	if (ft_arbiter_read(p->arb, &e, owner, sizeof(owner), err, sizeof(err)))
		return 500;	/* unreachable: the next read, or a message, tells */
	if (e > p->epoch) {
		snprintf(why, sizeof(why), "the arbiter's epoch is %" PRIu64 " (owner %.128s), newer than ours (%"
			 PRIu64 ")", e, owner, p->epoch);
		fence(p, why);
	}
	return 500;
}

static void *io_main(void *arg)
{
	struct primary *p = arg;

	pthread_setname_np(pthread_self(), "ftvm-io");
	host_sched_slice(true);
	xport_loop_run(p->loop);
	return NULL;
}

static int64_t check_done(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct primary *p = arg;

	pump(p);
	if (!LOAD(p->done) || (LOAD(p->switching) && !LOAD(p->switch_done)))
		return 20;
	/* The guest stopped: wait (bounded) until the backup has the whole log, then leave. */
	struct xport_stats xs = { 0 };
	if (p->x)
		xport_get_stats(p->x, &xs);
	if (!p->done_s)
		p->done_s = ft_now_s();
	if (!p->x || !LOAD(p->protected_) || LOAD(p->fenced) ||
	    (p->stream_done && xs.acked_seq + 1 >= xs.next_seq) || ft_now_s() - p->done_s > 5) {
		xport_loop_stop(loop);
		return -1;
	}
	return 20;
}

static int open_channel(struct primary *p)
{
	struct xport_config xc = {
		.mode = XPORT_CONNECT, .role = XPORT_ROLE_PRIMARY, .host = p->o.host, .port = p->o.port,
		.cert_file = p->o.cert_file, .key_file = p->o.key_file, .ca_file = p->o.ca_file,
		.peer_name = p->o.peer_name, .vm_id = p->o.vm_id, .image_digest = p->digest,
		.image_digest_len = sizeof(p->digest), .epoch = p->epoch,
		.heartbeat_ms = p->o.heartbeat_ms, .dead_ms = p->o.dead_ms, .reconnect_ms = 20,
		.window_chunks = WINDOW_CHUNKS, .window_bytes = WINDOW_BYTES,
		/* Took over: the items a returning old primary's log may share with ours (it checks, and cuts the rest). */
		.have_items = p->took_over ? p->taken.log_items : 0,
		.have_crc32c = p->took_over ? p->taken.log_crc : 0,
		.have_from_item = p->took_over ? p->taken.log_from : 0,
		.capabilities = XPORT_CAP_TRIMMED,
	};
	struct xport_callbacks cb = { .on_ack = on_ack, .on_link = on_link, .on_epoch = on_epoch,
				      .arg = p };

	return xport_new(p->loop, &xc, &cb, &p->x);
}

static int exit_status(const struct live_result *r)
{
	return cli_exit_status(r->end);
}

/*
 * Main thread, the guest stopped at step at for 'ftvm promote': once the
 * backup holds and has replayed the log to there, let out what its acks
 * made safe, save this machine beside the log, and say Goodbye naming the
 * step. Returns 'b' to hand over (start again as the backup); 'p' to go on
 * as the primary from the same snapshot when the backup did not get there
 * (or its link went: it may be failing over), once this side has won a new
 * epoch, so that only one of the two goes on (ft_primary_run, after the I/O
 * thread is gone); 0 when fenced.
 */
static char switch_over(struct primary *p, uint64_t at, const char *snap)
{
	double t0 = ft_now_s();
	char err[768], why[64];

	while (!(LOAD(p->acked_end) >= at && LOAD(p->replayed) >= at)) {
		if (LOAD(p->fenced) || !LOAD(p->link_up) || ft_now_s() - t0 > 30)
			break;
		usleep(1000);
	}
	bool ready = LOAD(p->acked_end) >= at && LOAD(p->replayed) >= at && !LOAD(p->fenced) && LOAD(p->link_up);
	rr_session_release(p->s);
	if (rr_session_save_snapshot(p->s, snap, err, sizeof(err))) {
		log_warnx("primary: switchover at step %" PRIu64 ": %s; stopping", at, err);
		STORE(p->switch_done, 1);
		return 0;
	}
	if (ready) {
		snprintf(why, sizeof(why), "switchover at step %" PRIu64, at);
		if (p->x)
			xport_set_goodbye(p->x, why);
		log_info("primary: switchover at step %" PRIu64 ": the backup holds and replayed the log to it "
			 "(%.1f ms); handing over", at, (ft_now_s() - t0) * 1e3);
	} else if (LOAD(p->fenced)) {
		STORE(p->switch_done, 1);
		return 0;
	} else {
		log_warnx("primary: switchover at step %" PRIu64 ": the backup did not reach it (acked to %" PRIu64
			  ", replayed to %" PRIu64 ", link %s); going on as the primary if this side wins a new "
			  "epoch", at, LOAD(p->acked_end), LOAD(p->replayed), LOAD(p->link_up) ? "up" : "down");
	}
	STORE(p->switch_done, 1);
	return ready ? 'b' : 'p';
}

/* Our log file is there and not empty: a guest of ours recorded into it. */
static bool log_holds_history(const struct primary *p)
{
	struct stat st;

	return p->o.log_path && stat(p->o.log_path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/*
 * Start at a new epoch of our own: E -> E+1 with us as the owner. If another
 * side owns the epoch it may be serving this VM (a backup that took over):
 * starting a fresh guest beside it would be a second copy, so refuse unless
 * told it is gone.
 */
static int take_epoch(struct primary *p, char *err, size_t err_len)
{
	char owner[128];
	uint64_t e;
	int rc;

	for (int tries = 0; tries < 5; tries++) {
		rc = ft_arbiter_read(p->arb, &e, owner, sizeof(owner), err, err_len);
		if (rc && rc != -EBADMSG && !live_signalled()) {
			/* Nobody starts without the arbiter: wait for it, saying so. */
			log_warnx("primary: arbiter unreachable (%s): retrying", err);
			usleep(500000);
			tries--;
			continue;
		}
		if (rc)
			return rc;
		/*
		 * After a switchover this host's previous process won the epoch
		 * (a compare-and-set) before starting again: go on in it.
		 */
		if (p->o.from_snapshot && e && !strcmp(owner, p->o.name)) {
			p->epoch = e;
			ft_arbiter_adopt(p->arb, e, p->o.name);
			return 0;
		}
		if (owner[0] && strcmp(owner, p->o.name) && !p->o.force_epoch) {
			p->epoch = e;
			p->peer_owns = !strcmp(owner, p->o.peer_name);
			snprintf(err, err_len, "%s owns epoch %" PRIu64 " and may be serving this VM; not "
				 "starting a second copy (stop it, or pass --force-epoch if it is gone)", owner, e);
			return -EEXIST;
		}
		/*
		 * We owned the epoch and died: if nobody took it since, our log
		 * is the only one that holds every output we let out (alone, they
		 * left on its word). A new guest would start that log over.
		 */
		if (e && !strcmp(owner, p->o.name) && !p->o.force_epoch && log_holds_history(p)) {
			p->epoch = e;
			snprintf(err, err_len, "this host owns epoch %" PRIu64 " and its log %s holds the guest's "
				 "history, which a new guest would overwrite: go on from it as the backup with "
				 "--handover-epoch %" PRIu64 " --take-back (it takes the guest back from its log; "
				 "with --listen this primary does that itself), or move the log aside and pass "
				 "--force-epoch to start a new guest", e, p->o.log_path, e + 1);
			return -EALREADY;
		}
		rc = ft_arbiter_take(p->arb, e, p->o.name, err, err_len);
		if (rc != -EAGAIN) {
			if (!rc)
				p->epoch = e + 1;
			return rc;
		}
	}
	return -EAGAIN;
}

/*
 * A backup that took the guest over goes on as the primary: its session,
 * recording on into its log since the replay ended, goes live, and a backup
 * that returns (at the address the backup would have dialled after a
 * switchover) is served as by any primary that carries on alone.
 */
static int adopt(struct primary *p, struct ft_adoption *a, char *err, size_t err_len)
{
	p->s = a->s;
	a->s = NULL;
	p->arb = a->arb;
	a->arb = NULL;
	p->epoch = a->epoch;
	memcpy(p->digest, a->digest, sizeof(p->digest));
	p->took_over = true;
	p->taken = *a;
	STORE(p->last_ack_us, xport_now_us());
	rr_session_set_slice_hook(p->s, on_slice, p);
	return rr_session_attach_live(p->s, p->o.cfg.net, -1, err, err_len);
}

void ft_primary_record_opts(const struct ft_opts *o, struct rr_session_record_opts *ro)
{
	*ro = (struct rr_session_record_opts){
		.log_path = o->log_path, .fsync = o->fsync, .digest_interval = RR_DEFAULT_DIGEST_INTERVAL,
		.extra_consumers = 1, .commit_on_log = false, .flush_ms = CHUNK_MS, .flush_on_input = true,
		.from_snapshot = o->from_snapshot,
	};
}

static int primary_main(const struct ft_opts *o, struct ft_adoption *a)
{
	struct primary *p = calloc(1, sizeof(*p));
	struct live_result res = { 0 };
	char err[768] = "", snap[4200] = "";
	char exec_as = 0;	/* after a switchover: 'b' the backup, 'p' the primary again */
	int status = FTVM_EXIT_HOST_ERROR, rc;

	if (!p) {
		fprintf(stderr, "ftvm primary: out of memory\n");
		return FTVM_EXIT_HOST_ERROR;
	}
	ft_note_init(&p->note);
	p->q_efd = p->file_fd = p->ckpt_out.fd = -1;
	p->o = *o;
	log_init("ftvm", 1, false);
	p->start_s = ft_now_s();
	struct live_opts lo = { .console_fd = -1, .net_spec = p->o.cfg.net, .digest_out = stderr };
	struct rr_session_record_opts ro;
	ft_primary_record_opts(&p->o, &ro);
	ro.on_slice = on_slice;
	ro.opaque = p;
	ft_ckpt_init(&p->ckpt, p->o.log_path, p->o.checkpoint_s, "primary");
	p->ckpt.trim_log = true;	/* a backup that lacks the chunks before it gets the checkpoint instead */
	if (a) {
		if (adopt(p, a, err, sizeof(err))) {
			log_warnx("primary: cannot go on after the takeover: %s", err);
			goto out;
		}
		goto session_open;
	}
	if (ft_arbiter_open(p->o.arbiter, &p->arb, err, sizeof(err)) ||
	    ft_image_digest(&p->o.cfg, p->digest, err, sizeof(err))) {
		fprintf(stderr, "ftvm primary: %s\n", err);
		status = FTVM_EXIT_USAGE;
		goto out;
	}
	rc = take_epoch(p, err, sizeof(err));
	if (rc == -EALREADY && p->o.switch_addr) {
		/* As the old primary of a switchover that never completed, but only while the epoch stays ours. */
		log_warnx("primary: this host owns epoch %" PRIu64 " and its log %s holds the guest's history: "
			  "starting again as the backup of that log, which takes the guest back from it", p->epoch,
			  p->o.log_path);
		ft_arbiter_free(p->arb);
		p->arb = NULL;
		rc = ft_exec_role(&p->o, false, NULL, p->epoch + 1, true);
		fprintf(stderr, "ftvm primary: cannot start again as the backup: %s\n", strerror(-rc));
		goto out;
	}
	if (rc == -EEXIST && p->peer_owns && p->o.switch_addr && p->o.log_path) {
		/* Our backup took over while we were away: it serves the guest, and we protect it. */
		log_warnx("primary: %s owns epoch %" PRIu64 ": it took the guest over; starting again as its "
			  "backup", p->o.peer_name, p->epoch);
		ft_arbiter_free(p->arb);
		p->arb = NULL;
		rc = ft_exec_role(&p->o, false, NULL, 0, false);
		fprintf(stderr, "ftvm primary: cannot start again as the backup: %s\n", strerror(-rc));
		goto out;
	}
	if (rc) {
		fprintf(stderr, "ftvm primary: cannot take a new epoch: %s\n", err);
		if (rc == -EEXIST || rc == -EALREADY)
			status = FT_EXIT_FENCED;
		goto out;
	}
	log_info("primary: epoch %" PRIu64 " (arbiter %s)", p->epoch, ft_arbiter_name(p->arb));

	/* A new guest's log: a checkpoint of the last one's must not pass for one of it. */
	if (!p->o.from_snapshot && p->o.log_path && unlink(p->ckpt.path) < 0 && errno != ENOENT)
		log_warn("primary: cannot remove the old checkpoint %s", p->ckpt.path);
	if (rr_session_record_open(&p->s, &p->o.cfg, &lo, &ro, err, sizeof(err))) {
		fprintf(stderr, "ftvm primary: %s\n", err);
		status = FTVM_EXIT_USAGE;
		goto out;
	}
	if (p->o.from_snapshot) {
		log_info("primary: went on from %s at step %" PRIu64 " with the log %s", p->o.from_snapshot,
			 hv_steps(rr_session_machine(p->s)), p->o.log_path);
		/* The guest's MAC moved here: tell the bridges, as after a failover. */
		rr_session_announce(p->s);
	}
session_open:
	/*
	 * A daemon stopped (SIGTERM, a unit's stop or restart) has not ended the
	 * guest: no END, so the backup that takes over, or this host taking the
	 * guest back, can record on into the log.
	 */
	rr_session_set_open_ended(p->s, true);
	/* On a TAP, frames leave where the ack (or our log's write) makes them safe: one wake-up less. */
	rr_session_release_frames_at_once(p->s);
	p->q = rr_session_queue(p->s);
	p->qid = rr_session_consumer(p->s, 0);
	p->join_item = UINT64_MAX;	/* the first backup follows the queue from item 0 */
	if (p->took_over) {
		/* Alone: a backup that connects rejoins from the log file. */
		rq_detach(p->q, p->qid);
	} else {
		p->streaming = true;
	}
	sm_start(p);

	p->q_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->q_efd < 0 || xport_loop_new(&p->loop)) {
		fprintf(stderr, "ftvm primary: cannot set up the event loop\n");
		goto out;
	}
	rq_set_notify_fd(p->q, p->q_efd);
	if (open_channel(p) ||
	    xport_loop_add_fd(p->loop, p->q_efd, XPORT_EV_READ, on_queue, p) ||
	    xport_loop_add_timer(p->loop, 20, check_done, p) < 0 ||
	    xport_loop_add_timer(p->loop, p->o.heartbeat_ms ? p->o.heartbeat_ms : 50, sm_tick, p) < 0 ||
	    (ft_arbiter_lease_ms(p->arb) &&
	     xport_loop_add_timer(p->loop, ft_arbiter_lease_ms(p->arb) / 3, keepalive, p) < 0) ||
	    (!ft_arbiter_lease_ms(p->arb) && xport_loop_add_timer(p->loop, 500, watch_epoch, p) < 0)) {
		fprintf(stderr, "ftvm primary: cannot start the log channel to %s\n", p->o.addr);
		goto out;
	}
	if (p->o.control &&
	    ft_control_open(p->loop, p->o.control, fill_status, p, &p->ctl, err, sizeof(err))) {
		fprintf(stderr, "ftvm primary: %s\n", err);
		status = FTVM_EXIT_USAGE;
		goto out;
	}
	ft_control_set_command(p->ctl, on_command);
	if (pthread_create(&p->io, NULL, io_main, p)) {
		fprintf(stderr, "ftvm primary: cannot start the I/O thread\n");
		goto out;
	}
	p->io_started = true;

	/* The guest starts protected: wait for the backup (its connection, TLS and Hello). */
	if (!p->took_over)
		log_info("primary: waiting for the backup at %s", p->o.addr);
	for (int i = 0; !LOAD(p->guest_go) && !LOAD(p->fenced) && !live_signalled(); i++) {
		usleep(10000);
		if (i && i % 500 == 0)
			log_info("primary: still waiting for the backup at %s", p->o.addr);
	}
	if (LOAD(p->fenced) || live_signalled()) {
		status = live_signalled() ? FTVM_EXIT_USER : FT_EXIT_FENCED;
		goto out;
	}
	/*
	 * The vCPU runs flat out; the I/O thread must answer heartbeats within
	 * --dead-ms even on a busy host, so the guest's thread yields to it.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), 5) < 0)
		log_warnx("primary: cannot lower the vCPU thread's priority: %s", strerror(errno));
	host_sched_slice(false);	/* a backup's event loop, which this thread was, asked for short ones */
	if (p->took_over) {
		const struct ft_adoption *t = &p->taken;
		double now = ft_now_s();
		set_note(p, "took the guest over: live at step %" PRIu64 ", epoch %" PRIu64 ": %.1f ms after the "
			 "primary was lost (arbiter %.1f ms in %" PRIu64 " round trips, replaying the rest %.1f ms, "
			 "on as the primary %.1f ms); carrying on UNPROTECTED until a backup connects at %s",
			 hv_steps(rr_session_machine(p->s)), p->epoch, (now - t->lost_at) * 1e3,
			 (t->won_at - t->lost_at) * 1e3, t->take_trips, (t->replayed_at - t->won_at) * 1e3,
			 (now - t->replayed_at) * 1e3, p->o.addr);
	}
	log_info("primary: guest %s", p->took_over ? "running on, unprotected" : "starting, protected");
	rc = rr_session_record_run(p->s, &res);
	STORE(p->done, 1);
	ft_ckpt_reap(&p->ckpt, true);
	if (LOAD(p->switching) && !LOAD(p->fenced) && !rc && res.end == LIVE_END_USER && !live_signalled()) {
		ft_switch_snapshot_path(&p->o, snap, sizeof(snap));
		exec_as = switch_over(p, res.step, snap);
	}
	STORE(p->switch_done, 1);
	status = LOAD(p->fenced) ? FT_EXIT_FENCED : exit_status(&res);
	if (LOAD(p->switching) && !exec_as && !LOAD(p->fenced))
		status = FTVM_EXIT_HOST_ERROR;	/* the switchover could not save this machine */
	if (rc && !LOAD(p->fenced))
		fprintf(stderr, "ftvm primary: the log could not be kept: %s\n", strerror(-rc));
	log_info("primary: guest stopped at step %" PRIu64 " (%s)", res.step,
		 LOAD(p->fenced) ? "fenced" : res.end == LIVE_END_POWEROFF ? "powered off" : "stopped");
out:
	if (p->io_started) {
		STORE(p->done, 1);
		pthread_join(p->io, NULL);
	}
	ft_control_close(p->ctl);
	if (p->x)
		xport_free(p->x);
	if (p->loop)
		xport_loop_free(p->loop);
	rr_session_close(p->s);
	rr_reader_close(p->file_reader);
	if (p->file_fd >= 0)
		close(p->file_fd);
	ft_ckpt_send_close(&p->ckpt_out);
	free(p->file_buf);
	if (p->q_efd >= 0)
		close(p->q_efd);
	if (exec_as == 'p' && ft_arbiter_take(p->arb, p->epoch, p->o.name, err, sizeof(err))) {
		log_warnx("primary: the switchover failed and this side lost the epoch: %s; stopping", err);
		exec_as = 0;
		status = FT_EXIT_FENCED;
	}
	ft_arbiter_free(p->arb);
	if (exec_as) {
		log_info("primary: starting again as the %s from %s", exec_as == 'b' ? "backup" : "primary", snap);
		rc = ft_exec_role(&p->o, exec_as == 'p', snap, exec_as == 'b' ? p->epoch + 1 : 0, false);
		log_warnx("primary: cannot start again as the %s: %s", exec_as == 'b' ? "backup" : "primary",
			  strerror(-rc));
		status = FTVM_EXIT_HOST_ERROR;
	}
	ft_note_fini(&p->note);
	free(p);
	return status;
}

int ft_primary_run(const struct ft_opts *o)
{
	return primary_main(o, NULL);
}

int ft_primary_adopt(const struct ft_opts *o, struct ft_adoption *a)
{
	return primary_main(o, a);
}
