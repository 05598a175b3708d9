/* SPDX-License-Identifier: MIT */
/*
 * pair_ckpt: either daemon saves its machine beside its log every
 * --checkpoint-s (LOG.ckpt, with its place in the log). A child process
 * writes it from a copy-on-write image, so the guest or the replay does not
 * wait; hv_snapshot_save renames it into place only once it is whole. A host
 * that starts again on that log (as the backup) replays from there, not
 * from step 0.
 */
#include "pair.h"
#include "hv/le.h"
#include "hv/rr/log.h"
#include "hv/rr/rr.h"
#include "hv/rr/session.h"
#include "hv/snapshot.h"
#include "transport/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A writer that takes longer than this is stuck (a lock held across fork): kill it. */
#define CHECKPOINT_MAX_S 120

void ft_ckpt_init(struct ft_ckpt *c, const char *log_path, uint32_t every_s, const char *who)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s.ckpt", log_path ? log_path : "");
	snprintf(c->log_path, sizeof(c->log_path), "%s", log_path ? log_path : "");
	c->every_s = log_path ? every_s : 0;
	c->who = who;
	c->last = ft_now_s();
	c->trim_upto = UINT64_MAX;
}

/*
 * Has the writer finished? One running past CHECKPOINT_MAX_S, or still
 * running when the caller is done with the machine (stop_now: it must
 * neither wait for it nor leave it unreaped), is killed; its temporary file
 * never replaced the last good checkpoint, and is removed.
 */
void ft_ckpt_reap(struct ft_ckpt *c, bool stop_now)
{
	pid_t pid = c->pid, r;
	int ws;

	if (pid <= 0)
		return;
	r = waitpid(pid, &ws, WNOHANG);
	if (r == 0) {
		if (!stop_now && ft_now_s() - c->started <= CHECKPOINT_MAX_S)
			return;
		log_warnx("%s: the checkpoint at step %" PRIu64 " is still writing after %.1f s%s: killing it", c->who,
			  c->step, ft_now_s() - c->started, stop_now ? " and the machine is done with" : "");
		kill(pid, SIGKILL);
		r = waitpid(pid, &ws, 0);
	}
	c->pid = 0;
	if (r != pid) {
		STORE(c->failed, c->failed + 1);
		return;
	}
	if (WIFEXITED(ws) && !WEXITSTATUS(ws)) {
		log_info("%s: checkpoint at step %" PRIu64 " saved to %s in %.0f ms", c->who, c->step, c->path,
			 (ft_now_s() - c->started) * 1e3);
		STORE(c->saved, c->saved + 1);
		return;
	}
	STORE(c->failed, c->failed + 1);
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", c->path, (int)pid);	/* hv_snapshot_save's */
	unlink(tmp);
	log_warnx("%s: the checkpoint at step %" PRIu64 " failed (%s %d); the last one stays", c->who, c->step,
		  WIFEXITED(ws) ? "exit" : "signal", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
}

void ft_ckpt_maybe(struct ft_ckpt *c, struct rr_session *s)
{
	struct hv_snapshot_logpos pos;
	char err[768];
	double now = ft_now_s();

	ft_ckpt_reap(c, false);
	if (!c->every_s || c->pid || (now - c->last < c->every_s && !LOAD(c->asap)))
		return;
	c->last = c->started = now;
	STORE(c->asap, 0);
	/* In this process: a recording closes its chunk here, so the place is in the log the writer writes. */
	if (rr_session_log_position(s, &pos, err, sizeof(err))) {
		log_warnx("%s: cannot checkpoint: %s", c->who, err);
		STORE(c->failed, c->failed + 1);
		return;
	}
	c->step = hv_steps(rr_session_machine(s));
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		/*
		 * It holds copies of the daemon's descriptors (its listening socket, its
		 * TAP): a writer outliving a daemon SIGKILLed would keep a restarted one
		 * from listening, and would rename a stale checkpoint into its place.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		if (hv_snapshot_save(rr_session_machine(s), c->path, &pos, err, sizeof(err))) {
			dprintf(2, "ftvm: %s: checkpoint: %s\n", c->who, err);
			_exit(1);
		}
		/* Only once the checkpoint is in place: the log then never lacks what a replay from it reads. */
		struct rr_trim_result tr;
		if (c->trim_log && pos.events && pos.chunk_seq + 1 <= LOAD(c->trim_upto) &&
		    rr_log_trim(c->log_path, &pos, &tr, err, sizeof(err)))
			dprintf(2, "ftvm: %s: the checkpoint at step %" PRIu64 " is saved; its log is not trimmed: %s\n",
				c->who, c->step, err);
		_exit(0);
	}
	if (pid < 0) {
		log_warnx("%s: cannot start a checkpoint: %s", c->who, strerror(errno));
		STORE(c->failed, c->failed + 1);
	} else
		c->pid = pid;
}

