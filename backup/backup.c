/* SPDX-License-Identifier: MIT */
/*
 * backup: 'ftvm backup'. The event loop receives the log, appends each chunk
 * to this host's log file, lets the channel acknowledge it (the ack leaves
 * after the write: output commit costs the primary one round trip), and
 * hands it to the replay thread, which replays as chunks arrive and blocks
 * when it has caught up. Credit follows what the replay has consumed, so a
 * slow backup pauses the primary instead of buffering without bound. When
 * the primary is lost, the backup takes the arbiter, replays everything it
 * received, and goes live at that exact step.
 */
#include "feed.h"
#include "primary/pair.h"
#include "primary/pair_drive.h"
#include "hv/crc32c.h"
#include "hv/host/sched.h"
#include "hv/rr/log.h"
#include "hv/rr/rr.h"
#include "hv/rr/session.h"
#include "hv/snapshot.h"
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
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CREDIT_CHUNKS 4096u
/* The replay runs in pieces of this many steps; between two, a checkpoint may start. */
#define CHECKPOINT_PIECE_STEPS 50000000ULL

enum backup_state {
	BK_WAITING,	/* for the primary's epoch */
	BK_REPLAYING,	/* following the primary */
	BK_TAKING,	/* the primary is lost: replaying what is left, then live */
	BK_LIVE,	/* serving the guest */
	BK_STOPPED,	/* fenced, failed, or the guest ended */
};

struct backup {
	struct ft_opts o;
	struct ft_arbiter *arb;
	uint64_t epoch;
	struct xport_loop *loop;
	struct xport *x;
	struct ft_control *ctl;
	struct feed *feed;
	int feed_efd, log_fd;
	pthread_t replayer;
	bool replayer_started;
	uint64_t granted_chunks, granted_bytes, received_end, received_bytes, chunks;
	uint64_t protect_from;	/* the primary's Progress: with the log to here, we may take over */
	/* the log file: items (header = item 0, then one per chunk) and bytes it holds */
	uint64_t log_items, log_bytes_held;
	uint64_t held_items, held_bytes;	/* what it held at start (0: a fresh log) */
	uint64_t held_from;			/* the Hello's check of them: the CRC covers items from here */
	uint64_t sm_skipped;	/* chunks a trimmed start passed over: the protocol counts the ones after them */
	uint32_t held_crc;			/* ... and the header (pair_log.c) */
	/* where the log's last items lie (the replay's checkpoints may trim what comes before them) */
	struct ft_log_tail tail;
	bool log_decided;	/* the first chunk said whether the primary continues our log */
	struct xport_config xc;	/* the channel's, kept to renew it */
	struct xport_callbacks cb;
	bool renew_pending, renewing;
	bool have_progress;
	double lost_at, won_at;
	/* shared (atomics) */
	int state, link_up, ever_up, take_over, exit_status, fenced;
	int switching;			/* the primary said Goodbye for a switchover at switch_step */
	uint64_t switch_step;
	int exec_primary;		/* the replay saved its machine there: start again as the primary */
	/* Took over, recording on: the main thread goes on as the primary with this session. */
	struct rr_session *adopted;
	double replayed_at;
	struct ft_opts as_primary;
	uint8_t digest[32];
	struct rr_session *s;		/* the replay thread's, once open (to stop it); under s_lock */
	pthread_mutex_t s_lock;
	uint64_t replayed, live_steps;
	uint64_t last_msg_us;
	struct ft_note note;
	char lost_why[128];
	/* loop thread: the pair's protocol */
	struct pair_drive pd;
	bool sm_resumed;		/* the machine heard RESUME on this channel */
	bool epoch_ours;		/* wait_for_epoch: this host owns the epoch we start in */
	/*
	 * The old primary of a switchover, started again as this backup: until
	 * the new primary first connects, the guest is ours to take back at
	 * handover_deadline (docs/pair-protocol.md).
	 */
	bool handover_armed;
	double handover_deadline;
	/*
	 * Checkpoints (ft_ckpt): LOG.ckpt every --checkpoint-s while following.
	 * A restarted backup whose log still holds its place replays from
	 * there, not from step 0.
	 */
	struct ft_ckpt ckpt;		/* replay thread's */
	bool use_ckpt;			/* the replay starts from ckpt.path */
	/*
	 * Loop thread: the primary's checkpoint, sent before the log's items to
	 * a backup that has not begun to replay and lacks its place; it
	 * replaces ours when it is later (adopt_checkpoint).
	 */
	struct ft_ckpt_recv ckpt_in;
	bool ckpt_in_refused;		/* this channel's transfer failed: its pieces are passed over */
	bool replay_begun;		/* the first log item was handled: the replay knows where it starts */
	uint8_t header_sha[32];		/* of the held log's header, when header_known */
	bool header_known;
};

#define set_note(d, ...) ft_note_set(&(d)->note, "backup", __VA_ARGS__)

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= n;
	}
	return 0;
}

static int start_fresh(struct backup *b, const char *why);
static int start_replay(struct backup *b);
static void adopt_checkpoint(struct backup *b, const uint8_t *header, size_t len);
static bool keep_shared_prefix(struct backup *b);
static uint64_t chunks_held(const struct backup *b);
static void sm_resume(struct backup *b);
static void sm_synced(struct backup *b);
static bool takes_checkpoint(const struct backup *b);

/*
 * Loop thread: a piece of the primary's checkpoint. Not part of the log: a
 * failed one costs only the shortcut (the replay then starts from our own
 * checkpoint or step 0), so it never stops the backup. Its credit returns
 * at once, as it never enters the feed.
 */
static void on_checkpoint_piece(struct backup *b, const uint8_t *payload, size_t len)
{
	char why[512];

	if (xport_grant_credit(b->x, 1, len))
		log_warnx("backup: cannot grant credit");
	if (b->replay_begun || b->ckpt_in_refused)
		return;
	if (ft_ckpt_recv_piece(&b->ckpt_in, payload, len, why, sizeof(why))) {
		log_warnx("backup: the primary's checkpoint: %s: the replay starts without it", why);
		b->ckpt_in_refused = true;
		return;
	}
	if (b->ckpt_in.whole)
		log_info("backup: received the primary's checkpoint (%" PRIu64 " bytes)", b->ckpt_in.size);
}

/* A trimmed log's first chunk starts at such a boundary: what lies between it and the header is its hole. */
#define TRIMMED_START_ALIGN 4096u

/*
 * Loop thread: the primary's log was trimmed (pair_ckpt.c), and its first
 * chunk after the header is item, not 1. Our fresh log starts the same way,
 * trimmed, when the replay starts from a checkpoint that stands at or past
 * that chunk (the one the primary sent first, adopt_checkpoint).
 */
static bool trimmed_start(struct backup *b, uint64_t item)
{
	struct hv_snapshot_logpos pos;
	uint64_t steps = 0;
	char why[512] = "";

	if (!b->use_ckpt)
		snprintf(why, sizeof(why), "no checkpoint came with it");
	else if (hv_snapshot_peek(b->ckpt.path, &steps, &pos, why, sizeof(why)) == 0 && pos.chunk_seq + 1 < item)
		snprintf(why, sizeof(why), "the checkpoint stands at chunk %" PRIu64 ", before it", pos.chunk_seq);
	if (why[0]) {
		log_warnx("backup: the primary's log starts at item %" PRIu64 " (it was trimmed), and %s: dropping the "
			  "link", item, why);
		return false;
	}
	log_info("backup: the primary's log starts at item %" PRIu64 " (it was trimmed): so does ours, and the "
		 "replay starts from the checkpoint at step %" PRIu64, item, steps);
	return true;
}

