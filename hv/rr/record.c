/* SPDX-License-Identifier: MIT */
/* record: the recorder: input events, checks and digests into chunks, queued to the log file. */
#include "hv/rr/rr.h"
#include "hv/errmsg.h"
#include "hv/host/sched.h"
#include "hv/rq/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RQ_ITEMS 1024
#define RQ_BYTES (64u << 20)
/* A chunk with events closes after this long, so a crash loses little. */
#define FLUSH_NS (20 * 1000000ULL)
/* An empty chunk still announces progress this often. */
#define PROGRESS_NS (1000 * 1000000ULL)
#define FLUSH_BYTES (256u << 10)

struct rr_recorder {
	struct rr_record_opts o;
	int fd;
	struct rr_chunk_writer *w;
	struct rq *q;
	int disk_id;
	pthread_t writer;
	bool writer_started;
	bool inline_writes;	/* the recording thread writes the file itself (see rr_recorder_open_opts) */
	volatile int writer_errno;
	uint64_t digest_interval, next_digest;
	enum hv_digest_hash digest_hash;	/* the header's: every DIGEST of the log is this hash */
	uint64_t last_flush_ns;
	uint64_t last_step;
	uint64_t flushed_step;	/* end step of the last chunk queued */
	uint64_t written_items;		/* atomic: queue items (header, chunks) in the file */
	struct rr_record_stats st;
	bool ended;
	int extra_id[RR_MAX_EXTRA_CONSUMERS];
	/* Where the log stands, for a snapshot (rr_recorder_position). */
	uint8_t header_sha[32];
	uint64_t chunk_seq;		/* seq of the chunk being filled */
	uint64_t events_total;		/* every event in the log, checks and digests too */
	uint64_t last_ev_seq, last_ev_step;
	enum rr_kind last_ev_kind;
	uint32_t last_ev_in_chunk;	/* events of last_ev_seq up to the last one */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
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

/* One item of the disk consumer into the file: 0, or the error after which nothing more is written. */
static int write_item(struct rr_recorder *r, const uint8_t *buf, size_t len, uint64_t end_step)
{
	int rc = write_all(r->fd, buf, len);

	if (!rc && r->o.fsync && fdatasync(r->fd) < 0)
		rc = -errno;
	rq_release(r->q, r->disk_id);
	if (rc) {
		/* Nothing after this point is safe: the watermark stops here for good. */
		r->writer_errno = -rc;
		rq_detach(r->q, r->disk_id);
		if (r->o.on_error)
			r->o.on_error(r->o.opaque, rc);
		return rc;
	}
	__atomic_add_fetch(&r->written_items, 1, __ATOMIC_SEQ_CST);
	if (r->o.on_written)
		r->o.on_written(r->o.opaque, end_step);
	return 0;
}

/* The disk consumer of the replay queue, on its own thread. */
static void *disk_writer(void *arg)
{
	struct rr_recorder *r = arg;
	const uint8_t *buf;
	size_t len;

	pthread_setname_np(pthread_self(), "ftvm-log");
	host_sched_slice(true);
	while (rq_next(r->q, r->disk_id, &buf, &len) == 1)
		if (write_item(r, buf, len, rq_tag(r->q, r->disk_id)))
			break;
	return NULL;
}

/* The disk consumer on the recording thread: everything queued so far into the file. */
static int write_queued(struct rr_recorder *r)
{
	const uint8_t *buf;
	size_t len;
	uint64_t end_step;

	while (!r->writer_errno && rq_try_next(r->q, r->disk_id, &buf, &len, &end_step) == 1)
		if (write_item(r, buf, len, end_step))
			break;
	return -r->writer_errno;
}

/*
 * The log file, opened non-blocking so that a FIFO without a reader fails
 * instead of hanging, and truncated only once it is known to be a regular
 * file (never a device or a pipe).
 */
static int open_log(const char *path, char *err, size_t err_len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
	struct stat st;
	int rc;

	if (fd < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: %s", path,
			errno == ENXIO ? "not a regular file (a FIFO nobody reads)" : strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		hv_errf(err, err_len, "log %s: not a regular file (a replay log must be one)", path);
		close(fd);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, 0) < 0 || ftruncate(fd, 0) < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * A log to continue: its header, and every whole chunk (a torn tail is cut
 * off); none may hold END. The writer then goes on at the next seq from the
 * last chunk's end step, with the digests at the same interval.
 */
static int scan_log(struct rr_recorder *r, int fd, struct rr_header *h, char *err, size_t err_len)
{
	struct rr_reader *rd = rr_reader_open_fd(fd);
	struct rr_chunk c;
	char why[512] = "";
	uint64_t keep, last_digest = 0, end_step = 0, chunks = 0;
	int rc;

	if (!rd) {
		hv_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rr_reader_allow_trimmed(rd);	/* a checkpointed recording's (ftvm record --checkpoint-s, the pair's) */
	rc = rr_reader_read_header(rd, h, why, sizeof(why));
	if (rc) {
		hv_errf(err, err_len, "log %s: %s", r->o.path, rc == -EAGAIN ? "ends inside its header" : why);
		rr_reader_close(rd);
		return rc == -EAGAIN ? -EINVAL : rc;
	}
	keep = rr_reader_offset(rd);
	while ((rc = rr_reader_next(rd, &c, why, sizeof(why))) == 1) {
		struct rr_event_iter it;
		struct rr_event ev;
		rr_event_iter_init(&it, &c);
		while ((rc = rr_event_next(&it, &ev, why, sizeof(why))) == 1) {
			if (ev.kind == RR_END) {
				hv_errf(err, err_len, "log %s: the run it records ended (END at step %" PRIu64
					"): nothing can follow", r->o.path, ev.step);
				rr_reader_close(rd);
				return -EINVAL;
			}
			if (ev.kind == RR_DIGEST)
				last_digest = ev.step;
			r->events_total++;
			r->last_ev_seq = c.seq;
			r->last_ev_in_chunk = it.seen;
			r->last_ev_step = ev.step;
			r->last_ev_kind = ev.kind;
		}
		if (rc < 0)
			break;
		chunks++;
		end_step = c.end_step;
		r->chunk_seq = c.seq + 1;
		keep = rr_reader_offset(rd);
	}
	enum rr_reader_state state = rr_reader_state(rd);
	rr_reader_close(rd);
	if (rc < 0 || (state != RR_READER_EOF && state != RR_READER_TRUNCATED)) {
		hv_errf(err, err_len, "log %s: %s", r->o.path, why[0] ? why : "unreadable");
		return -EBADMSG;
	}
	if (state == RR_READER_TRUNCATED)
		fprintf(stderr, "ftvm: log %s: a torn chunk after byte %" PRIu64 " is cut off (%s)\n",
			r->o.path, keep, why);
	if (ftruncate(fd, (off_t)keep) < 0 || lseek(fd, (off_t)keep, SEEK_SET) < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: %s", r->o.path, strerror(errno));
		return rc;
	}
	/* The header and the chunks (a trimmed log's first one has any seq): the queue numbers on from there. */
	r->written_items = chunks ? r->chunk_seq + 1 : 1;
	if (r->o.continue_events)
		r->events_total = r->o.continue_events;
	r->flushed_step = end_step;
	r->last_step = end_step;
	r->next_digest = (last_digest ? last_digest : 0) + h->digest_interval;
	return 0;
}

/* The same from what a player saw of the log: only its length is checked, and the rest cut. */
static int adopt_log_end(struct rr_recorder *r, const struct rr_log_end *at, const struct rr_header *h_in,
			 struct rr_header *h, char *err, size_t err_len)
{
	uint64_t bytes = at->bytes;
	struct stat st;

	if (!h_in || !bytes) {
		hv_errf(err, err_len, "continuing a log from its known end needs its header and length");
		return -EINVAL;
	}
	if (fstat(r->fd, &st) < 0 || (uint64_t)st.st_size < bytes) {
		hv_errf(err, err_len, "log %s: %" PRIu64 " bytes, shorter than the %" PRIu64 " its reader saw",
			r->o.path, (uint64_t)st.st_size, bytes);
		return -EINVAL;
	}
	if (ftruncate(r->fd, (off_t)bytes) < 0 || lseek(r->fd, (off_t)bytes, SEEK_SET) < 0) {
		int rc = -errno;
		hv_errf(err, err_len, "log %s: %s", r->o.path, strerror(errno));
		return rc;
	}
	*h = *h_in;
	r->events_total = at->events;
	r->last_ev_seq = at->last_ev_seq;
	r->last_ev_in_chunk = at->last_ev_in_chunk;
	r->last_ev_step = at->last_ev_step;
	r->last_ev_kind = at->last_ev_kind;
	r->chunk_seq = at->items - 1;
	r->written_items = at->items;
	r->flushed_step = at->end_step;
	r->last_step = at->end_step;
	r->next_digest = at->last_digest_step + h->digest_interval;
	return 0;
}

static int open_existing(const char *path, char *err, size_t err_len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		int rc = -errno;
		hv_errf(err, err_len, "log %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		hv_errf(err, err_len, "log %s: not a regular file (a replay log must be one)", path);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int rr_recorder_open(struct rr_recorder **out, const char *path, const struct rr_header *h,
		     char *err, size_t err_len)
{
	struct rr_record_opts o = { .path = path };

	return rr_recorder_open_opts(out, &o, h, err, err_len);
}

int rr_recorder_open_opts(struct rr_recorder **out, const struct rr_record_opts *o,
			  const struct rr_header *h_in, char *err, size_t err_len)
{
	struct rr_recorder *r = calloc(1, sizeof(*r));
	uint8_t hdr[RR_HEADER_FIXED_BYTES + RR_HEADER_MAX_BODY + 4];
	struct rr_header h_log;
	const struct rr_header *h = h_in;
	unsigned int md_len = sizeof(r->header_sha);
	size_t hlen;
	int rc;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->o = *o;
	r->fd = -1;
	r->disk_id = -1;
	if (o->continue_log) {
		r->fd = o->path ? open_existing(o->path, err, err_len) : -EINVAL;
		if (!o->path)
			hv_errf(err, err_len, "continuing a log needs its file");
		if (r->fd < 0)
			rc = r->fd;
		else if (o->continue_at)
			rc = adopt_log_end(r, o->continue_at, h_in, &h_log, err, err_len);
		else
			rc = scan_log(r, r->fd, &h_log, err, err_len);
		if (rc)
			goto fail;
		h = &h_log;
		if (o->header_out)
			*o->header_out = h_log;
	}
	rc = rr_header_encode(h, hdr, sizeof(hdr), &hlen);
	if (rc) {
		hv_errf(err, err_len, "cannot encode the log header: %s", strerror(-rc));
		goto fail;
	}
	if (!EVP_Digest(hdr, hlen, r->header_sha, &md_len, EVP_sha256(), NULL)) {
		rc = -EIO;
		hv_errf(err, err_len, "cannot hash the log header");
		goto fail;
	}
	if (o->path && !o->continue_log) {
		r->fd = open_log(o->path, err, err_len);
		if (r->fd < 0) {
			rc = r->fd;
			goto fail;
		}
	}
	r->w = rr_chunk_writer_new(r->chunk_seq, r->flushed_step);
	r->q = rq_new(o->queue_items ? o->queue_items : RQ_ITEMS, RQ_BYTES);
	if (!r->w || !r->q) {
		rc = -ENOMEM;
		hv_errf(err, err_len, "out of memory");
		goto fail;
	}
	if (o->path)
		r->disk_id = rq_add_consumer(r->q);
	for (int i = 0; i < o->extra_consumers && i < RR_MAX_EXTRA_CONSUMERS; i++)
		r->extra_id[i] = rq_add_consumer(r->q);
	/*
	 * The header is the stream's first item: the file and every other
	 * consumer start with it. A continued log has it, and its chunks, in the
	 * file already: the queue's items then number on from those.
	 */
	rc = o->continue_log ? rq_start_at(r->q, r->written_items) : rq_push_tagged(r->q, hdr, hlen, 0);
	if (rc) {
		hv_errf(err, err_len, "cannot queue the log header: %s", strerror(-rc));
		goto fail;
	}
	r->digest_interval = h->digest_interval;
	r->digest_hash = (enum hv_digest_hash)h->digest_hash;
	if (!o->continue_log)
		r->next_digest = h->digest_interval;
	r->last_flush_ns = now_ns();
	r->st.bytes = o->continue_log ? 0 : hlen;
	/*
	 * A local log without fdatasync: each chunk is one write into the page
	 * cache, cheaper on this thread than the hand-off (a futex wake-up of
	 * the writer thread and its wait, per chunk) costs. That holds beside a
	 * network sender too: the primary's held output, which needs both its
	 * backup's ack and its own log, waited 170 us on average with the
	 * writer thread, 100 us without (bench-pair). With fsync the writer
	 * thread keeps the disk's latency away from the guest.
	 */
	r->inline_writes = o->path && !o->fsync;
	if (r->inline_writes) {
		rc = write_queued(r);
		if (rc) {
			hv_errf(err, err_len, "log %s: %s", o->path, strerror(-rc));
			goto fail;
		}
	} else if (o->path) {
		if (pthread_create(&r->writer, NULL, disk_writer, r)) {
			rc = -EAGAIN;
			hv_errf(err, err_len, "cannot start the log writer thread");
			goto fail;
		}
		r->writer_started = true;
	}
	*out = r;
	return 0;
fail:
	rr_recorder_close(r, NULL);
	return rc;
}

uint64_t rr_recorder_items_written(const struct rr_recorder *r)
{
	return __atomic_load_n(&r->written_items, __ATOMIC_SEQ_CST);
}

struct rq *rr_recorder_queue(struct rr_recorder *r)
{
	return r->q;
}

int rr_recorder_consumer(const struct rr_recorder *r, int i)
{
	return i >= 0 && i < r->o.extra_consumers ? r->extra_id[i] : -EINVAL;
}

static int flush_chunk(struct rr_recorder *r, struct hv_machine *m, uint64_t end_step)
{
	const uint8_t *buf;
	size_t len;
	int rc = rr_chunk_writer_finish(r->w, end_step, &buf, &len);

	if (rc)
		return rc;
	if (r->writer_errno)
		return -r->writer_errno;
	struct rq_stats before, after;
	if (m)
		rq_get_stats(r->q, &before);
	rc = rq_push_tagged(r->q, buf, len, end_step);
	if (rc)
		return rc;
	r->flushed_step = end_step;
	r->chunk_seq++;
	if (m) {
		rq_get_stats(r->q, &after);
		if (after.pauses != before.pauses) {
			/* Reported after the fact: the vCPU thread was the one waiting. */
			hv_observe(m, HV_OBS_PAUSE_BEGIN, -1, 0);
			hv_observe(m, HV_OBS_PAUSE_END, -1, after.paused_ns - before.paused_ns);
		}
	}
	r->st.chunks++;
	r->st.bytes += len;
	r->last_flush_ns = now_ns();
	return r->inline_writes ? write_queued(r) : 0;
}

static int add(struct rr_recorder *r, struct hv_machine *m, const struct rr_event *ev)
{
	int rc = rr_chunk_writer_add(r->w, ev);

	if (rc == -ENOSPC) {
		rc = flush_chunk(r, m, ev->step);
		if (!rc)
			rc = rr_chunk_writer_add(r->w, ev);
	}
	if (!rc) {
		r->last_step = ev->step;
		r->events_total++;
		r->last_ev_seq = r->chunk_seq;
		r->last_ev_in_chunk = rr_chunk_writer_nevents(r->w);
		r->last_ev_step = ev->step;
		r->last_ev_kind = ev->kind;
	}
	return rc;
}

void rr_recorder_position(const struct rr_recorder *r, struct hv_snapshot_logpos *pos)
{
	memset(pos, 0, sizeof(*pos));
	pos->valid = true;
	memcpy(pos->header_sha256, r->header_sha, sizeof(r->header_sha));
	pos->events = r->events_total;
	if (r->events_total) {
		pos->chunk_seq = r->last_ev_seq;
		pos->last_event_step = r->last_ev_step;
		pos->last_event_kind = r->last_ev_kind;
		pos->chunk_events = r->last_ev_in_chunk;
	}
}

/* No more chunks: the writer drains the queue into the file, which is then synced; rc or its error. */
static int stop_writer(struct rr_recorder *r, int rc)
{
	rq_close(r->q);
	if (r->writer_started) {
		pthread_join(r->writer, NULL);
		r->writer_started = false;
	}
	if (!rc && r->writer_errno)
		rc = -r->writer_errno;
	if (!rc && r->fd >= 0 && fdatasync(r->fd) < 0)
		rc = -errno;
	return rc;
}

int rr_record_finish_open(struct rr_recorder *r, struct hv_machine *m)
{
	int rc;

	if (r->ended)
		return 0;
	r->ended = true;
	rc = rr_record_flush(r, m);
	return stop_writer(r, rc);
}

int rr_record_event(struct rr_recorder *r, struct hv_machine *m, const struct hv_event *ev)
{
	struct rr_event rev;
	int rc;

	switch (ev->kind) {
	case HV_EV_CONSOLE_IN: rc = rr_console_save(ev, &rev); break;
	case HV_EV_NET_RX: rc = rr_net_save(ev, &rev); break;
	case HV_EV_CLOCK: rc = rr_clock_save(ev, &rev); break;
	default: rc = -EINVAL; break;
	}
	if (rc)
		return rc;
	/* Every input lands on a checked state, so a divergence shows at the first event after it. */
	struct rr_event check = { .kind = RR_CHECK, .step = ev->step, .check = hv_check(m) };
	rc = add(r, m, &check);
	if (rc)
		return rc;
	r->st.checks++;
	rc = add(r, m, &rev);
	if (!rc)
		r->st.events++;
	return rc;
}

int rr_record_slice(struct rr_recorder *r, struct hv_machine *m)
{
	uint64_t step = hv_steps(m);
	int rc;

	if (r->digest_interval && step >= r->next_digest) {
		struct rr_event d = { .kind = RR_DIGEST, .step = step };
		hv_set_digest_hash(m, r->digest_hash);
		hv_digest_dirty(m, d.digest);
		hv_observe(m, HV_OBS_DIGEST, -1, ((uint64_t)d.digest[0] << 56) | ((uint64_t)d.digest[1] << 48) |
			   ((uint64_t)d.digest[2] << 40) | ((uint64_t)d.digest[3] << 32) |
			   ((uint64_t)d.digest[4] << 24) | ((uint64_t)d.digest[5] << 16) |
			   ((uint64_t)d.digest[6] << 8) | d.digest[7]);
		rc = add(r, m, &d);
		if (rc)
			return rc;
		r->st.digests++;
		r->next_digest = step + r->digest_interval;
	}
	uint64_t since = now_ns() - r->last_flush_ns;
	size_t pending = rr_chunk_writer_payload_len(r->w);
	uint64_t flush_ns = r->o.flush_ms ? r->o.flush_ms * 1000000ULL : FLUSH_NS;
	uint64_t progress_ns = r->o.flush_ms ? flush_ns : PROGRESS_NS;
	if ((pending && since >= flush_ns) || pending >= FLUSH_BYTES ||
	    (since >= progress_ns && step != r->flushed_step))
		return flush_chunk(r, m, step);
	return 0;
}

int rr_record_flush(struct rr_recorder *r, struct hv_machine *m)
{
	uint64_t step = hv_steps(m);

	if (step == r->flushed_step && !rr_chunk_writer_payload_len(r->w))
		return 0;
	return flush_chunk(r, m, step);
}

int rr_record_end(struct rr_recorder *r, struct hv_machine *m, enum rr_end_reason why)
{
	uint64_t step = hv_steps(m);
	struct rr_event end = { .kind = RR_END, .step = step, .end_reason = why };
	int rc;

	if (r->ended)
		return 0;
	r->ended = true;
	rc = add(r, m, &end);
	if (!rc)
		rc = flush_chunk(r, m, step);
	return stop_writer(r, rc);
}

void rr_recorder_close(struct rr_recorder *r, struct rr_record_stats *st)
{
	if (!r)
		return;
	if (r->q)
		rq_close(r->q);
	if (r->writer_started)
		pthread_join(r->writer, NULL);
	if (r->q) {
		struct rq_stats qs;
		rq_get_stats(r->q, &qs);
		r->st.pauses = qs.pauses;
		r->st.paused_ns = qs.paused_ns;
	}
	if (st)
		*st = r->st;
	if (r->fd >= 0)
		close(r->fd);
	rq_free(r->q);
	rr_chunk_writer_free(r->w);
	free(r);
}
