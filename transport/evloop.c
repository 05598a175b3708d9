/* SPDX-License-Identifier: MIT */
/* The epoll event loop shared by the transport and the daemons: fd callbacks, timers, monotonic time. */
#include "transport/evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct loop_fd {
	xport_fd_cb *cb;
	void *arg;
	unsigned events;
};

struct loop_timer {
	uint64_t id;
	uint64_t due_ms;
	xport_timer_cb *cb;
	void *arg;
	bool dead;
};

struct xport_loop {
	int epfd;
	struct loop_fd *fds;
	int nfds;
	struct loop_timer *timers;
	size_t ntimers, cap_timers;
	uint64_t next_timer_id;
	bool stop;
};

uint64_t xport_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t xport_now_ms(void)
{
	return xport_now_us() / 1000u;
}

int xport_loop_new(struct xport_loop **out)
{
	struct xport_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	loop->next_timer_id = 1;
	*out = loop;
	return 0;
}

void xport_loop_free(struct xport_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop->fds);
	free(loop->timers);
	free(loop);
}

static uint32_t loop_epoll_mask(unsigned events)
{
	return (events & XPORT_EV_READ ? EPOLLIN : 0) | (events & XPORT_EV_WRITE ? EPOLLOUT : 0);
}

int xport_loop_add_fd(struct xport_loop *loop, int fd, unsigned events, xport_fd_cb *cb, void *arg)
{
	struct epoll_event ev = { .events = loop_epoll_mask(events), .data.fd = fd };

	if (fd < 0 || !cb)
		return -EINVAL;
	if (fd >= loop->nfds) {
		int n = fd + 64;
		struct loop_fd *p = realloc(loop->fds, (size_t)n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + loop->nfds, 0, (size_t)(n - loop->nfds) * sizeof(*p));
		loop->fds = p;
		loop->nfds = n;
	}
	if (loop->fds[fd].cb)
		return -EEXIST;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->fds[fd] = (struct loop_fd){ .cb = cb, .arg = arg, .events = events };
	return 0;
}

int xport_loop_set_events(struct xport_loop *loop, int fd, unsigned events)
{
	struct epoll_event ev = { .events = loop_epoll_mask(events), .data.fd = fd };

	if (fd < 0 || fd >= loop->nfds || !loop->fds[fd].cb)
		return -ENOENT;
	if (loop->fds[fd].events == events)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	loop->fds[fd].events = events;
	return 0;
}

void xport_loop_del_fd(struct xport_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->nfds || !loop->fds[fd].cb)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->fds[fd] = (struct loop_fd){ 0 };
}

int64_t xport_loop_add_timer(struct xport_loop *loop, uint64_t delay_ms, xport_timer_cb *cb, void *arg)
{
	if (loop->ntimers == loop->cap_timers) {
		size_t n = loop->cap_timers ? loop->cap_timers * 2 : 8;
		struct loop_timer *p = realloc(loop->timers, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		loop->timers = p;
		loop->cap_timers = n;
	}
	loop->timers[loop->ntimers++] = (struct loop_timer){
		.id = loop->next_timer_id,
		.due_ms = xport_now_ms() + delay_ms,
		.cb = cb,
		.arg = arg,
	};
	return (int64_t)loop->next_timer_id++;
}

void xport_loop_del_timer(struct xport_loop *loop, uint64_t id)
{
	for (size_t i = 0; i < loop->ntimers; i++)
		if (loop->timers[i].id == id)
			loop->timers[i].dead = true;
}

static int loop_timeout_ms(struct xport_loop *loop, int timeout_ms)
{
	uint64_t now = xport_now_ms();

	for (size_t i = 0; i < loop->ntimers; i++) {
		const struct loop_timer *t = &loop->timers[i];
		int64_t left;

		if (t->dead)
			continue;
		left = t->due_ms > now ? (int64_t)(t->due_ms - now) : 0;
		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = (int)left;
	}
	return timeout_ms;
}

static int loop_run_timers(struct xport_loop *loop)
{
	uint64_t now = xport_now_ms();
	size_t n = loop->ntimers, j = 0;
	int handled = 0;

	/* Timers added by callbacks land past n and wait for the next round. */
	for (size_t i = 0; i < n; i++) {
		struct loop_timer *t = &loop->timers[i];
		int64_t next;

		if (t->dead || t->due_ms > now)
			continue;
		next = t->cb(loop, t->id, t->arg);
		t = &loop->timers[i];
		handled++;
		if (next < 0)
			t->dead = true;
		else
			t->due_ms = xport_now_ms() + (uint64_t)next;
	}
	for (size_t i = 0; i < loop->ntimers; i++)
		if (!loop->timers[i].dead)
			loop->timers[j++] = loop->timers[i];
	loop->ntimers = j;
	return handled;
}

int xport_loop_run_once(struct xport_loop *loop, int timeout_ms)
{
	struct epoll_event evs[64];
	int n, handled;

	n = epoll_wait(loop->epfd, evs, 64, loop_timeout_ms(loop, timeout_ms));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	handled = n;
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		unsigned ev = 0;

		if (fd >= loop->nfds || !loop->fds[fd].cb)
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			ev |= XPORT_EV_READ;
		if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			ev |= XPORT_EV_WRITE;
		loop->fds[fd].cb(loop, fd, ev, loop->fds[fd].arg);
	}
	return handled + loop_run_timers(loop);
}

int xport_loop_run(struct xport_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		int r = xport_loop_run_once(loop, -1);

		if (r < 0)
			return r;
	}
	return 0;
}

void xport_loop_stop(struct xport_loop *loop)
{
	loop->stop = true;
}