/* Loop thread: a chunk in sequence. It is acknowledged when this returns, so write it first. */
static void on_chunk(void *arg, uint64_t seq, uint64_t first_step, const uint8_t *payload, size_t len)
{
	struct backup *b = arg;
	int rc;

	/*
	 * The channel acknowledges whatever this returns from. A backup that is
	 * taking over, or live, owns a newer epoch: no chunk of the old one may
	 * be acknowledged, so the link goes before the ack can. Otherwise the
	 * chunk is written whatever the state, so an ack is never a lie; only a
	 * following backup replays it.
	 */
	int state = LOAD(b->state);
	if (state == BK_TAKING || state == BK_LIVE) {
		xport_drop_link(b->x, "this side took over");
		return;
	}
	if (ft_ckpt_is_piece(payload, len)) {
		on_checkpoint_piece(b, payload, len);
		return;
	}
	/* The payload names its own place in the log: a header is item 0, chunk seq n is item n + 1. */
	uint64_t item = UINT64_MAX;
	if (len >= RR_HEADER_FIXED_BYTES && !memcmp(payload, RR_LOG_MAGIC, 8))
		item = 0;
	else if (len >= RR_CHUNK_HEADER_BYTES && !memcmp(payload, RR_CHUNK_MAGIC, 4))
		item = get_le64(payload + 4) + 1;
	if (!b->log_decided) {
		/* A restarted backup: the primary either continues our log or sends its own from the start. */
		if (item == 0 && b->held_items) {
			/* Our log may share the primary's first items and go on past them: keep those, ask again. */
			if (keep_shared_prefix(b)) {
				xport_drop_link(b->x, "this backup keeps the items it shares with the primary's log");
				return;
			}
			if (start_fresh(b, "the primary did not recognise it as a prefix of its own log")) {
				xport_drop_link(b->x, "the log cannot be started again");
				_exit(FTVM_EXIT_HOST_ERROR);
			}
		} else if (item == b->held_items) {
			log_info("backup: resumed from item %" PRIu64 ": the log held %" PRIu64 " items (%" PRIu64
				 " bytes) up to step %" PRIu64 "; the primary sends the rest", item, b->held_items,
				 b->held_bytes, b->received_end);
			feed_set_prefix(b->feed, b->log_fd, b->tail.header_bytes, b->tail.first_off, b->held_bytes);
		} else {
			log_warnx("backup: the primary sent log item %" PRIu64 " first, this log holds %" PRIu64
				  " items: dropping the link", item, b->held_items);
			xport_drop_link(b->x, "log item out of order");
			return;
		}
		b->log_decided = true;
		adopt_checkpoint(b, item == 0 ? payload : NULL, len);
		if (start_replay(b)) {
			xport_drop_link(b->x, "cannot start the replay thread");
			_exit(FTVM_EXIT_HOST_ERROR);
		}
	}
	size_t pad = 0;
	if (item != b->log_items && b->log_items == 1 && item > 1 && trimmed_start(b, item))
		pad = TRIMMED_START_ALIGN - b->log_bytes_held % TRIMMED_START_ALIGN;
	else if (item != b->log_items) {
		/* Not the next item of our log: writing it would make a log that cannot replay. */
		log_warnx("backup: the primary sent log item %" PRIu64 " where %" PRIu64 " was next: dropping the link",
			  item, b->log_items);
		if (item == 0)
			set_note(b, "the primary no longer continues this backup's log (it sends its own from the "
				 "start): restart this backup");
		xport_drop_link(b->x, "log item out of order");
		return;
	}
	if (!b->replay_begun)
		adopt_checkpoint(b, item == 0 ? payload : NULL, len);
	if (!b->sm_resumed)
		sm_resume(b);
	static const uint8_t zeros[TRIMMED_START_ALIGN];
	rc = pad ? write_all(b->log_fd, zeros, pad) : 0;
	rc = rc ?: write_all(b->log_fd, payload, len);
	if (!rc && b->o.fsync && fdatasync(b->log_fd) < 0)
		rc = -errno;
	if (rc) {
		/* Acknowledging now would promise what this host cannot keep: stop before the ack leaves. */
		log_warnx("backup: log %s: %s: stopping (the primary carries on alone)", b->o.log_path,
			  strerror(-rc));
		_exit(FTVM_EXIT_HOST_ERROR);
	}
	if (pad)
		b->sm_skipped = item - b->log_items;
	uint64_t end_step = len >= 28 && item ? get_le64(payload + 20) : 0;
	if (item)
		ft_log_tail_add(&b->tail, item, b->log_bytes_held + pad, len, end_step);
	else
		ft_log_tail_start(&b->tail, len);
	b->log_items = item + 1;
	b->log_bytes_held += pad + len;
	if (item)
		pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_MSG_IN,
			.msg = { .kind = PM_CHUNK, .epoch = b->epoch, .a = chunks_held(b), .b = b->epoch } });
	if (LOAD(b->state) != BK_REPLAYING)
		return;
	if (pad) {
		/* One feed item, as every chunk is one: the credit it returns counts chunks. */
		uint8_t *both = malloc(pad + len);
		rc = both ? 0 : -ENOMEM;
		if (both) {
			memset(both, 0, pad);
			memcpy(both + pad, payload, len);
			rc = feed_push(b->feed, both, pad + len);
			free(both);
		}
	} else {
		rc = feed_push(b->feed, payload, len);
	}
	if (rc) {
		log_warnx("backup: out of memory for the replay feed: stopping");
		_exit(FTVM_EXIT_HOST_ERROR);
	}
	b->chunks++;
	b->received_bytes += len;
	if (len >= 28 && !memcmp(payload, RR_CHUNK_MAGIC, 4))
		b->received_end = get_le64(payload + 20);
	STORE(b->last_msg_us, xport_now_us());
	sm_synced(b);
}

/* Loop thread: the replay consumed chunks or caught up: return credit, report the step. */
static void on_feed(struct xport_loop *loop, int fd, unsigned events, void *arg)
{
	struct backup *b = arg;
	uint64_t n, chunks, bytes, replayed;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* drained already */
	}
	feed_consumed(b->feed, &chunks, &bytes, &replayed);
	STORE(b->replayed, replayed);
	if (!b->x || LOAD(b->state) != BK_REPLAYING)
		return;
	if (chunks > b->granted_chunks || bytes > b->granted_bytes) {
		if (xport_grant_credit(b->x, (uint32_t)(chunks - b->granted_chunks), bytes - b->granted_bytes))
			log_warnx("backup: cannot grant credit");
		b->granted_chunks = chunks;
		b->granted_bytes = bytes;
	}
	xport_set_replayed(b->x, replayed);
}

static int64_t drop_channel(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct backup *b = arg;

	if (b->x) {
		xport_free(b->x);
		b->x = NULL;
	}
	return -1;
}

/*
 * Loop thread: the pair's protocol is primary/pair_sm.c's, as for the
 * primary. The machine decides whether this backup may take over when the
 * primary is lost (it holds SYNCED: the primary's Progress, with the log up
 * to its step), asks the arbiter, and reads its answer; the replay thread
 * then replays the rest and goes live. Its steps here are the log's chunks
 * (item n + 1 is chunk n + 1). The channel writes, acknowledges and carries
 * the heartbeats.
 */
static uint64_t chunks_held(const struct backup *b)
{
	return b->log_items ? b->log_items - 1 - b->sm_skipped : 0;
}

/* Won: the replay thread replays the rest of the log and goes live (or hands over, after a switchover). */
static void catch_up(struct backup *b)
{
	b->won_at = ft_now_s();
	STORE(b->take_over, 1);
	STORE(b->state, BK_TAKING);
	set_note(b, "primary lost (%s); won epoch %" PRIu64 " in %.1f ms (%" PRIu64 " arbiter round trips); "
		 "replaying the rest of the log", b->lost_why, b->epoch, (b->won_at - b->lost_at) * 1e3,
		 b->pd.trips);
	feed_close(b->feed);
	if (xport_loop_add_timer(b->loop, 0, drop_channel, b) < 0)
		log_warnx("backup: cannot schedule the channel's close");
}

