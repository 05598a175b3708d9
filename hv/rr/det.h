/* SPDX-License-Identifier: MIT */
/* det: the determinism layer, the only place where host time and host input become guest events. */
#ifndef HV_DET_H
#define HV_DET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"

/* Every event reaches the guest through this sink (live.c: apply now; later also record). */
typedef int (*det_apply_fn)(void *opaque, const struct hv_event *ev);

/*
 * Guest clock. In host mode guest mtime follows the host's monotonic clock:
 * the rate (ticks per step) is re-fitted every DET_CLOCK_PERIOD_MS and idle
 * gaps are skipped by moving the anchor. In virtual mode nothing reads the
 * host clock: the rate is fixed and idle gaps jump straight to the deadline.
 */
struct det_clock {
	bool virtual_time;
	uint64_t host_t0_ns;
	uint64_t last_fit_ns, last_fit_step;
	uint64_t events;
};

void det_clock_init(struct det_clock *c, bool virtual_time);
uint64_t det_clock_host_mtime(const struct det_clock *c);
/* Make host time and guest time agree now (start of a live run, or a replay going live). */
void det_clock_sync(struct det_clock *c, const struct hv_machine *m);
/* Between slices: refit the rate if a period has passed. */
int det_clock_tick(struct det_clock *c, struct hv_machine *m, det_apply_fn apply, void *opaque)
	__attribute__((warn_unused_result));
/* How long the host may sleep for an idle guest whose next deadline is until_mtime (-1: forever). */
int det_clock_idle_timeout_ms(const struct det_clock *c, const struct hv_machine *m,
			      uint64_t until_mtime);
/* After an idle wait: move guest time forward to now (host) or to the deadline (virtual). */
int det_clock_wake(struct det_clock *c, struct hv_machine *m, uint64_t until_mtime,
		   det_apply_fn apply, void *opaque) __attribute__((warn_unused_result));

/* Console input: stdin in raw mode when a terminal, Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A. */
#define DET_CONSOLE_BUF 4096
struct det_console {
	int fd;			/* -1 when closed or not used */
	bool raw, saw_escape, quit;
	uint8_t buf[DET_CONSOLE_BUF];
	size_t len;
	uint64_t bytes;
};

int det_console_open(struct det_console *c, int fd);
void det_console_close(struct det_console *c);
int det_console_pollfd(struct det_console *c, struct pollfd *pfd);
void det_console_read(struct det_console *c);
/* Queue bytes from elsewhere (scripted input). Returns bytes taken. */
size_t det_console_push(struct det_console *c, const uint8_t *data, size_t len);
int det_console_flush(struct det_console *c, struct hv_machine *m, det_apply_fn apply, void *opaque)
	__attribute__((warn_unused_result));

/* Network input: frames from the host backend wait here until the guest has a buffer. */
#define DET_NET_QUEUE 256
struct net_backend;
struct det_net_frame {
	uint8_t *data;
	size_t len;
};
struct det_net {
	struct net_backend *backend;
	struct det_net_frame q[DET_NET_QUEUE];
	unsigned head, count;
	uint64_t dropped, delivered, discarded;
	bool discarding;
};

int det_net_open(struct det_net *n, const char *spec, char *err, size_t err_len)
	__attribute__((warn_unused_result));
void det_net_close(struct det_net *n);
void det_net_tx(struct det_net *n, const uint8_t *frame, size_t len);
/* det_net_tx may be called from another thread than the poll loop's (one at a time): a TAP. */
bool det_net_tx_any_thread(const struct det_net *n);
int det_net_pollfds(struct det_net *n, struct pollfd *pfds, int max, int *timeout_ms);
void det_net_dispatch(struct det_net *n, struct pollfd *pfds, int count);
int det_net_flush(struct det_net *n, struct hv_machine *m, det_apply_fn apply, void *opaque)
	__attribute__((warn_unused_result));
/* Drop every frame the backend holds now, unread (a backup's TAP while it replayed). */
void det_net_discard_pending(struct det_net *n);

#endif
