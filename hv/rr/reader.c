/* SPDX-License-Identifier: MIT */
/* reader: reads a replay log from an fd, a FILE* or memory, chunk by chunk, telling a clean end from a truncated or corrupt one. */
#include "hv/rr/log.h"
#include "hv/errmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t get_le32(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

enum rr_source { RR_SRC_FD, RR_SRC_FILE, RR_SRC_MEM };

struct rr_reader {
	enum rr_source src;
	int fd;
	FILE *f;
	const uint8_t *mem;
	size_t mem_len, mem_pos;
	uint8_t *buf;
	size_t cap;
	uint64_t off, chunks, next_seq, next_step;
	bool header_done, saw_end;
	bool allow_trimmed, hole_checked;
	uint64_t hole_bytes;	/* zero bytes between the header and the first chunk (a trimmed log) */
	uint8_t *back;		/* bytes read past the hole, handed out before the source's */
	size_t back_len, back_pos;
	enum rr_reader_state state;
	int last_rc;		/* what rr_reader_next returns once the state is final */
};

static struct rr_reader *reader_new(enum rr_source src)
{
	struct rr_reader *r = calloc(1, sizeof(*r));

	if (r) {
		r->src = src;
		r->fd = -1;
	}
	return r;
}

struct rr_reader *rr_reader_open_fd(int fd)
{
	struct rr_reader *r = reader_new(RR_SRC_FD);

	if (r)
		r->fd = fd;
	return r;
}

struct rr_reader *rr_reader_open_file(FILE *f)
{
	struct rr_reader *r = reader_new(RR_SRC_FILE);

	if (r)
		r->f = f;
	return r;
}

struct rr_reader *rr_reader_open_mem(const uint8_t *buf, size_t len)
{
	struct rr_reader *r = reader_new(RR_SRC_MEM);

	if (r) {
		r->mem = buf;
		r->mem_len = len;
	}
	return r;
}

void rr_reader_close(struct rr_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->back);
	free(r);
}

void rr_reader_allow_trimmed(struct rr_reader *r) { r->allow_trimmed = true; }
uint64_t rr_reader_hole_bytes(const struct rr_reader *r) { return r->hole_bytes; }

enum rr_reader_state rr_reader_state(const struct rr_reader *r) { return r->state; }
uint64_t rr_reader_offset(const struct rr_reader *r) { return r->off; }
uint64_t rr_reader_chunks(const struct rr_reader *r) { return r->chunks; }
bool rr_reader_saw_end(const struct rr_reader *r) { return r->saw_end; }

/* Reads up to len bytes from the source itself (not the bytes kept past a hole); 0 at its end. */
static long reader_raw(struct rr_reader *r, uint8_t *dst, size_t len)
{
	if (r->src == RR_SRC_MEM) {
		size_t n = r->mem_len - r->mem_pos;
		if (n > len)
			n = len;
		memcpy(dst, r->mem + r->mem_pos, n);
		r->mem_pos += n;
		return (long)n;
	}
	if (r->src == RR_SRC_FILE) {
		size_t n = fread(dst, 1, len, r->f);
		return !n && ferror(r->f) ? -EIO : (long)n;
	}
	for (;;) {
		ssize_t k = read(r->fd, dst, len);
		if (k >= 0 || errno != EINTR)
			return k < 0 ? -errno : (long)k;
	}
}

/* Fills r->buf[have..want); returns the bytes now held (short only at end of file) or -errno. */
static long reader_fill(struct rr_reader *r, size_t have, size_t want)
{
	if (want > r->cap) {
		uint8_t *nb = realloc(r->buf, want);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = want;
	}
	while (have < want) {
		long n;
		if (r->back_pos < r->back_len) {
			n = (long)(r->back_len - r->back_pos < want - have ? r->back_len - r->back_pos : want - have);
			memcpy(r->buf + have, r->back + r->back_pos, (size_t)n);
			r->back_pos += (size_t)n;
		} else if ((n = reader_raw(r, r->buf + have, want - have)) < 0) {
			return n;
		}
		if (!n)
			break;
		have += (size_t)n;
	}
	return (long)have;
}