/* The SHA-256 a checkpoint names its log by: of the log's encoded header. */
static int log_header_sha(const char *log_path, uint8_t sha[32], char *why, size_t why_len)
{
	struct rr_header h;
	int fd = open(log_path, O_RDONLY | O_CLOEXEC), rc = -EIO;
	struct rr_reader *r = fd >= 0 ? rr_reader_open_fd(fd) : NULL;

	if (!r)
		snprintf(why, why_len, "log %s: %s", log_path, strerror(errno ? errno : ENOMEM));
	else if (rr_reader_read_header(r, &h, why, why_len) == 0)
		rc = rr_header_sha256(&h, sha) ? -EIO : 0;
	rr_reader_close(r);
	if (fd >= 0)
		close(fd);
	return rc;
}

int ft_ckpt_send_open(struct ft_ckpt_send *s, const char *path, const char *log_path, uint64_t peer_items,
		      char *why, size_t why_len)
{
	struct hv_snapshot_logpos pos;
	struct stat sb;
	uint8_t sha[32];
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (access(path, F_OK)) {
		snprintf(why, why_len, "no checkpoint yet");
		return 0;
	}
	/* Opened first: a newer checkpoint renamed over path later leaves this one readable. */
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &sb) < 0) {
		snprintf(why, why_len, "checkpoint %s: %s", path, strerror(errno));
		ft_ckpt_send_close(s);
		return -EIO;
	}
	char fdpath[64];
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", s->fd);
	rc = hv_snapshot_peek(fdpath, &s->steps, &pos, why, why_len);
	if (!rc && (!pos.valid || log_header_sha(log_path, sha, why, why_len) || memcmp(sha, pos.header_sha256, 32)))
		rc = 1;
	if (rc) {
		if (rc == 1)
			snprintf(why, why_len, "the checkpoint %s names no place in this log", path);
		ft_ckpt_send_close(s);
		return 0;
	}
	/* Its place is chunk chunk_seq, log item chunk_seq + 1: a peer holding it replays from its own. */
	s->place_items = pos.chunk_seq + 2;
	if (s->place_items <= peer_items || (uint64_t)sb.st_size > FT_CKPT_MAX_BYTES) {
		if (s->place_items <= peer_items)
			snprintf(why, why_len, "the peer's log holds the checkpoint's place (item %" PRIu64 ")",
				 s->place_items - 1);
		else
			snprintf(why, why_len, "the checkpoint is larger than a peer takes (%lld bytes)",
				 (long long)sb.st_size);
		ft_ckpt_send_close(s);
		return 0;
	}
	s->size = (uint64_t)sb.st_size;
	s->buf = malloc(FT_CKPT_PIECE_HEADER + FT_CKPT_PIECE_DATA);
	if (!s->buf) {
		snprintf(why, why_len, "out of memory");
		ft_ckpt_send_close(s);
		return -ENOMEM;
	}
	return 1;
}

int ft_ckpt_send_next(struct ft_ckpt_send *s, const uint8_t **piece, size_t *len)
{
	if (s->fd < 0 || s->off >= s->size)
		return 0;
	if (!s->piece_len) {
		size_t n = s->size - s->off < FT_CKPT_PIECE_DATA ? (size_t)(s->size - s->off) : FT_CKPT_PIECE_DATA;
		memcpy(s->buf, FT_CKPT_PIECE_MAGIC, 8);
		le64_store(s->buf + 8, s->off);
		le64_store(s->buf + 16, s->size);
		if (pread(s->fd, s->buf + FT_CKPT_PIECE_HEADER, n, (off_t)s->off) != (ssize_t)n)
			return -EIO;
		s->piece_len = FT_CKPT_PIECE_HEADER + n;
	}
	*piece = s->buf;
	*len = s->piece_len;
	return 1;
}

