/* SPDX-License-Identifier: MIT */
/*
 * arbiter_lock: the pair's epoch and owner in a small file on storage both
 * hosts reach, changed only under flock(2): "EPOCH OWNER\n". Taking the
 * arbiter is a compare-and-set done while holding the lock, so of two sides
 * that both saw epoch E, exactly one moves it to E+1 (VMware FT's
 * test-and-set on shared storage).
 */
#include "arbiter_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define OWNER_MAX 128

struct lock_arbiter {
	struct ft_arbiter base;	/* first: arbiter.c's calls land here */
	char *path;
	char *name;		/* base.name */
};

static const struct ft_arbiter_ops lock_ops;

int ft_arbiter_lock_open(const char *spec, struct ft_arbiter **out, char *err, size_t err_len)
{
	struct lock_arbiter *a;

	*out = NULL;
	if (strncmp(spec, "lock:", 5) || !spec[5]) {
		snprintf(err, err_len, "arbiter %s: want lock:PATH", spec);
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(spec + 5))) {
		free(a);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	a->base.ops = &lock_ops;
	a->name = a->base.name;
	snprintf(a->name, sizeof(a->base.name), "lock:%s", a->path);
	*out = &a->base;
	return 0;
}

static void lock_free(struct ft_arbiter *base)
{
	struct lock_arbiter *a = (struct lock_arbiter *)base;

	free(a->path);
	free(a);
}

static int lock_file(struct lock_arbiter *a, int how, char *err, size_t err_len)
{
	int fd = open(a->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	a->base.round_trips++;
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_len, "arbiter %s: %s", a->name, strerror(e));
		return -e;
	}
	while (flock(fd, how) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		snprintf(err, err_len, "arbiter %s: flock: %s", a->name, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* Parse "EPOCH OWNER\n"; an empty file is epoch 0 with no owner. */
static int parse(struct lock_arbiter *a, int fd, uint64_t *epoch, char *owner, size_t owner_len,
		 char *err, size_t err_len)
{
	char buf[OWNER_MAX + 32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;

	if (n < 0) {
		int e = errno;
		snprintf(err, err_len, "arbiter %s: %s", a->name, strerror(e));
		return -e;
	}
	buf[n] = '\0';
	*epoch = 0;
	if (owner_len)
		owner[0] = '\0';
	if (n == 0)
		return 0;
	errno = 0;
	*epoch = strtoull(buf, &end, 10);
	if (errno || end == buf || *end != ' ' || !strchr(end, '\n')) {
		snprintf(err, err_len, "arbiter %s: unreadable contents (want \"EPOCH OWNER\")", a->name);
		return -EBADMSG;
	}
	end++;
	size_t len = strcspn(end, "\n");
	if (owner_len)
		snprintf(owner, owner_len, "%.*s", (int)len, end);
	return 0;
}

static int lock_read(struct ft_arbiter *base, uint64_t *epoch, char *owner, size_t owner_len,
		     char *err, size_t err_len)
{
	struct lock_arbiter *a = (struct lock_arbiter *)base;
	int fd = lock_file(a, LOCK_SH, err, err_len);
	int rc;

	if (fd < 0)
		return fd;
	rc = parse(a, fd, epoch, owner, owner_len, err, err_len);
	close(fd);
	return rc;
}

static int lock_take(struct ft_arbiter *base, uint64_t expect, const char *owner, char *err,
		     size_t err_len)
{
	struct lock_arbiter *a = (struct lock_arbiter *)base;
	char cur_owner[OWNER_MAX], line[OWNER_MAX + 32];
	uint64_t cur;
	int fd, rc, n;

	if (strlen(owner) >= OWNER_MAX || strchr(owner, '\n')) {
		snprintf(err, err_len, "arbiter: owner name too long");
		return -EINVAL;
	}
	fd = lock_file(a, LOCK_EX, err, err_len);
	if (fd < 0)
		return fd;
	rc = parse(a, fd, &cur, cur_owner, sizeof(cur_owner), err, err_len);
	if (rc)
		goto out;
	if (cur != expect) {
		snprintf(err, err_len, "arbiter %s: epoch is %" PRIu64 " (owner %s), not %" PRIu64,
			 a->name, cur, cur_owner[0] ? cur_owner : "none", expect);
		rc = -EAGAIN;
		goto out;
	}
	n = snprintf(line, sizeof(line), "%" PRIu64 " %s\n", expect + 1, owner);
	/* Write over, then cut: a crash in between leaves the new line and old bytes after its newline. */
	if (pwrite(fd, line, n, 0) != n || ftruncate(fd, n) < 0 || fsync(fd) < 0) {
		rc = -errno;
		snprintf(err, err_len, "arbiter %s: %s", a->name, strerror(errno));
	}
out:
	close(fd);
	return rc;
}

static const struct ft_arbiter_ops lock_ops = { .read = lock_read, .take = lock_take, .free = lock_free };
