/* SPDX-License-Identifier: MIT */
/* feed: a bounded list of received chunks behind fopencookie(3); the reader blocks, never spins. */
#include "feed.h"
#include "hv/hv.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct feed_item {
	struct feed_item *next;
	size_t len, off;
	uint8_t data[];
};

struct feed {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct feed_item *head, **tail;
	size_t buffered;
	bool closed;
	int efd;
	FILE *stream;
	struct hv_machine *m;	/* reader's thread only */
	int prefix_fd;		/* the held log, read first (reader's thread once it runs) */
	uint64_t prefix_off, prefix_end;
	/* a trimmed log's hole [hole_at, hole_to): read as hole_pad zero bytes, not as what it spans */
	uint64_t hole_at, hole_to;
	size_t hole_pad;
	/* written under lock by the reader, read by the loop */
	uint64_t chunks_done, bytes_done, replayed;
};

static void wake_loop(struct feed *f)
{
	uint64_t one = 1;

	if (f->efd >= 0 && write(f->efd, &one, sizeof(one)) < 0) {
		/* saturated: still readable */
	}
}

static ssize_t feed_read(void *cookie, char *buf, size_t size)
{
	struct feed *f = cookie;
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	if (f->m)
		f->replayed = hv_steps(f->m);
	if (f->prefix_off < f->prefix_end) {
		/* The log held at start: from the file, not from memory; the loop hears of the step. */
		uint64_t upto = f->prefix_off < f->hole_to && f->hole_at < f->prefix_end ? f->hole_at : f->prefix_end;
		pthread_mutex_unlock(&f->lock);
		if (f->prefix_off == f->hole_at && f->hole_to > f->hole_at) {
			size_t pad = f->hole_pad < size ? f->hole_pad : size;
			memset(buf, 0, pad);
			f->hole_pad -= pad;
			if (!f->hole_pad)
				f->prefix_off = f->hole_to;
			return (ssize_t)pad;
		}
		size_t want = upto - f->prefix_off < size ? (size_t)(upto - f->prefix_off) : size;
		ssize_t got = pread(f->prefix_fd, buf, want, (off_t)f->prefix_off);
		if (got <= 0)
			return -1;	/* the reader reports a read error */
		f->prefix_off += (uint64_t)got;
		wake_loop(f);
		return got;
	}
	if (!f->head && !f->closed) {
		/* Caught up: say so (the Ack carries the step), then wait for more. */
		wake_loop(f);
		while (!f->head && !f->closed)
			pthread_cond_wait(&f->more, &f->lock);
	}
	while (f->head && n < size) {
		struct feed_item *it = f->head;
		size_t take = it->len - it->off;
		if (take > size - n)
			take = size - n;
		memcpy(buf + n, it->data + it->off, take);
		it->off += take;
		n += take;
		if (it->off == it->len) {
			f->head = it->next;
			if (!f->head)
				f->tail = &f->head;
			f->buffered -= it->len;
			f->chunks_done++;
			f->bytes_done += it->len;
			free(it);
			wake_loop(f);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return (ssize_t)n;
}

struct feed *feed_new(int efd)
{
	struct feed *f = calloc(1, sizeof(*f));
	cookie_io_functions_t io = { .read = feed_read };

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->more, NULL);
	f->tail = &f->head;
	f->efd = efd;
	f->prefix_fd = -1;
	f->stream = fopencookie(f, "r", io);
	if (!f->stream) {
		free(f);
		return NULL;
	}
	return f;
}

void feed_set_prefix(struct feed *f, int fd, uint64_t header_end, uint64_t data_at, uint64_t end)
{
	f->prefix_fd = fd;
	f->prefix_off = 0;
	f->prefix_end = end;
	f->hole_at = header_end;
	f->hole_to = data_at > header_end ? data_at : header_end;
	f->hole_pad = FEED_HOLE_PAD;
}

int64_t feed_bytes_unread(const struct feed *f)
{
	return f->hole_to > f->hole_at ? (int64_t)(f->hole_to - f->hole_at) - (int64_t)FEED_HOLE_PAD : 0;
}

void feed_wait_begun(struct feed *f)
{
	pthread_mutex_lock(&f->lock);
	while (!f->head && !f->closed && f->prefix_off >= f->prefix_end)
		pthread_cond_wait(&f->more, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

FILE *feed_stream(struct feed *f)
{
	return f->stream;
}

int feed_push(struct feed *f, const void *data, size_t len)
{
	struct feed_item *it = malloc(sizeof(*it) + len);

	if (!it)
		return -ENOMEM;
	it->next = NULL;
	it->len = len;
	it->off = 0;
	memcpy(it->data, data, len);
	pthread_mutex_lock(&f->lock);
	*f->tail = it;
	f->tail = &it->next;
	f->buffered += len;
	pthread_cond_signal(&f->more);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void feed_close(struct feed *f)
{
	pthread_mutex_lock(&f->lock);
	f->closed = true;
	pthread_cond_broadcast(&f->more);
	pthread_mutex_unlock(&f->lock);
}

void feed_set_machine(struct feed *f, struct hv_machine *m)
{
	pthread_mutex_lock(&f->lock);
	f->m = m;
	pthread_mutex_unlock(&f->lock);
}

void feed_consumed(struct feed *f, uint64_t *chunks, uint64_t *bytes, uint64_t *replayed_steps)
{
	pthread_mutex_lock(&f->lock);
	*chunks = f->chunks_done;
	*bytes = f->bytes_done;
	*replayed_steps = f->replayed;
	pthread_mutex_unlock(&f->lock);
}

size_t feed_buffered(struct feed *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->buffered;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void feed_free(struct feed *f)
{
	if (!f)
		return;
	if (f->stream)
		fclose(f->stream);
	while (f->head) {
		struct feed_item *it = f->head;
		f->head = it->next;
		free(it);
	}
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->more);
	free(f);
}