void ft_ckpt_send_taken(struct ft_ckpt_send *s)
{
	s->off += s->piece_len - FT_CKPT_PIECE_HEADER;
	s->piece_len = 0;
}

void ft_ckpt_send_close(struct ft_ckpt_send *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

bool ft_ckpt_is_piece(const uint8_t *payload, size_t len)
{
	return len >= FT_CKPT_PIECE_HEADER && !memcmp(payload, FT_CKPT_PIECE_MAGIC, 8);
}

void ft_ckpt_recv_init(struct ft_ckpt_recv *r, const char *ckpt_path)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	snprintf(r->path, sizeof(r->path), "%s.recv", ckpt_path);
}

int ft_ckpt_recv_piece(struct ft_ckpt_recv *r, const uint8_t *payload, size_t len, char *why, size_t why_len)
{
	uint64_t off = le64_load(payload + 8), size = le64_load(payload + 16), n = len - FT_CKPT_PIECE_HEADER;
	const uint8_t *data = payload + FT_CKPT_PIECE_HEADER;

	if (off == 0) {
		/* A new transfer (the channel was renewed, or the first). */
		ft_ckpt_recv_drop(r);
		if (!size || size > FT_CKPT_MAX_BYTES) {
			snprintf(why, why_len, "a checkpoint of %" PRIu64 " bytes", size);
			return -EPROTO;
		}
		r->fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (r->fd < 0) {
			snprintf(why, why_len, "%s: %s", r->path, strerror(errno));
			return -errno;
		}
		r->size = size;
	}
	if (r->fd < 0 || off != r->got || size != r->size || n > size - off || !n) {
		snprintf(why, why_len, "checkpoint piece at %" PRIu64 " (%" PRIu64 " bytes of %" PRIu64 ") where byte %"
			 PRIu64 " was next", off, n, size, r->got);
		ft_ckpt_recv_drop(r);
		return -EPROTO;
	}
	while (n) {
		ssize_t w = pwrite(r->fd, data, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, why_len, "%s: %s", r->path, w < 0 ? strerror(errno) : "short write");
			ft_ckpt_recv_drop(r);
			return -EIO;
		}
		data += w, off += (uint64_t)w, n -= (uint64_t)w, r->got += (uint64_t)w;
	}
	if (r->got == r->size) {
		r->whole = true;
		if (close(r->fd) < 0) {
			snprintf(why, why_len, "%s: %s", r->path, strerror(errno));
			r->fd = -1;
			ft_ckpt_recv_drop(r);
			return -EIO;
		}
		r->fd = -1;
	}
	return 0;
}

int ft_ckpt_recv_take(struct ft_ckpt_recv *r, const char *ckpt_path, const uint8_t header_sha[32],
		      uint64_t own_steps, uint64_t *steps, char *why, size_t why_len)
{
	struct hv_snapshot_logpos pos;

	if (!r->whole) {
		snprintf(why, why_len, r->got ? "it arrived only in part" : "none arrived");
		ft_ckpt_recv_drop(r);
		return 0;
	}
	if (hv_snapshot_peek(r->path, steps, &pos, why, why_len) == 0) {
		if (!pos.valid || memcmp(pos.header_sha256, header_sha, 32))
			snprintf(why, why_len, "it names another log");
		else if (*steps <= own_steps)
			snprintf(why, why_len, "it is at step %" PRIu64 ", this host's own at %" PRIu64, *steps,
				 own_steps);
		else if (rename(r->path, ckpt_path) < 0)
			snprintf(why, why_len, "%s: %s", ckpt_path, strerror(errno));
		else {
			r->whole = false;
			r->got = 0;
			return 1;
		}
	}
	ft_ckpt_recv_drop(r);
	return 0;
}

void ft_ckpt_recv_drop(struct ft_ckpt_recv *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->fd >= 0 || r->got || r->whole)
		unlink(r->path);
	r->fd = -1;
	r->got = r->size = 0;
	r->whole = false;
}