static void carry_out(void *opaque, const struct pair_action *a, bool after_lost)
{
	struct backup *b = opaque;

	switch (a->kind) {
	case PX_PERSIST:
		/* The arbiter's store holds the epoch; SYNCED is the primary's Progress, said again on every channel. */
		if (a->epoch > b->epoch)
			b->epoch = a->epoch;
		break;
	case PX_REPLAY_UP_TO:
		if (b->pd.sm.state == PS_CATCHUP && !LOAD(b->take_over))
			catch_up(b);
		break;
	default:
		/*
		 * SEND: the channel's Hello and acks. WRITE_CHUNK: on_chunk wrote
		 * it before the machine heard of it. GO_LIVE: the replay thread,
		 * at the end of the log.
		 */
		break;
	}
}

static bool run_over(void *opaque)
{
	struct backup *b = opaque;

	return LOAD(b->state) != BK_REPLAYING;
}

static void stepped(void *opaque, enum pair_state was)
{
	struct backup *b = opaque;

	if (was != PS_TAKING || b->pd.sm.state != PS_RETURNING)
		return;
	/*
	 * Lost: the winner serves. The machine follows it as a returning
	 * backup; this process stops, and its unit starts it again as the
	 * winner's backup.
	 */
	STORE(b->state, BK_STOPPED);
	STORE(b->exit_status, FT_EXIT_FENCED);
	set_note(b, "primary lost (%s) but %s: not going live", b->lost_why, b->pd.arb_why);
	feed_close(b->feed);
}

static void arbiter_unreachable(void *opaque, const char *why, unsigned retry_ms)
{
	struct backup *b = opaque;

	set_note(b, "primary lost (%s) and the arbiter cannot be reached (%s): not live, asking again in %u ms",
		 b->lost_why, why, retry_ms);
}

static const struct pair_drive_ops drive_ops = {
	.over = run_over, .act = carry_out, .stepped = stepped, .unreachable = arbiter_unreachable,
};

/* The log holds the step the primary's Progress named: the machine hears SYNCED. */
static void sm_synced(struct backup *b)
{
	if (b->pd.sm.state == PS_FOLLOWING && !b->pd.sm.synced && b->have_progress &&
	    b->received_end >= b->protect_from)
		pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_MSG_IN,
			.msg = { .kind = PM_SYNCED, .epoch = b->epoch, .a = chunks_held(b) } });
}

/* The primary's first chunk on a channel says where it continues our log: the machine's RESUME. */
static void sm_resume(struct backup *b)
{
	uint64_t held = chunks_held(b);

	b->sm_resumed = true;
	pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_MSG_IN,
		.msg = { .kind = PM_RESUME, .epoch = b->epoch, .a = held, .c = held } });
}

/* Before the loop runs: what this side's log and the arbiter say (a take-back vouches for the epoch). */
static void sm_start(struct backup *b)
{
	pair_drive_init(&b->pd, b->o.heartbeat_ms, "backup", b->arb, b->o.name, &drive_ops, b);
	pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_START, .role = PAIR_BACKUP, .durable_epoch = b->epoch,
		.durable_vouch = !b->handover_armed ? PV_NONE : b->epoch_ours ? PV_OWNER : PV_SYNCED,
		.log_end = chunks_held(b), .log_tag = b->epoch });
}

/*
 * What our Hello tells of the log (pair_log.c): its last items and their
 * CRC. Held meanwhile, so the replay's checkpoint does not trim it under the
 * read; items it trimmed already (zeros now) are left out.
 */
static int tell_tail(struct backup *b, uint64_t *from, uint32_t *crc)
{
	int rc = ft_log_hold(b->log_fd);

	rc = rc ?: ft_log_tail_crc(b->log_fd, &b->tail, from, crc);
	if (flock(b->log_fd, LOCK_UN) < 0 && !rc)
		rc = -errno;
	if (rc)
		log_warnx("backup: log %s: cannot read back its last items: %s", b->o.log_path, strerror(-rc));
	return rc;
}

/*
 * The link to a primary we cannot take over from was lost (the machine
 * went back to returning): listen again on a new channel whose Hello says
 * what the log holds now, as a restarted backup would; the primary starts
 * the stream again from there (the transport's own resume cannot span the
 * primary's new channel).
 */
static int64_t renew_link(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct backup *b = arg;
	size_t buffered = feed_buffered(b->feed);

	b->renew_pending = false;
	if (LOAD(b->state) != BK_REPLAYING || !b->x)
		return -1;
	b->renewing = true;
	xport_free(b->x);
	b->x = NULL;
	b->renewing = false;
	b->xc.have_items = b->log_items;
	if (tell_tail(b, &b->xc.have_from_item, &b->xc.have_crc32c))
		b->xc.have_items = 0;	/* the primary sends its log from the start: we set ours aside */
	/* A replay that has begun takes no checkpoint. */
	b->xc.capabilities &= b->replay_begun ? ~(uint64_t)XPORT_CAP_CHECKPOINT : ~(uint64_t)0;
	b->ckpt_in_refused = false;
	/* What waits in the feed still counts against the buffer. */
	b->xc.credit_bytes = b->o.buffer_bytes > buffered ? b->o.buffer_bytes - buffered : 0;
	if (xport_new(b->loop, &b->xc, &b->cb, &b->x)) {
		set_note(b, "cannot listen on %s again: stopping", b->o.addr);
		STORE(b->exit_status, FTVM_EXIT_HOST_ERROR);
		STORE(b->state, BK_STOPPED);
		feed_close(b->feed);
	}
	return -1;
}

static void on_link(void *arg, bool up)
{
	struct backup *b = arg;

	STORE(b->link_up, up);
	if (b->renewing)
		return;
	if (up) {
		if (!LOAD(b->ever_up))
			log_info("backup: primary connected (epoch %" PRIu64 ")", b->epoch);
		STORE(b->ever_up, 1);
		STORE(b->last_msg_us, xport_now_us());
		b->sm_resumed = false;
		pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_LINK_UP });
		return;
	}
	if (!LOAD(b->ever_up) || LOAD(b->state) != BK_REPLAYING)
		return;
	b->lost_at = ft_now_s();
	snprintf(b->lost_why, sizeof(b->lost_why), "link lost");
	if (LOAD(b->switching) && b->log_decided && b->received_end == LOAD(b->switch_step)) {
		/*
		 * A planned switchover: the primary stopped its guest at the step it
		 * named, once we held and had replayed the log to there. The machine
		 * takes the epoch as for a failover; the replay then ends at that
		 * step and this process starts again as the primary (replay_main).
		 */
		snprintf(b->lost_why, sizeof(b->lost_why), "switchover at step %" PRIu64, b->received_end);
		pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_MSG_IN,
			.msg = { .kind = PM_PROMOTE, .epoch = b->epoch, .a = chunks_held(b) } });
	}
	pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_LINK_DOWN });
	if (b->pd.sm.state != PS_RETURNING || LOAD(b->state) != BK_REPLAYING)
		return;
	/*
	 * Not in sync: the primary let output out on its own log's word, past
	 * what we hold, so going live could contradict a client. Wait for the
	 * channel to come back and resume instead.
	 */
	set_note(b, "primary lost (link lost) before this backup held the whole log (it has step %" PRIu64
		 ", protection starts at %s): not going live; waiting for the primary to return",
		 b->received_end, b->have_progress ? "a later step" : "no step yet");
	/* The primary gives us a new channel too: ours starts again, telling it what we hold. */
	if (!b->renew_pending) {
		b->renew_pending = true;
		if (xport_loop_add_timer(b->loop, 0, renew_link, b) < 0)
			log_warnx("backup: cannot schedule the channel's renewal");
	}
}

