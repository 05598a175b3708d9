/* SPDX-License-Identifier: MIT */
/* replay: the player: runs a machine along a log, applying inputs and checking every check and digest. */
#include "hv/rr/rr.h"
#include "hv/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(RR_DIGEST_HASH_SHA256 == HV_DIGEST_SHA256 && RR_DIGEST_HASH_XXH3 == HV_DIGEST_XXH3,
	       "the log's digest-hash values are the machine's");

struct rr_player {
	int fd;
	struct rr_reader *r;
	struct rr_chunk chunk;
	struct rr_event_iter it;
	struct rr_event ev;
	bool have_ev;
	bool log_done;
	bool no_verify;
	uint64_t log_end;	/* end_step of the last chunk read */
	uint64_t event_no;	/* index of ev in the whole log */
	uint64_t applied;	/* events applied (or, after a seek, passed over) */
	uint64_t last_seq, last_step;	/* the chunk and step of the last applied event */
	enum rr_kind last_kind;
	uint32_t last_in_chunk;		/* its place in that chunk, from 1 */
	bool seeking;			/* rr_player_seek reads a trimmed log's first chunk */
	uint64_t last_digest;	/* the step of the last DIGEST applied or passed over (0: none) */
	bool have_chunk;	/* chunk is the last one read */
	uint8_t header_sha[32];
	enum hv_digest_hash digest_hash;	/* the header's: every DIGEST is checked with it */
	char end_desc[256];
};

int rr_header_sha256(const struct rr_header *h, uint8_t out[32])
{
	size_t len = 0;
	uint8_t *buf = malloc(RR_HEADER_FIXED_BYTES + RR_HEADER_MAX_BODY);
	unsigned int md_len = 32;
	int rc = -ENOMEM;

	if (buf && !rr_header_encode(h, buf, RR_HEADER_FIXED_BYTES + RR_HEADER_MAX_BODY, &len))
		rc = EVP_Digest(buf, len, out, &md_len, EVP_sha256(), NULL) ? 0 : -EIO;
	free(buf);
	return rc;
}

/* Either open: read and check the header, name the log by it; p is freed on failure. */
static int start(struct rr_player *p, const char *name, struct rr_header *h, struct rr_player **out,
		 char *err, size_t err_len)
{
	char why[512] = "";
	int rc = rr_reader_read_header(p->r, h, why, sizeof(why));

	if (rc) {
		hv_errf(err, err_len, "log %s: %s", name,
			rc == -EAGAIN ? "ends inside its header (no chunk was written)" : why);
		rr_player_close(p);
		return rc;
	}
	if (rr_header_sha256(h, p->header_sha)) {
		hv_errf(err, err_len, "out of memory");
		rr_player_close(p);
		return -ENOMEM;
	}
	p->digest_hash = (enum hv_digest_hash)h->digest_hash;
	p->event_no = (uint64_t)-1;
	*out = p;
	return 0;
}

int rr_player_open(struct rr_player **out, const char *path, struct rr_header *h, char *err,
		   size_t err_len)
{
	struct rr_player *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: %s", path, strerror(errno));
		free(p);
		return rc;
	}
	p->r = rr_reader_open_fd(p->fd);
	if (!p->r) {
		rr_player_close(p);
		return -ENOMEM;
	}
	rr_reader_allow_trimmed(p->r);
	return start(p, path, h, out, err, err_len);
}

int rr_player_open_stream(struct rr_player **out, FILE *f, const char *name, struct rr_header *h,
			  char *err, size_t err_len)
{
	struct rr_player *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	p->r = rr_reader_open_file(f);
	if (!p->r) {
		free(p);
		return -ENOMEM;
	}
	rr_reader_allow_trimmed(p->r);
	return start(p, name, h, out, err, err_len);
}

void rr_player_set_verify(struct rr_player *p, bool verify)
{
	p->no_verify = !verify;
}

