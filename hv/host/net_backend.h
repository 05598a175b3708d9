/* SPDX-License-Identifier: MIT */
/* Host network backends (libslirp user-mode networking, TAP): host side of the determinism boundary. */
#ifndef HV_NET_BACKEND_H
#define HV_NET_BACKEND_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A backend moves plain Ethernet frames (no virtio header) between the guest
 * and the real world. It never calls into the machine: frames from the world
 * go to rx(), and the determinism layer decides at which instruction count the
 * guest sees them. Single-threaded; the owner runs the poll loop:
 *
 *	n = net_backend_pollfds(b, pfds, max, &timeout_ms);
 *	poll(pfds, n, timeout_ms);
 *	net_backend_dispatch(b, pfds, n);
 */

#define NET_FRAME_MAX_BYTES 65536
#define NET_FRAME_MIN_BYTES 14	/* an Ethernet header */

struct net_backend;

typedef void (*net_rx_fn)(void *opaque, const uint8_t *frame, size_t len);

/* spec: "user", "user,hostfwd=tcp::8080-:80[,hostfwd=tcp:127.0.0.1:2222-:22...]" (as QEMU's -netdev user), or "tap:IFNAME". */
int net_backend_open(const char *spec, void (*rx)(void *opaque, const uint8_t *frame, size_t len),
		     void *opaque, struct net_backend **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/* guest -> world; 0 (sent, or dropped and counted when the world is busy) or -errno; never blocks */
int net_backend_send(struct net_backend *b, const uint8_t *frame, size_t len);
/*
 * A TAP's send is one write(2): a thread other than the owner's may send, one
 * at a time (output commit releases frames where the log's ack arrives).
 * libslirp is the owner's thread's alone.
 */
bool net_backend_send_any_thread(const struct net_backend *b);
/* Fill up to max pollfds the backend needs; may lower *timeout_ms (-1: infinite). Returns the count used. */
int net_backend_pollfds(struct net_backend *b, struct pollfd *pfds, int max, int *timeout_ms);
/* After poll(): service the fds (pfds/n as filled above, revents set) and due timers; rx() is called once per frame. */
void net_backend_dispatch(struct net_backend *b, struct pollfd *pfds, int n);
void net_backend_close(struct net_backend *b);

/* Counters, for status output and tests. */
struct net_backend_stats {
	uint64_t rx_frames;		/* world -> rx() */
	uint64_t tx_frames;		/* net_backend_send accepted */
	uint64_t tx_dropped;		/* send refused: world busy or failed, or bad length */
	uint64_t rx_dropped;		/* frames from the world too large to deliver */
	uint64_t guest_errors;		/* slirp: guest misbehaviour reports (never logged) */
	uint64_t pollfd_overflow;	/* pollfds: more fds wanted than max */
};
void net_backend_get_stats(const struct net_backend *b, struct net_backend_stats *st);

/*
 * The TAP backend on its own (tap.c); net_backend_open("tap:IFNAME")
 * wraps it. Counters live in the caller-provided stats.
 */
struct net_tap;
int net_tap_open(const char *ifname, net_rx_fn rx, void *opaque, struct net_backend_stats *stats,
		 struct net_tap **out, char *err, size_t err_len) __attribute__((warn_unused_result));
int net_tap_send(struct net_tap *t, const uint8_t *frame, size_t len);
int net_tap_pollfds(struct net_tap *t, struct pollfd *pfds, int max, int *timeout_ms);
void net_tap_dispatch(struct net_tap *t, struct pollfd *pfds, int n);
void net_tap_close(struct net_tap *t);

#endif