static void on_epoch(void *arg, uint64_t peer_epoch)
{
	struct backup *b = arg;

	if (peer_epoch > b->epoch && LOAD(b->state) == BK_REPLAYING && !LOAD(b->ever_up)) {
		set_note(b, "the primary runs epoch %" PRIu64 ", not %" PRIu64 ": restart this backup",
			 peer_epoch, b->epoch);
	}
}

static void on_ack_unused(void *arg, uint64_t acked_seq, uint64_t steps_replayed)
{
}

static const char *state_name(int s);

/* Loop thread: 'ftvm promote' is for the primary. */
static void on_command(void *opaque, const char *cmd, char *reply, size_t len)
{
	struct backup *b = opaque;

	snprintf(reply, len, "refused: this daemon is %s; ask the primary (%s)\n", state_name(LOAD(b->state)),
		 b->o.switch_addr ? b->o.switch_addr : "the other host");
}

/* The primary's Goodbye: "switchover at step N" is 'ftvm promote' (the link goes down next). */
static void on_goodbye(void *arg, const char *reason)
{
	struct backup *b = arg;
	unsigned long long at;

	if (sscanf(reason, "switchover at step %llu", &at) == 1) {
		log_info("backup: the primary hands over at step %llu (we hold the log to %" PRIu64 ")", at,
			 b->received_end);
		STORE(b->switch_step, (uint64_t)at);
		STORE(b->switching, 1);
	} else if (!strcmp(reason, FT_GOODBYE_TRIMMED) && LOAD(b->state) == BK_REPLAYING) {
		/* Under a unit (Restart=on-failure) it comes back at once, and takes the checkpoint. */
		if (takes_checkpoint(b))
			set_note(b, "%s: stopping", reason);
		else
			set_note(b, "%s: stopping; started again it still takes none (%s.bad is there, or --from "
				 "gives its start): see to that first", reason, b->ckpt.path);
		STORE(b->exit_status, FTVM_EXIT_HOST_ERROR);
		STORE(b->state, BK_STOPPED);
		feed_close(b->feed);
	}
}

/* The primary says from which step this backup protects the guest (0: from the start). */
static void on_progress(void *arg, uint64_t step)
{
	struct backup *b = arg;

	if (!b->have_progress || step != b->protect_from)
		log_info("backup: protecting the guest from step %" PRIu64, step);
	b->have_progress = true;
	b->protect_from = step;
	sm_synced(b);
}

static const char *state_name(int s)
{
	switch (s) {
	case BK_WAITING: return "backup (waiting for the primary)";
	case BK_REPLAYING: return "backup";
	case BK_TAKING: return "taking over";
	case BK_LIVE: return "live (was backup)";
	default: return "stopped";
	}
}

static void fill_status(void *opaque, struct ft_status *st)
{
	struct backup *b = opaque;
	struct xport_stats xs = { 0 };
	uint64_t replayed = LOAD(b->replayed);

	if (b->x)
		xport_get_stats(b->x, &xs);
	st->role = state_name(LOAD(b->state));
	st->protocol = pair_state_name(b->pd.sm.state);
	st->epoch = b->epoch;
	st->arbiter = ft_arbiter_name(b->arb);
	ft_status_lease(st, b->arb);
	st->peer = b->o.addr;
	st->link_up = LOAD(b->link_up) && b->x;
	st->protected_ = LOAD(b->state) == BK_REPLAYING && st->link_up && b->have_progress &&
			 b->received_end >= b->protect_from;
	st->steps = LOAD(b->state) == BK_LIVE ? LOAD(b->live_steps) : replayed;
	st->peer_steps = b->received_end;
	st->lag_steps = b->received_end > replayed ? b->received_end - replayed : 0;
	st->buffer_bytes = feed_buffered(b->feed);
	st->buffer_cap_bytes = b->o.buffer_bytes;
	st->log_bytes = b->received_bytes;
	st->chunks_received = b->chunks;
	st->last_heartbeat_ms_ago = (xport_now_us() - LOAD(b->last_msg_us)) / 1e3;
	ft_note_get(&b->note, st->note, sizeof(st->note));
}

static int exit_status(const struct live_result *r)
{
	return cli_exit_status(r->end);
}