void rr_player_close(struct rr_player *p)
{
	if (!p)
		return;
	if (p->r)
		rr_reader_close(p->r);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

const char *rr_player_end(const struct rr_player *p)
{
	return p->end_desc[0] ? p->end_desc : "not at the end";
}

/* p->ev is applied or passed over: where the player stands. */
static void passed(struct rr_player *p)
{
	p->applied++;
	p->last_seq = p->chunk.seq;
	p->last_in_chunk = p->it.seen;
	p->last_step = p->ev.step;
	p->last_kind = p->ev.kind;
	if (p->ev.kind == RR_DIGEST)
		p->last_digest = p->ev.step;
}

/* The next event, or the next chunk. 1: p->ev set; 2: a chunk was read; 0: log exhausted; <0: corrupt. */
static int fetch(struct rr_player *p, struct rr_play_status *st)
{
	char why[512] = "";
	int rc;

	for (;;) {
		if (p->it.c) {
			rc = rr_event_next(&p->it, &p->ev, why, sizeof(why));
			if (rc == 1) {
				p->event_no++;
				return 1;
			}
			if (rc < 0) {
				hv_errf(st->msg, sizeof(st->msg), "corrupt log: %s", why);
				return rc;
			}
		}
		p->it.c = NULL;
		if (p->log_done)
			return 0;
		rc = rr_reader_next(p->r, &p->chunk, why, sizeof(why));
		if (rc == 1 && !p->have_chunk && rr_reader_hole_bytes(p->r) && !p->seeking) {
			hv_errf(st->msg, sizeof(st->msg), "the log was trimmed: it starts at chunk %" PRIu64
				" (step %" PRIu64 "), so it replays only from a snapshot at or after that step "
				"(--from SNAP)", p->chunk.seq, p->chunk.first_step);
			p->log_done = true;
			return -EBADMSG;
		}
		if (rc == 1) {
			st->chunks++;
			p->have_chunk = true;
			p->log_end = p->chunk.end_step;
			st->log_end_step = p->log_end;
			rr_event_iter_init(&p->it, &p->chunk);
			return 2;
		}
		if (rc < 0) {
			hv_errf(st->msg, sizeof(st->msg), "corrupt log: %s", why);
			return rc;
		}
		p->log_done = true;
		if (rr_reader_saw_end(p->r))
			hv_errf(p->end_desc, sizeof(p->end_desc), "clean end (%s) at step %" PRIu64,
				rr_end_reason_name(st->end_reason), p->log_end);
		else if (rr_reader_state(p->r) == RR_READER_TRUNCATED)
			hv_errf(p->end_desc, sizeof(p->end_desc), "the recorder stopped mid-write: %s; "
				"replayed the %" PRIu64 " complete chunks up to step %" PRIu64,
				why, rr_reader_chunks(p->r), p->log_end);
		else
			hv_errf(p->end_desc, sizeof(p->end_desc), "end of file without an END event "
				"after %" PRIu64 " chunks, at step %" PRIu64, rr_reader_chunks(p->r),
				p->log_end);
		return 0;
	}
}

static void where(const struct hv_machine *m, char *buf, size_t len)
{
	size_t off = 0;

	for (int h = 0; h < hv_nharts(m) && off < len; h++) {
		uint32_t insn = hv_hart_insn(m, h, hv_hart_pc(m, h));
		off += snprintf(buf + off, len - off, "%shart %d pc 0x%" PRIx64, h ? ", " : "", h,
				hv_hart_pc(m, h));
		if (insn && off < len)
			off += snprintf(buf + off, len - off, " insn 0x%08x", insn);
	}
}

static enum rr_play_result diverged(const struct rr_player *p, const struct hv_machine *m,
				    struct rr_play_status *st, const char *what)
{
	char w[256];

	where(m, w, sizeof(w));
	hv_errf(st->msg, sizeof(st->msg),
		"replay diverged at step %" PRIu64 " (chunk %" PRIu64 ", event %" PRIu64 " %s): %s; "
		"%s; last match at step %" PRIu64,
		hv_steps(m), p->chunk.seq, p->event_no, rr_kind_name(p->ev.kind), what, w,
		st->last_match_step);
	return RR_PLAY_DIVERGED;
}

static const char *stop_name(enum hv_stop s)
{
	switch (s) {
	case HV_STOP_BUDGET: return "running";
	case HV_STOP_IDLE: return "idle (every hart in WFI)";
	case HV_STOP_POWEROFF: return "powered off";
	case HV_STOP_REBOOT: return "reset";
	case HV_STOP_FAIL: return "failed";
	case HV_STOP_HOST_ERROR: return "stopped on a host error";
	}
	return "?";
}

/* Run exactly to step stop; anything that ends the run earlier is a divergence. */
static enum rr_play_result run_to(struct rr_player *p, struct hv_machine *m, uint64_t stop,
				  struct rr_play_status *st)
{
	while (hv_steps(m) < stop) {
		struct hv_stop_info info;
		char what[160];

		if (hv_run(m, stop - hv_steps(m), &info))
			return diverged(p, m, st, "hv_run failed");
		if (info.why != HV_STOP_BUDGET && hv_steps(m) < stop) {
			snprintf(what, sizeof(what), "the guest is %s but the log runs on to step %" PRIu64,
				 stop_name(info.why), stop);
			return diverged(p, m, st, what);
		}
	}
	return RR_PLAY_REACHED;
}

static enum hv_stop end_to_stop(uint64_t reason)
{
	switch (reason) {
	case RR_END_POWEROFF: return HV_STOP_POWEROFF;
	case RR_END_REBOOT: return HV_STOP_REBOOT;
	case RR_END_FAIL: return HV_STOP_FAIL;
	default: return HV_STOP_BUDGET;
	}
}

static enum rr_play_result apply(struct rr_player *p, struct hv_machine *m,
				 struct rr_play_status *st)
{
	const struct rr_event *ev = &p->ev;
	char what[200 + 4 * HV_DIGEST_BYTES];

	switch (ev->kind) {
	case RR_CHECK: {
		uint64_t got = hv_check(m);
		st->checks++;
		if (got != ev->check && !p->no_verify) {
			snprintf(what, sizeof(what), "state check expected 0x%016" PRIx64 ", got 0x%016" PRIx64,
				 ev->check, got);
			return diverged(p, m, st, what);
		}
		st->last_match_step = ev->step;
		return RR_PLAY_REACHED;
	}
	case RR_DIGEST: {
		uint8_t got[HV_DIGEST_BYTES];
		hv_set_digest_hash(m, p->digest_hash);
		hv_digest_dirty(m, got);
		st->digests++;
		if (memcmp(got, ev->digest, sizeof(got)) && !p->no_verify) {
			/* In full: two digests cut to a prefix can look equal when they are not. */
			char want_hex[2 * HV_DIGEST_BYTES + 1], got_hex[2 * HV_DIGEST_BYTES + 1];
			for (int i = 0; i < HV_DIGEST_BYTES; i++) {
				snprintf(want_hex + 2 * i, 3, "%02x", ev->digest[i]);
				snprintf(got_hex + 2 * i, 3, "%02x", got[i]);
			}
			snprintf(what, sizeof(what), "state digest expected %s, got %s", want_hex, got_hex);
			return diverged(p, m, st, what);
		}
		st->last_match_step = ev->step;
		return RR_PLAY_REACHED;
	}
	case RR_END: {
		struct hv_stop_info info;
		st->saw_end = true;
		st->end_reason = (enum rr_end_reason)ev->end_reason;
		if (end_to_stop(ev->end_reason) != HV_STOP_BUDGET) {
			if (hv_run(m, 0, &info) || info.why != end_to_stop(ev->end_reason)) {
				snprintf(what, sizeof(what), "the log ends with the guest %s, but here it is %s",
					 rr_end_reason_name(ev->end_reason), stop_name(info.why));
				return diverged(p, m, st, what);
			}
		}
		return RR_PLAY_REACHED;
	}
	case RR_CONSOLE_IN:
	case RR_NET_RX:
	case RR_CLOCK: {
		struct hv_event hev;
		int rc = rr_event_load(ev, &hev);
		if (!rc)
			rc = hv_inject(m, &hev);
		/* A frame virtio-net had no room for was dropped when recorded too. */
		if (rc == -ENOSPC && ev->kind == RR_NET_RX)
			rc = 0;
		st->events++;
		if (rc) {
			snprintf(what, sizeof(what), "the machine refused the %s event: %s",
				 rr_kind_name(ev->kind), strerror(-rc));
			return diverged(p, m, st, what);
		}
		return RR_PLAY_REACHED;
	}
	}
	return diverged(p, m, st, "unknown event kind");
}

enum rr_play_result rr_player_run(struct rr_player *p, struct hv_machine *m, uint64_t target,
				  struct rr_play_status *st)
{
	enum rr_play_result res;

	for (;;) {
		/*
		 * The current chunk has no events left: its end is vouched for, so
		 * run there before asking for the next chunk, which on a live feed
		 * may mean waiting (the backup then waits at the end of what it has).
		 */
		if (!p->have_ev && !p->log_done && (!p->it.c || p->it.seen == p->it.c->nevents)) {
			uint64_t stop = target < p->log_end ? target : p->log_end;
			res = run_to(p, m, stop, st);
			if (res != RR_PLAY_REACHED)
				return res;
			/* At the chunk's end, events of the next chunk may still fall on target. */
			if (hv_steps(m) == target && target < p->log_end)
				return RR_PLAY_REACHED;
		}
		if (!p->have_ev) {
			int rc = fetch(p, st);
			if (rc < 0)
				return RR_PLAY_CORRUPT;
			if (rc == 2)
				continue;
			p->have_ev = rc == 1;
		}
		if (p->have_ev && p->ev.step < hv_steps(m))
			return diverged(p, m, st, "the log's next event is at an earlier step than the machine");
		if (p->have_ev && p->ev.step <= target) {
			res = run_to(p, m, p->ev.step, st);
			if (res != RR_PLAY_REACHED)
				return res;
			p->have_ev = false;
			passed(p);
			res = apply(p, m, st);
			if (res != RR_PLAY_REACHED)
				return res;
			continue;
		}
		/* No event before target: the log still vouches for every step up to its end. */
		uint64_t stop = target < p->log_end ? target : p->log_end;
		res = run_to(p, m, stop, st);
		if (res != RR_PLAY_REACHED)
			return res;
		if (hv_steps(m) == target)
			return RR_PLAY_REACHED;
		if (!p->have_ev && p->log_done)
			return RR_PLAY_LOG_END;
	}
}

void rr_player_position(const struct rr_player *p, struct hv_snapshot_logpos *pos)
{
	memset(pos, 0, sizeof(*pos));
	pos->valid = true;
	memcpy(pos->header_sha256, p->header_sha, sizeof(p->header_sha));
	pos->events = p->applied;
	if (p->applied) {
		pos->chunk_seq = p->last_seq;
		pos->last_event_step = p->last_step;
		pos->last_event_kind = p->last_kind;
		pos->chunk_events = p->last_in_chunk;
	}
}

int rr_player_log_end(const struct rr_player *p, struct rr_log_end *end)
{
	enum rr_reader_state state = rr_reader_state(p->r);

	if (rr_reader_saw_end(p->r))
		return -EPIPE;
	if (!p->log_done || p->have_ev || p->it.c || (state != RR_READER_EOF && state != RR_READER_TRUNCATED))
		return -EINVAL;
	*end = (struct rr_log_end){
		.items = p->have_chunk ? p->chunk.seq + 2 : 1, .bytes = rr_reader_offset(p->r),
		.end_step = p->log_end, .events = p->applied,
		.last_ev_seq = p->last_seq, .last_ev_step = p->last_step, .last_ev_kind = p->last_kind,
		.last_ev_in_chunk = p->last_in_chunk,
		.last_digest_step = p->last_digest,
	};
	return 0;
}

static int seek_check(struct rr_player *p, const struct hv_snapshot_logpos *pos, uint64_t machine_step,
		      char *err, size_t err_len);

/*
 * A trimmed log does not say how many events came before its first chunk:
 * pass over whole chunks to the snapshot's, then over its events there, and
 * take the snapshot's count.
 */
static int seek_trimmed(struct rr_player *p, const struct hv_snapshot_logpos *pos, uint64_t machine_step,
			struct rr_play_status *st, char *err, size_t err_len)
{
	uint64_t first = p->chunk.seq, first_step = p->chunk.first_step;
	int rc;

	if (!pos->events || pos->chunk_seq < first) {
		hv_errf(err, err_len, "the log was trimmed: it starts at chunk %" PRIu64 " (step %" PRIu64
			"), after the snapshot's place (chunk %" PRIu64 ", step %" PRIu64 ")", first, first_step,
			pos->chunk_seq, pos->last_event_step);
		return -ENODATA;
	}
	if (!pos->chunk_events) {
		hv_errf(err, err_len, "the log was trimmed, and the snapshot (format 1.1) does not say where in "
			"its chunk it stands: save a new snapshot to replay this log from");
		return -EINVAL;
	}
	for (;;) {
		if (p->chunk.seq > pos->chunk_seq) {
			hv_errf(err, err_len, "the log's chunk %" PRIu64 " holds fewer than the snapshot's %" PRIu32
				" events: another log", pos->chunk_seq, pos->chunk_events);
			return -EINVAL;
		}
		rc = fetch(p, st);
		if (rc < 0) {
			hv_errf(err, err_len, "%s", st->msg);
			return -EBADMSG;
		}
		if (rc == 0) {
			hv_errf(err, err_len, "the log ends in chunk %" PRIu64 ", before the snapshot's place (chunk %"
				PRIu64 ", step %" PRIu64 ")", p->chunk.seq, pos->chunk_seq, pos->last_event_step);
			return -ENODATA;
		}
		if (rc == 1) {
			passed(p);
			if (p->chunk.seq == pos->chunk_seq && p->it.seen == pos->chunk_events)
				break;
		}
	}
	p->applied = pos->events;
	return seek_check(p, pos, machine_step, err, err_len);
}

int rr_player_seek(struct rr_player *p, const struct hv_snapshot_logpos *pos, uint64_t machine_step,
		   struct rr_play_status *st, char *err, size_t err_len)
{
	if (!pos->valid) {
		hv_errf(err, err_len, "the snapshot names no place in a log (it was saved neither during a replay nor at a recording's stop)");
		return -EINVAL;
	}
	if (memcmp(pos->header_sha256, p->header_sha, sizeof(p->header_sha))) {
		hv_errf(err, err_len, "the snapshot belongs to another log (its header differs)");
		return -EINVAL;
	}
	if (p->applied || p->have_ev || p->it.c) {
		hv_errf(err, err_len, "the replay has begun already");
		return -EBUSY;
	}
	for (bool first = true; p->applied < pos->events; first = false) {
		p->seeking = first;
		int rc = fetch(p, st);
		p->seeking = false;
		if (first && rc == 2 && rr_reader_hole_bytes(p->r))
			return seek_trimmed(p, pos, machine_step, st, err, err_len);
		if (rc < 0) {
			hv_errf(err, err_len, "%s", st->msg);
			return -EBADMSG;
		}
		if (rc == 0) {
			hv_errf(err, err_len, "the log ends after %" PRIu64 " events, before the snapshot's "
				"place (event %" PRIu64 ", step %" PRIu64 ")", p->applied, pos->events,
				pos->last_event_step);
			return -ENODATA;
		}
		if (rc == 1)
			passed(p);
	}
	return seek_check(p, pos, machine_step, err, err_len);
}

/* The player passed over pos->events events: are they the snapshot's? */
static int seek_check(struct rr_player *p, const struct hv_snapshot_logpos *pos, uint64_t machine_step,
		      char *err, size_t err_len)
{
	if (pos->events && (p->last_seq != pos->chunk_seq || p->last_step != pos->last_event_step ||
			    (uint32_t)p->last_kind != pos->last_event_kind ||
			    (pos->chunk_events && p->last_in_chunk != pos->chunk_events))) {
		hv_errf(err, err_len, "the log's event %" PRIu64 " is %s at step %" PRIu64 " in chunk %" PRIu64
			"; the snapshot saw %s at step %" PRIu64 " in chunk %" PRIu64 ": another log",
			pos->events - 1, rr_kind_name(p->last_kind), p->last_step, p->last_seq,
			rr_kind_name((enum rr_kind)pos->last_event_kind), pos->last_event_step, pos->chunk_seq);
		return -EINVAL;
	}
	if (p->last_step > machine_step) {
		hv_errf(err, err_len, "the snapshot's machine is at step %" PRIu64 ", before its last event "
			"(step %" PRIu64 ")", machine_step, p->last_step);
		return -EINVAL;
	}
	return 0;
}

int rr_player_rest(struct rr_player *p, uint64_t *log_end)
{
	struct rr_play_status st = { 0 };
	int rc;

	if (p->have_ev)
		return 1;
	while ((rc = fetch(p, &st)) == 2)
		;
	*log_end = p->log_end;
	if (rc == 1)
		p->have_ev = true;
	return rc;
}

int rr_event_load(const struct rr_event *in, struct hv_event *out)
{
	switch (in->kind) {
	case RR_CONSOLE_IN: return rr_console_load(in, out);
	case RR_NET_RX: return rr_net_load(in, out);
	case RR_CLOCK: return rr_clock_load(in, out);
	default: return -EINVAL;
	}
}
