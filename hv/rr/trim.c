/* SPDX-License-Identifier: MIT */
/* trim: frees the part of a replay log that a replay from a snapshot no longer reads, by punching a hole. */
#include "hv/rr/rr.h"
#include "hv/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether chunk c holds the snapshot's last event where pos says. */
static bool chunk_holds(const struct rr_chunk *c, const struct hv_snapshot_logpos *pos)
{
	struct rr_event_iter it;
	struct rr_event ev;
	char why[256];

	rr_event_iter_init(&it, c);
	while (rr_event_next(&it, &ev, why, sizeof(why)) == 1)
		if (it.seen == pos->chunk_events)
			return ev.step == pos->last_event_step && (uint32_t)ev.kind == pos->last_event_kind;
	return false;
}

/* Finds the snapshot's chunk: its offset, and where the log's chunks begin now. */
static int find_chunk(int fd, const char *path, const struct hv_snapshot_logpos *pos, struct rr_trim_result *res,
		      char *err, size_t err_len)
{
	struct rr_reader *r = rr_reader_open_fd(fd);
	struct rr_header h;
	struct rr_chunk c;
	uint8_t sha[32];
	char why[512] = "";
	int rc;

	if (!r) {
		hv_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rr_reader_allow_trimmed(r);
	rc = rr_reader_read_header(r, &h, why, sizeof(why));
	if (rc) {
		hv_errf(err, err_len, "log %s: %s", path, rc == -EAGAIN ? "ends inside its header" : why);
		goto out;
	}
	res->header_bytes = rr_reader_offset(r);
	if (rr_header_sha256(&h, sha) || memcmp(sha, pos->header_sha256, 32)) {
		hv_errf(err, err_len, "the snapshot belongs to another log than %s (its header differs)", path);
		rc = -EINVAL;
		goto out;
	}
	for (bool first = true; (rc = rr_reader_next(r, &c, why, sizeof(why))) == 1; first = false) {
		if (first) {
			res->was_seq = c.seq;
			res->was_offset = c.offset;
		}
		if (c.seq < pos->chunk_seq)
			continue;
		if (c.seq > pos->chunk_seq || !chunk_holds(&c, pos)) {
			hv_errf(err, err_len, "log %s: %s", path, c.seq > pos->chunk_seq ?
				"it was trimmed past the snapshot's place already" :
				"its chunk does not hold the snapshot's last event where the snapshot says: another log");
			rc = -EINVAL;
			goto out;
		}
		res->seq = c.seq;
		res->step = c.first_step;
		res->offset = c.offset;
		rc = 0;
		goto out;
	}
	hv_errf(err, err_len, "log %s: %s", path, rc < 0 ? why : "it ends before the snapshot's place");
	rc = rc < 0 ? rc : -ENODATA;
out:
	rr_reader_close(r);
	return rc;
}

int rr_log_trim(const char *path, const struct hv_snapshot_logpos *pos, struct rr_trim_result *res, char *err,
		size_t err_len)
{
	struct stat before, after;
	int fd, rc;

	memset(res, 0, sizeof(*res));
	if (!pos->valid || !pos->events) {
		hv_errf(err, err_len, "the snapshot stands at the start of its log or names none: nothing to trim");
		return -EINVAL;
	}
	if (!pos->chunk_events) {
		hv_errf(err, err_len, "the snapshot (format 1.1) does not say where in its chunk it stands, so it "
			"could not be replayed from a trimmed log: save a new one");
		return -EINVAL;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &before) < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: %s", path, strerror(errno));
		goto out;
	}
	rc = find_chunk(fd, path, pos, res, err, err_len);
	if (rc)
		goto out;
	/* A daemon serving a peer from this log holds a shared lock on it: its items stay till it lets go. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		hv_errf(err, err_len, "log %s: %s", path, errno == EWOULDBLOCK ? "a reader holds it (a daemon "
			"serving a peer from it): not trimmed now" : strerror(errno));
		goto out;
	}
	if (res->offset > res->header_bytes &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)res->header_bytes,
		      (off_t)(res->offset - res->header_bytes)) < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: cannot free its start in place: %s", path,
			errno == EOPNOTSUPP ? "this filesystem cannot punch holes in a file" : strerror(errno));
		flock(fd, LOCK_UN);
		goto out;
	}
	flock(fd, LOCK_UN);
	if (fsync(fd) < 0 || fstat(fd, &after) < 0) {
		rc = -errno;
		hv_errf(err, err_len, "log %s: %s", path, strerror(errno));
		goto out;
	}
	res->freed_bytes = before.st_blocks > after.st_blocks ? (uint64_t)(before.st_blocks - after.st_blocks) * 512 : 0;
	res->kept_bytes = (uint64_t)after.st_blocks * 512;
out:
	close(fd);
	return rc;
}