/* The replay thread: follow the log; at its end, go live if the arbiter was won. */
static void *replay_main(void *arg)
{
	struct backup *b = arg;
	struct rr_session *s = NULL;
	struct rr_play_status st = { 0 };
	struct live_result res = { 0 };
	char err[768] = "";
	int status = FTVM_EXIT_HOST_ERROR;

	/* On a fresh log, the first item says whether a checkpoint came before it (adopt_checkpoint). */
	feed_wait_begun(b->feed);
	/* Replay runs flat out; the event loop must answer heartbeats within --dead-ms. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), 5) < 0)
		log_warnx("backup: cannot lower the replay thread's priority: %s", strerror(errno));
	host_sched_slice(false);	/* not the event loop's short slice, which it may inherit */
	pthread_setname_np(pthread_self(), "ftvm-replay");
	struct rr_session_replay_opts ro = {
		.log_stream = feed_stream(b->feed), .log_name = "from the primary",
		.kernel = b->o.cfg.kernel, .initrd = b->o.cfg.initrd, .bios = b->o.cfg.bios,
		.default_bios = HV_DEFAULT_BIOS, .disk = b->o.cfg.disk, .cpu = b->o.cfg.cpu, .quiet = true,
		.from_snapshot = b->o.from_snapshot ? b->o.from_snapshot : b->use_ckpt ? b->ckpt.path : NULL,
	};
	if (!b->o.cfg.bios)
		ro.bios = NULL, ro.default_bios = NULL;
	if (rr_session_replay_open(&s, &ro, err, sizeof(err))) {
		if (!LOAD(b->take_over) && LOAD(b->state) == BK_STOPPED) {
			status = LOAD(b->exit_status);
		} else if (!b->o.from_snapshot && b->use_ckpt) {
			/* The log was read up to the checkpoint already: set it aside; the next start replays from step 0. */
			char bad[4300];
			snprintf(bad, sizeof(bad), "%s.bad", b->ckpt.path);
			set_note(b, "cannot replay from the checkpoint: %s; moved it to %s: start this backup again "
				 "(it replays its log from the start)", err, rename(b->ckpt.path, bad) ? "(cannot)" : bad);
			status = FTVM_EXIT_HOST_ERROR;
		} else {
			set_note(b, "cannot replay: %s", err);
			status = FT_EXIT_PEER_REFUSED;
		}
		goto out;
	}
	if (b->use_ckpt && !b->o.from_snapshot)
		log_info("backup: the replay starts from the checkpoint at step %" PRIu64,
			 hv_steps(rr_session_machine(s)));
	/* A TAP opened now is a port its bridge forwards on by the time we go live. */
	if (rr_session_park_net(s, b->o.cfg.net, err, sizeof(err))) {
		log_warnx("backup: cannot open the guest's network while replaying (%s): trying again when it "
			  "goes live", err);
		err[0] = 0;
	}
	feed_set_machine(b->feed, rr_session_machine(s));
	pthread_mutex_lock(&b->s_lock);
	b->s = s;
	pthread_mutex_unlock(&b->s_lock);
	ft_ckpt_init(&b->ckpt, b->o.log_path, b->o.checkpoint_s, "backup");
	b->ckpt.trim_log = true;	/* the log then holds only what a replay from it reads */
	enum rr_play_result r;
	for (;;) {
		uint64_t at = hv_steps(rr_session_machine(s));
		r = rr_session_replay(s, b->o.checkpoint_s ? at + CHECKPOINT_PIECE_STEPS : UINT64_MAX, &st);
		if (r != RR_PLAY_REACHED)
			break;
		if (LOAD(b->state) == BK_REPLAYING)
			ft_ckpt_maybe(&b->ckpt, s);
		else
			ft_ckpt_reap(&b->ckpt, false);
	}
	ft_ckpt_reap(&b->ckpt, true);
	STORE(b->replayed, hv_steps(rr_session_machine(s)));
	if (r == RR_PLAY_DIVERGED || r == RR_PLAY_CORRUPT) {
		set_note(b, "%s", st.msg);
		status = r == RR_PLAY_DIVERGED ? FTVM_EXIT_DIVERGED : FTVM_EXIT_LOG_CORRUPT;
		goto out;
	}
	if (st.saw_end && st.end_reason != RR_END_STOPPED) {
		log_info("backup: the guest ended on the primary (%s) at step %" PRIu64,
			 rr_end_reason_name(st.end_reason), hv_steps(rr_session_machine(s)));
		res.end = rr_session_end_of(st.end_reason);
		status = exit_status(&res);
		goto out;
	}
	if (LOAD(b->switching) && LOAD(b->take_over) && hv_steps(rr_session_machine(s)) == LOAD(b->switch_step)) {
		uint64_t at = hv_steps(rr_session_machine(s));
		char snap[4200];
		ft_switch_snapshot_path(&b->o, snap, sizeof(snap));
		if (at != LOAD(b->switch_step) || rr_session_save_snapshot(s, snap, err, sizeof(err))) {
			set_note(b, "switchover: the replay stopped at step %" PRIu64 " (the primary named %" PRIu64
				 ")%s%s: stopping", at, LOAD(b->switch_step), err[0] ? ": " : "", err);
			status = FTVM_EXIT_HOST_ERROR;
			goto out;
		}
		log_info("backup: switchover: replayed to step %" PRIu64 " and saved %s", at, snap);
		STORE(b->exec_primary, 1);
		status = 0;
		goto out;
	}
	if (!LOAD(b->take_over)) {
		status = LOAD(b->exit_status) ? LOAD(b->exit_status) : FT_EXIT_FENCED;
		goto out;
	}
	double live_at = ft_now_s();
	STORE(b->state, BK_LIVE);
	STORE(b->live_steps, hv_steps(rr_session_machine(s)));
	/*
	 * With an address for the other role, this side goes on as the primary
	 * (ft_backup_run): the guest records on into our log, so a backup that
	 * returns can protect it again.
	 */
	if (b->o.switch_addr && b->o.log_path && !ft_opts_other_role(&b->o, &b->as_primary)) {
		struct rr_session_record_opts rec;
		ft_primary_record_opts(&b->as_primary, &rec);
		rec.commit_on_log = true;	/* alone until a backup returns */
		rec.log_bytes_unread = feed_bytes_unread(b->feed);
		if (rr_session_record_after_replay(s, &rec, err, sizeof(err)) == 0) {
			pthread_mutex_lock(&b->s_lock);
			b->s = NULL;
			pthread_mutex_unlock(&b->s_lock);
			b->adopted = s;
			b->replayed_at = live_at;
			xport_loop_stop(b->loop);
			uint64_t one = 1;
			if (write(b->feed_efd, &one, sizeof(one)) < 0) {
				/* the loop's tick notices the stop */
			}
			return NULL;
		}
		log_warnx("backup: cannot record on into %s (%s): going live without a log, so no backup can "
			  "protect this guest again", b->o.log_path, err);
		err[0] = 0;
	}
	set_note(b, "live at step %" PRIu64 ", epoch %" PRIu64 ": %.1f ms after the primary was lost "
		 "(arbiter %.1f ms in %" PRIu64 " round trips, replaying the rest %.1f ms)", hv_steps(rr_session_machine(s)),
		 b->epoch, (ft_now_s() - b->lost_at) * 1e3, (b->won_at - b->lost_at) * 1e3, b->pd.trips,
		 (live_at - b->won_at) * 1e3);
	if (rr_session_go_live(s, b->o.cfg.net, -1, &res, err, sizeof(err))) {
		set_note(b, "going live: %s", err[0] ? err : "host error");
		goto out;
	}
	status = LOAD(b->fenced) ? FT_EXIT_FENCED : exit_status(&res);
	log_info("backup: guest stopped at step %" PRIu64, res.step);
out:
	pthread_mutex_lock(&b->s_lock);
	b->s = NULL;
	pthread_mutex_unlock(&b->s_lock);
	rr_session_close(s);
	STORE(b->exit_status, status);
	STORE(b->state, BK_STOPPED);
	xport_loop_stop(b->loop);	/* the loop polls a timer, so it notices */
	return NULL;
}

/* The arbiter's lease (etcd): renewed from the loop; losing the epoch stops a live guest. */
static int64_t keepalive(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct backup *b = arg;
	char err[512];
	int rc = ft_arbiter_keepalive(b->arb, err, sizeof(err));
	int state = LOAD(b->state);

	if (rc == -EAGAIN && (state == BK_LIVE || state == BK_TAKING)) {
		set_note(b, "fenced: %s; stopping the VM", err);
		STORE(b->exit_status, FT_EXIT_FENCED);
		STORE(b->fenced, 1);
		pthread_mutex_lock(&b->s_lock);
		if (b->s)
			rr_session_stop(b->s);
		pthread_mutex_unlock(&b->s_lock);
	} else if (rc && rc != -EAGAIN) {
		set_note(b, "arbiter unreachable: %s; retrying", err);
	}
	return (int64_t)(ft_arbiter_lease_ms(b->arb) / 3);
}

/*
 * Loop thread: the new primary of a switchover has not connected by the
 * deadline. It starts its guest only once this backup holds the log (it
 * waits for us), so it let out nothing we lack: take the next epoch, replay
 * our own log to its end (the step of the switchover) and go live. The
 * compare-and-set fails if the new primary moved on in the meantime.
 */
static void handover_take_back(struct backup *b)
{
	b->handover_armed = false;
	if (!b->log_decided) {
		feed_set_prefix(b->feed, b->log_fd, b->tail.header_bytes, b->tail.first_off, b->held_bytes);
		b->log_decided = true;
		b->replay_begun = true;
		if (start_replay(b)) {
			set_note(b, "cannot start the replay thread: stopping");
			STORE(b->exit_status, FTVM_EXIT_HOST_ERROR);
			STORE(b->state, BK_STOPPED);
			return;
		}
	}
	b->have_progress = true;
	b->protect_from = b->received_end;
	b->lost_at = ft_now_s();
	snprintf(b->lost_why, sizeof(b->lost_why), "%s did not connect within %u ms",
		 b->o.take_back ? "a primary" : "the new primary of the switchover", ft_handover_grace_ms(&b->o));
	pair_drive_feed(&b->pd, (struct pair_event){ .kind = PE_NO_PRIMARY });
	if (b->pd.sm.state != PS_TAKING && b->pd.sm.state != PS_CATCHUP && LOAD(b->state) == BK_REPLAYING)
		set_note(b, "no primary came, but the pair's protocol does not let this side take the guest back "
			 "(%s): waiting for a primary", pair_state_name(b->pd.sm.state));
}

static int64_t tick(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct backup *b = arg;

	if (b->handover_armed && (LOAD(b->ever_up) || LOAD(b->state) != BK_REPLAYING))
		b->handover_armed = false;
	if (b->handover_armed && ft_now_s() >= b->handover_deadline)
		handover_take_back(b);
	pair_drive_tick(&b->pd);

	if (LOAD(b->state) == BK_STOPPED && !b->replayer_started) {
		xport_loop_stop(loop);
		return -1;
	}
	/* A signal ends a live guest through live_run; a following backup stops here. */
	if (live_signalled() && LOAD(b->state) != BK_LIVE && LOAD(b->state) != BK_STOPPED) {
		set_note(b, "stopped by a signal");
		STORE(b->exit_status, FTVM_EXIT_USER);
		STORE(b->state, BK_STOPPED);
		feed_close(b->feed);
	}
	return 50;
}

