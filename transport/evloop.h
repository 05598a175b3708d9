/* SPDX-License-Identifier: MIT */
/* A small epoll event loop (redis ae.c in spirit): fd callbacks, timers, monotonic clock. */
#ifndef TRANSPORT_EVLOOP_H
#define TRANSPORT_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#define XPORT_EV_READ 1u
#define XPORT_EV_WRITE 2u

struct xport_loop;

/* events: the XPORT_EV_* that fired (errors and hang-ups are reported as both). */
typedef void xport_fd_cb(struct xport_loop *loop, int fd, unsigned events, void *arg);
/* Return the delay in ms until the next call, or a negative value to delete the timer. */
typedef int64_t xport_timer_cb(struct xport_loop *loop, uint64_t id, void *arg);

__attribute__((warn_unused_result)) int xport_loop_new(struct xport_loop **out);
void xport_loop_free(struct xport_loop *loop);

/* One callback per fd; events is a mask of XPORT_EV_*, possibly 0. */
__attribute__((warn_unused_result)) int xport_loop_add_fd(struct xport_loop *loop, int fd, unsigned events, xport_fd_cb *cb, void *arg);
__attribute__((warn_unused_result)) int xport_loop_set_events(struct xport_loop *loop, int fd, unsigned events);
void xport_loop_del_fd(struct xport_loop *loop, int fd);

/* Returns a timer id (> 0) or a negative errno. */
int64_t xport_loop_add_timer(struct xport_loop *loop, uint64_t delay_ms, xport_timer_cb *cb, void *arg);
void xport_loop_del_timer(struct xport_loop *loop, uint64_t id);

/* Waits at most timeout_ms (-1: until something happens), dispatches, returns events handled or -errno. */
int xport_loop_run_once(struct xport_loop *loop, int timeout_ms);
/* Runs until xport_loop_stop(). */
int xport_loop_run(struct xport_loop *loop);
void xport_loop_stop(struct xport_loop *loop);

uint64_t xport_now_us(void);
uint64_t xport_now_ms(void);

#endif