/*
 * Reads one record by growing the buffer to what decode says it needs: the
 * fixed part first, then the length it announces. Returns decode's result;
 * -EAGAIN means the file ended before the record did.
 */
static int reader_record(struct rr_reader *r, size_t fixed, bool header, struct rr_header *h,
			 struct rr_chunk *c, size_t *consumed, char *err, size_t err_len)
{
	size_t have = 0, want = fixed;

	for (;;) {
		long got = reader_fill(r, have, want);
		if (got < 0) {
			hv_errf(err, err_len, "read error at offset %" PRIu64 ": %s", r->off + have, strerror((int)-got));
			return (int)got;
		}
		have = (size_t)got;
		int rc = header ? rr_header_decode(r->buf, have, h, consumed, err, err_len)
				: rr_chunk_decode(r->buf, have, c, consumed, err, err_len);
		if (rc != -EAGAIN || have < want) {
			if (rc == -EAGAIN && !header)
				*consumed = have;	/* bytes of the partial chunk */
			return rc;
		}
		want = header ? RR_HEADER_FIXED_BYTES + get_le32(r->buf + 12) + 4
			      : RR_CHUNK_HEADER_BYTES + get_le32(r->buf + 28);
	}
}

static int reader_stop(struct rr_reader *r, enum rr_reader_state state, int rc)
{
	r->state = state;
	r->last_rc = rc;
	return rc;
}

int rr_reader_read_header(struct rr_reader *r, struct rr_header *h, char *err, size_t err_len)
{
	size_t consumed = 0;

	if (r->header_done || r->state != RR_READER_OPEN)
		return -EINVAL;
	int rc = reader_record(r, RR_HEADER_FIXED_BYTES, true, h, NULL, &consumed, err, err_len);
	if (rc == -EAGAIN)
		return reader_stop(r, RR_READER_TRUNCATED, rc);
	if (rc == -EBADMSG || rc == -EPROTONOSUPPORT)
		return reader_stop(r, RR_READER_CORRUPT, rc);
	if (rc < 0)
		return reader_stop(r, RR_READER_IO_ERROR, rc);
	r->header_done = true;
	r->off = consumed;
	return 0;
}

/*
 * A trimmed log: zero bytes (a punched hole, docs/log-format.md) between the
 * header and its first chunk. Passes over them, jumping over the unallocated
 * part of a file at once, and keeps the bytes read past them for the chunk.
 */
static int skip_hole(struct rr_reader *r)
{
	enum { BLOCK = 65536 };

	r->hole_checked = true;
	if (r->src == RR_SRC_FD) {
		off_t at = lseek(r->fd, 0, SEEK_CUR);
		off_t data = at < 0 ? -1 : lseek(r->fd, at, SEEK_DATA);
		if (at >= 0 && data < 0 && errno == ENXIO)
			data = lseek(r->fd, 0, SEEK_END);	/* a hole up to the end */
		if (at >= 0 && data > at) {
			r->hole_bytes += (uint64_t)(data - at);
			r->off += (uint64_t)(data - at);
		} else if (at >= 0) {
			lseek(r->fd, at, SEEK_SET);
		}
	}
	if (!r->back && !(r->back = malloc(BLOCK)))
		return -ENOMEM;
	/* One byte first: a whole log being written (the backup's feed) must not wait for more. */
	for (size_t want = 1;; want = BLOCK) {
		long n = reader_raw(r, r->back, want);
		if (n <= 0) {
			r->back_len = r->back_pos = 0;
			return (int)n;
		}
		size_t i = 0;
		while (i < (size_t)n && !r->back[i])
			i++;
		r->hole_bytes += i;
		r->off += i;
		if (i < (size_t)n) {
			r->back_pos = i;
			r->back_len = (size_t)n;
			return 0;
		}
	}
}