/*
 * The primary takes a new epoch when it starts; follow the one it took.
 * After a switchover (--handover-epoch H) the old primary, now this backup,
 * expects the new primary to hold H. It arms the take-back while the epoch
 * is H, or is still our own H - 1 at the deadline: then the new primary never
 * took it, and our own log holds everything we let out. A primary that died
 * alone in H - 1 and started again as the backup of its log (--take-back)
 * arms it only in the second case: a peer that holds H took over and may
 * serve the guest.
 */
static int wait_for_epoch(struct backup *b, char *err, size_t err_len)
{
	char owner[128] = "";
	uint64_t e = 0, h = b->o.handover_epoch;
	int rc;

	for (int i = 0;; i++) {
		rc = ft_arbiter_read(b->arb, &e, owner, sizeof(owner), err, err_len);
		if (rc == -EBADMSG)
			return rc;
		if (rc) {
			/* Nobody goes anywhere without the arbiter: wait for it. */
			if (i % 50 == 0)
				log_warnx("backup: arbiter unreachable (%s): retrying", err);
			usleep(100000);
			continue;
		}
		if (e && !h && !strcmp(owner, b->o.name) && b->held_items) {
			/*
			 * This host served the guest in epoch e (it had taken it
			 * over, or been a switchover's new primary) and died: its
			 * log may hold outputs nobody else has. As a primary
			 * started again over its own log: take the guest back
			 * after the grace, unless the peer takes the next epoch.
			 */
			h = b->o.handover_epoch = e + 1;
			b->o.take_back = true;
			b->handover_deadline = ft_now_s() + ft_handover_grace_ms(&b->o) / 1e3;
			log_warnx("backup: this host owns epoch %" PRIu64 " and its log %s holds the guest's history: "
				  "taking the guest back from it in %u ms unless %s takes epoch %" PRIu64, e,
				  b->o.log_path, ft_handover_grace_ms(&b->o), b->o.peer_name, h);
		}
		if (e && !strcmp(owner, b->o.peer_name)) {
			b->epoch = e;
			/* A peer's epoch H is a switchover's new primary, which waits for us; after --take-back it may be live. */
			b->handover_armed = h && e == h && !b->o.take_back;
			return 0;
		}
		if (h && e + 1 == h && !strcmp(owner, b->o.name) && ft_now_s() >= b->handover_deadline) {
			if (b->o.take_back)
				log_warnx("backup: nobody took epoch %" PRIu64 " since this host's primary died in %"
					  PRIu64 ": taking the guest back from its log", h, e);
			else
				log_warnx("backup: the new primary of the switchover never took epoch %" PRIu64
					  ": taking the guest back", h);
			b->epoch = e;
			b->epoch_ours = true;
			b->handover_armed = true;
			return 0;
		}
		if (i % 100 == 0)
			log_info("backup: waiting for %s to take an epoch (arbiter %s: epoch %" PRIu64 ", owner %s)",
				 b->o.peer_name, ft_arbiter_name(b->arb), e, owner[0] ? owner : "none");
		usleep(20000);
	}
}

/*
 * The primary's Hello names where its log may be shared (a primary that took
 * the guest over: the items it had then, and their CRC-32C). Our log went on
 * past that (this host wrote chunks the new primary never received), so the
 * primary did not take it as a prefix of its own. If our first items are
 * exactly those, cut the rest: the new channel's Hello then says we hold
 * them, and the primary sends only what follows, where it would otherwise
 * send the whole log and this backup replay it from step 0.
 */
static bool keep_shared_prefix(struct backup *b)
{
	struct ft_log_tail t;
	uint64_t n = 0, from = 0;
	uint32_t want = 0;
	char why[512];

	xport_peer_log(b->x, &n, &want, &from);
	if (!(xport_peer_capabilities(b->x) & XPORT_CAP_TRIMMED))
		from = 1;	/* its CRC covers every item */
	if (n < 2 || n >= b->held_items)
		return false;
	int rc = ft_log_check(b->log_fd, n, from, want, &t, why, sizeof(why));
	if (rc != 1) {
		log_warnx("backup: log %s: its first %" PRIu64 " items are not the ones the primary took over with "
			  "(%s)", b->o.log_path, n, why);
		if (lseek(b->log_fd, (off_t)b->log_bytes_held, SEEK_SET) < 0)
			log_warn("backup: log %s", b->o.log_path);
		return false;
	}
	bool ckpt_kept = false;
	if (b->use_ckpt && !b->o.from_snapshot) {
		struct hv_snapshot_info info;
		ckpt_kept = !hv_snapshot_info(b->ckpt.path, &info, why, sizeof(why)) && info.logpos.chunk_seq + 2 <= n;
	}
	if (!ckpt_kept && t.first_item > 1) {
		log_warnx("backup: log %s: its first %" PRIu64 " items are the primary's too, but it was trimmed, and "
			  "no checkpoint of ours stands within them", b->o.log_path, n);
		if (lseek(b->log_fd, (off_t)b->log_bytes_held, SEEK_SET) < 0)
			log_warn("backup: log %s", b->o.log_path);
		return false;
	}
	if (ftruncate(b->log_fd, (off_t)t.end) < 0 || lseek(b->log_fd, (off_t)t.end, SEEK_SET) < 0) {
		log_warn("backup: log %s: cannot cut it to the items it shares with the primary", b->o.log_path);
		return false;
	}
	log_warnx("backup: log %s: its first %" PRIu64 " items (%" PRIu64 " bytes, to step %" PRIu64 ") are the "
		  "primary's too, the %" PRIu64 " after them are not (this host wrote them, the primary never got "
		  "them): cut them, and asking for the rest again", b->o.log_path, n, t.end, t.end_step,
		  b->held_items - n);
	b->held_items = b->log_items = n;
	b->held_bytes = b->log_bytes_held = t.end;
	b->tail = t;
	b->received_end = t.end_step;
	if (b->use_ckpt && !b->o.from_snapshot && !ckpt_kept) {
		log_warnx("backup: checkpoint %s is past the items kept: the replay starts from step 0", b->ckpt.path);
		b->use_ckpt = false;
	}
	return true;
}

/*
 * Loop thread, at the first log item this process handles (header: that
 * item when it is the log's header): the replay begins from the later of our
 * own checkpoint and the one the primary sent before it, if both name this
 * log. The replay thread reads use_ckpt only after this.
 */
static void adopt_checkpoint(struct backup *b, const uint8_t *header, size_t len)
{
	struct hv_snapshot_logpos pos;
	struct rr_header h;
	uint8_t sha[32];
	uint64_t own = 0, steps;
	size_t used;
	char why[512] = "";

	b->replay_begun = true;
	if (!b->ckpt_in.whole && !b->ckpt_in.got)
		return;
	if (header) {
		if (rr_header_decode(header, len, &h, &used, why, sizeof(why)) || rr_header_sha256(&h, sha))
			snprintf(why, sizeof(why), "the log's header cannot be read");
	} else if (b->header_known) {
		memcpy(sha, b->header_sha, sizeof(sha));
	} else {
		snprintf(why, sizeof(why), "this log's header is unknown");
	}
	if (why[0]) {
		ft_ckpt_recv_drop(&b->ckpt_in);
	} else {
		if (b->use_ckpt && hv_snapshot_peek(b->ckpt.path, &own, &pos, why, sizeof(why)))
			own = 0;
		if (ft_ckpt_recv_take(&b->ckpt_in, b->ckpt.path, sha, own, &steps, why, sizeof(why)) == 1) {
			b->use_ckpt = true;
			log_info("backup: the replay starts from the primary's checkpoint at step %" PRIu64 "%s", steps,
				 own ? " (later than ours)" : "");
			return;
		}
	}
	log_warnx("backup: the primary's checkpoint is not used (%s): the replay starts from %s", why,
		  b->use_ckpt ? "our own checkpoint" : "step 0");
}

/* Move the log aside (LOG.old, or LOG.old.N if that exists) and start an empty one. */
static int start_fresh(struct backup *b, const char *why)
{
	char old[4200];

	for (int n = 0; n < 1000; n++) {
		if (n)
			snprintf(old, sizeof(old), "%s.old.%d", b->o.log_path, n);
		else
			snprintf(old, sizeof(old), "%s.old", b->o.log_path);
		if (access(old, F_OK) < 0 && errno == ENOENT)
			break;
	}
	if (rename(b->o.log_path, old) < 0) {
		log_warn("backup: cannot move the log %s aside to %s", b->o.log_path, old);
		return -errno;
	}
	log_warnx("backup: the log %s (%" PRIu64 " items) is not this VM's to continue: %s; kept as %s, "
		  "starting a fresh log", b->o.log_path, b->held_items, why, old);
	/* Its checkpoint goes with it: the fresh log may share its header but not its history. */
	char old_ckpt[4300];
	snprintf(old_ckpt, sizeof(old_ckpt), "%s.ckpt", old);
	if (rename(b->ckpt.path, old_ckpt) < 0 && errno != ENOENT && unlink(b->ckpt.path) < 0 && errno != ENOENT) {
		log_warn("backup: cannot move the checkpoint %s aside", b->ckpt.path);
		return -errno;
	}
	if (b->log_fd >= 0)
		close(b->log_fd);
	b->log_fd = open(b->o.log_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (b->log_fd < 0) {
		log_warn("backup: log %s", b->o.log_path);
		return -errno;
	}
	b->held_items = b->held_bytes = b->log_items = b->log_bytes_held = b->sm_skipped = 0;
	memset(&b->tail, 0, sizeof(b->tail));
	b->received_end = 0;
	b->use_ckpt = false;	/* it follows the old log */
	return 0;
}

/*
 * A checkpoint this backup left (LOG.ckpt): usable when it is whole, was
 * taken in this log (the SHA-256 of its header) and stands at a chunk the
 * log still holds. Whether the primary continues this log is known later;
 * start_fresh drops it then.
 */
static void check_checkpoint(struct backup *b, const uint8_t header_sha[32])
{
	struct hv_snapshot_info info;
	char why[512];

	if (b->o.from_snapshot || access(b->ckpt.path, F_OK))
		return;
	if (hv_snapshot_info(b->ckpt.path, &info, why, sizeof(why)) == 0) {
		if (!info.has_logpos || memcmp(info.logpos.header_sha256, header_sha, 32))
			snprintf(why, sizeof(why), "it was taken in another log");
		else if (info.logpos.chunk_seq + 2 > b->held_items)
			snprintf(why, sizeof(why), "it stands at chunk %" PRIu64 ", past the %" PRIu64 " items the log "
				 "holds", info.logpos.chunk_seq, b->held_items);
		else if (info.logpos.chunk_seq + 1 < b->tail.first_item)
			snprintf(why, sizeof(why), "it stands at chunk %" PRIu64 ", and the log was trimmed past it",
				 info.logpos.chunk_seq);
		else
			why[0] = 0;
	}
	if (why[0]) {
		log_warnx("backup: checkpoint %s not used (%s): the replay starts from step 0", b->ckpt.path, why);
		return;
	}
	b->use_ckpt = true;
	log_info("backup: checkpoint %s at step %" PRIu64 " fits the log: the replay starts there", b->ckpt.path,
		 info.steps);
}

/*
 * The log this host kept before it restarted: keep the header and every
 * whole chunk, cut a torn or damaged tail, count the items. A log of another
 * VM is moved aside. The primary later says (by the first item it sends)
 * whether it continues this log.
 */
static int open_log(struct backup *b, char *err, size_t err_len)
{
	struct rr_header h;
	struct stat sb;
	char why[512] = "";
	const char *vm = b->o.vm_id ? b->o.vm_id : "";
	uint8_t header_sha[32];
	bool header_ok = false;
	int rc;

	b->log_fd = open(b->o.log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (b->log_fd < 0 || fstat(b->log_fd, &sb) < 0) {
		snprintf(err, err_len, "log %s: %s", b->o.log_path, strerror(errno));
		return -errno;
	}
	if (!sb.st_size)
		return 0;
	rc = ft_log_tail_scan(b->log_fd, &b->tail, UINT64_MAX, &h, why, sizeof(why));
	if (rc == -ENOMEM) {
		snprintf(err, err_len, "out of memory");
		return rc;
	} else if (rc == -EAGAIN) {
		memset(&b->tail, 0, sizeof(b->tail));	/* torn inside its header: nothing to keep */
	} else if (rc) {
		return start_fresh(b, why);
	} else if (h.vm_id[0] && strcmp(h.vm_id, vm)) {
		/* (The recorder leaves the id out today: the primary's CRC check is what tells logs apart.) */
		snprintf(why, sizeof(why), "it holds VM \"%.64s\", this backup serves \"%.64s\"", h.vm_id, vm);
		return start_fresh(b, why);
	} else {
		header_ok = !rr_header_sha256(&h, header_sha);	/* what its checkpoint names it by */
		memcpy(b->header_sha, header_sha, sizeof(header_sha));
		b->header_known = header_ok;
	}
	b->held_items = b->tail.items;
	b->held_bytes = b->tail.end;
	b->received_end = b->tail.end_step;
	if ((uint64_t)sb.st_size > b->held_bytes) {
		log_warnx("backup: log %s: %s: cut its last %" PRIu64 " bytes, keeping %" PRIu64 " items (%" PRIu64
			  " bytes)", b->o.log_path, why[0] ? why : "a torn tail", (uint64_t)sb.st_size - b->held_bytes,
			  b->held_items, b->held_bytes);
		if (ftruncate(b->log_fd, (off_t)b->held_bytes) < 0) {
			snprintf(err, err_len, "log %s: cannot cut its torn tail: %s", b->o.log_path, strerror(errno));
			return -errno;
		}
	}
	if (lseek(b->log_fd, (off_t)b->held_bytes, SEEK_SET) < 0) {
		snprintf(err, err_len, "log %s: %s", b->o.log_path, strerror(errno));
		return -errno;
	}
	b->log_items = b->held_items;
	b->log_bytes_held = b->held_bytes;
	if (header_ok)
		check_checkpoint(b, header_sha);
	if (b->tail.first_item > 1 && !b->use_ckpt && !b->o.from_snapshot)
		return start_fresh(b, "it was trimmed, and no checkpoint of it is left to replay it from");
	/* What the primary checks before it sends only the rest. */
	rc = ft_log_tail_crc(b->log_fd, &b->tail, &b->held_from, &b->held_crc);
	if (rc) {
		snprintf(err, err_len, "log %s: cannot read it back: %s", b->o.log_path,
			 rc == -EIO ? "short read" : strerror(-rc));
		return rc;
	}
	if (b->tail.first_item > 1)
		log_info("backup: log %s holds its header and items %" PRIu64 " to %" PRIu64 " (it was trimmed; %"
			 PRIu64 " bytes, to step %" PRIu64 "): asking the primary for the rest", b->o.log_path,
			 b->tail.first_item, b->held_items - 1, b->held_bytes, b->received_end);
	else if (b->held_items)
		log_info("backup: log %s holds %" PRIu64 " items (%" PRIu64 " bytes, to step %" PRIu64 "): asking the "
			 "primary for the rest", b->o.log_path, b->held_items, b->held_bytes, b->received_end);
	return 0;
}

/*
 * Whether this backup asks for the primary's checkpoint: not when a
 * switchover's snapshot gives its start, nor after a checkpoint failed to
 * load (LOG.ckpt.bad: the operator looks at it; until then it replays its log).
 */
static bool takes_checkpoint(const struct backup *b)
{
	char bad[4300];

	snprintf(bad, sizeof(bad), "%s.bad", b->ckpt.path);
	return b->o.log_path && !b->o.from_snapshot && access(bad, F_OK) < 0;
}

/* The replay thread: at once on a fresh log, or once the primary's first chunk said how to begin. */
static int start_replay(struct backup *b)
{
	if (b->replayer_started)
		return 0;
	if (pthread_create(&b->replayer, NULL, replay_main, b))
		return -EAGAIN;
	b->replayer_started = true;
	return 0;
}

int ft_backup_run(const struct ft_opts *o)
{
	struct backup *b = calloc(1, sizeof(*b));
	uint8_t digest[32];
	char err[768] = "";
	int status = FTVM_EXIT_HOST_ERROR, rc;

	if (!b) {
		fprintf(stderr, "ftvm backup: out of memory\n");
		return FTVM_EXIT_HOST_ERROR;
	}
	ft_note_init(&b->note);
	pthread_mutex_init(&b->s_lock, NULL);
	b->feed_efd = b->log_fd = -1;
	b->o = *o;
	ft_ckpt_init(&b->ckpt, b->o.log_path, b->o.checkpoint_s, "backup");
	ft_ckpt_recv_init(&b->ckpt_in, b->ckpt.path);
	unlink(b->ckpt_in.path);	/* a transfer a killed process left */
	log_init("ftvm", 1, false);
	if (ft_arbiter_open(b->o.arbiter, &b->arb, err, sizeof(err)) ||
	    ft_image_digest(&b->o.cfg, digest, err, sizeof(err))) {
		fprintf(stderr, "ftvm backup: %s\n", err);
		status = FTVM_EXIT_USAGE;
		goto out;
	}
	memcpy(b->digest, digest, sizeof(digest));
	if (open_log(b, err, sizeof(err))) {
		fprintf(stderr, "ftvm backup: %s\n", err);
		status = FTVM_EXIT_USAGE;
		goto out;
	}
	b->log_decided = !b->held_items;
	if (b->o.handover_epoch)
		b->handover_deadline = ft_now_s() + ft_handover_grace_ms(&b->o) / 1e3;
	b->feed_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	b->feed = feed_new(b->feed_efd);
	if (b->feed_efd < 0 || !b->feed || xport_loop_new(&b->loop)) {
		fprintf(stderr, "ftvm backup: cannot set up the event loop\n");
		goto out;
	}
	if (wait_for_epoch(b, err, sizeof(err))) {
		fprintf(stderr, "ftvm backup: %s\n", err);
		goto out;
	}
	STORE(b->state, BK_REPLAYING);
	sm_start(b);
	if (b->handover_armed)
		set_note(b, "%s within %u ms of this start, this host takes the guest back at epoch %" PRIu64,
			 b->o.take_back ? "started again on its own log: should no primary connect"
					: "after the switchover: should the new primary not connect",
			 ft_handover_grace_ms(&b->o), b->epoch + 1);
	b->xc = (struct xport_config){
		.mode = XPORT_LISTEN, .role = XPORT_ROLE_BACKUP, .host = b->o.host, .port = b->o.port,
		.cert_file = b->o.cert_file, .key_file = b->o.key_file, .ca_file = b->o.ca_file,
		.peer_name = b->o.peer_name, .vm_id = b->o.vm_id, .image_digest = digest,
		.image_digest_len = sizeof(digest), .epoch = b->epoch, .heartbeat_ms = b->o.heartbeat_ms,
		.dead_ms = b->o.dead_ms, .credit_chunks = CREDIT_CHUNKS, .credit_bytes = b->o.buffer_bytes,
		.auto_credit = false, .have_items = b->held_items, .have_crc32c = b->held_crc,
		.have_from_item = b->held_from,
		.capabilities = XPORT_CAP_TRIMMED | (takes_checkpoint(b) ? XPORT_CAP_CHECKPOINT : 0),
	};
	b->cb = (struct xport_callbacks){ .on_chunk = on_chunk, .on_ack = on_ack_unused, .on_link = on_link,
					  .on_progress = on_progress, .on_epoch = on_epoch,
					  .on_goodbye = on_goodbye, .arg = b };
	if (xport_new(b->loop, &b->xc, &b->cb, &b->x) ||
	    xport_loop_add_fd(b->loop, b->feed_efd, XPORT_EV_READ, on_feed, b) ||
	    xport_loop_add_timer(b->loop, 50, tick, b) < 0 ||
	    (ft_arbiter_lease_ms(b->arb) &&
	     xport_loop_add_timer(b->loop, ft_arbiter_lease_ms(b->arb) / 3, keepalive, b) < 0)) {
		fprintf(stderr, "ftvm backup: cannot listen on %s\n", b->o.addr);
		goto out;
	}
	if (b->o.control &&
	    ft_control_open(b->loop, b->o.control, fill_status, b, &b->ctl, err, sizeof(err))) {
		fprintf(stderr, "ftvm backup: %s\n", err);
		status = FTVM_EXIT_USAGE;
		goto out;
	}
	ft_control_set_command(b->ctl, on_command);
	if (b->log_decided && start_replay(b)) {
		fprintf(stderr, "ftvm backup: cannot start the replay thread\n");
		goto out;
	}
	log_info("backup: listening on %s for %s, epoch %" PRIu64, b->o.addr, b->o.peer_name, b->epoch);
	/* Its acks release the primary's output; the replay thread may lag (--max-lag-ms). */
	host_sched_slice(true);
	xport_loop_run(b->loop);
	/* The loop stops when the replay thread ends: the guest ended, or this side stopped. */
	feed_close(b->feed);
	if (b->replayer_started)
		pthread_join(b->replayer, NULL);
	b->replayer_started = false;
	status = LOAD(b->exit_status);
out:
	if (b->replayer_started) {
		feed_close(b->feed);
		pthread_join(b->replayer, NULL);
	}
	ft_control_close(b->ctl);
	if (b->x)
		xport_free(b->x);
	if (b->loop)
		xport_loop_free(b->loop);
	feed_free(b->feed);
	if (b->feed_efd >= 0)
		close(b->feed_efd);
	/* Took over: what the new primary's Hello tells a returning old primary (keep_shared_prefix). */
	uint64_t taken_from = 0;
	uint32_t taken_crc = 0;
	if (b->adopted && tell_tail(b, &taken_from, &taken_crc))
		taken_from = 0;
	if (b->log_fd >= 0)
		close(b->log_fd);
	ft_ckpt_recv_drop(&b->ckpt_in);
	if (b->adopted) {
		/* Took over: this process goes on as the primary, for a backup that returns. */
		struct ft_adoption a = { .s = b->adopted, .arb = b->arb, .epoch = b->epoch, .lost_at = b->lost_at,
					 .won_at = b->won_at, .replayed_at = b->replayed_at,
					 .take_trips = b->pd.trips, .log_items = taken_from ? b->log_items : 0,
					 .log_from = taken_from, .log_crc = taken_crc };
		memcpy(a.digest, b->digest, sizeof(a.digest));
		b->adopted = NULL;
		b->arb = NULL;
		ft_note_fini(&b->note);
		pthread_mutex_destroy(&b->s_lock);
		status = ft_primary_adopt(&b->as_primary, &a);
		rr_session_close(a.s);
		ft_arbiter_free(a.arb);
		free(b);
		return status;
	}
	ft_arbiter_free(b->arb);
	if (LOAD(b->exec_primary)) {
		char snap[4200];
		ft_switch_snapshot_path(&b->o, snap, sizeof(snap));
		log_info("backup: starting again as the primary from %s", snap);
		rc = ft_exec_role(&b->o, true, snap, 0, false);
		log_warnx("backup: cannot start again as the primary: %s", strerror(-rc));
		status = FTVM_EXIT_HOST_ERROR;
	}
	ft_note_fini(&b->note);
	pthread_mutex_destroy(&b->s_lock);
	free(b);
	return status;
}