/* Continuity across chunks and the validity of every event; returns a reason or NULL. */
static const char *reader_check(struct rr_reader *r, const struct rr_chunk *c, char *why, size_t why_len)
{
	struct rr_event_iter it;
	struct rr_event ev;
	int rc;

	if (r->saw_end)
		return "chunk after the END event";
	if (r->hole_bytes && !r->chunks) {
		/* The first chunk after a hole sets where the log starts. */
	} else if (c->seq != r->next_seq) {
		snprintf(why, why_len, "seq %" PRIu64 " where %" PRIu64 " was expected", c->seq, r->next_seq);
		return why;
	} else if (c->first_step != r->next_step) {
		snprintf(why, why_len, "first step %" PRIu64 " where the previous chunk ended at %" PRIu64,
			 c->first_step, r->next_step);
		return why;
	}
	rr_event_iter_init(&it, c);
	while ((rc = rr_event_next(&it, &ev, why, why_len)) == 1)
		if (ev.kind == RR_END)
			r->saw_end = true;
	return rc < 0 ? why : NULL;
}

int rr_reader_next(struct rr_reader *r, struct rr_chunk *c, char *err, size_t err_len)
{
	char why[256];
	size_t consumed = 0;

	if (!r->header_done)
		return -EINVAL;
	if (r->state != RR_READER_OPEN) {
		hv_errf(err, err_len, "log already ended");
		return r->last_rc;
	}
	if (r->allow_trimmed && !r->hole_checked) {
		int hrc = skip_hole(r);
		if (hrc < 0) {
			hv_errf(err, err_len, "read error at offset %" PRIu64 ": %s", r->off, strerror(-hrc));
			return reader_stop(r, RR_READER_IO_ERROR, hrc);
		}
	}
	int rc = reader_record(r, RR_CHUNK_HEADER_BYTES, false, NULL, c, &consumed, why, sizeof(why));
	if (rc == -EAGAIN && consumed == 0 && r->hole_bytes && !r->chunks) {
		hv_errf(err, err_len, "log is a header and %" PRIu64 " zero bytes: it was trimmed of every chunk",
			r->hole_bytes);
		return reader_stop(r, RR_READER_TRUNCATED, 0);
	}
	if (rc == -EAGAIN && consumed == 0)
		return reader_stop(r, RR_READER_EOF, 0);
	if (rc == -EAGAIN) {
		hv_errf(err, err_len, "log ends in a partial chunk at offset %" PRIu64 " after %" PRIu64 " complete chunks",
			r->off, r->chunks);
		return reader_stop(r, RR_READER_TRUNCATED, 0);
	}
	if (rc == -EBADMSG && !r->chunks && !r->allow_trimmed && !memcmp(r->buf, "\0\0\0\0", 4)) {
		hv_errf(err, err_len, "zero bytes at offset %" PRIu64 " where the first chunk belongs: the log "
			"was trimmed, and only a replay from a snapshot reads it (ftvm replay --from)", r->off);
		return reader_stop(r, RR_READER_CORRUPT, rc);
	}
	if (rc == -EBADMSG) {
		hv_errf(err, err_len, "corrupt chunk at offset %" PRIu64 ": %s", r->off, why);
		return reader_stop(r, RR_READER_CORRUPT, rc);
	}
	if (rc < 0) {
		hv_errf(err, err_len, "%s", why);
		return reader_stop(r, RR_READER_IO_ERROR, rc);
	}
	c->offset = r->off;
	const char *bad = reader_check(r, c, why, sizeof(why));
	if (bad) {
		hv_errf(err, err_len, "corrupt chunk at offset %" PRIu64 ": %s", r->off, bad);
		return reader_stop(r, RR_READER_CORRUPT, -EBADMSG);
	}
	r->off += consumed;
	r->chunks++;
	r->next_seq = c->seq + 1;
	r->next_step = c->end_step;
	return 1;
}
