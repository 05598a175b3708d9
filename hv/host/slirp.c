/* SPDX-License-Identifier: MIT */
/* User-mode networking through libslirp (QEMU's 10.0.2.0/24 layout), and the net_backend_* front end. */
#include "hv/host/net_backend.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <slirp/libslirp.h>

/*
 * Addresses as QEMU's -netdev user: network 10.0.2.0/24, gateway and host
 * 10.0.2.2, DNS 10.0.2.3, DHCP leases from 10.0.2.15. IPv4 only.
 */
#define SLIRP_NET	"10.0.2.0"
#define SLIRP_MASK	"255.255.255.0"
#define SLIRP_HOST	"10.0.2.2"
#define SLIRP_DNS	"10.0.2.3"
#define SLIRP_DHCP	"10.0.2.15"
#define HOSTFWD_DEFAULT_HOST "127.0.0.1"	/* loopback only unless the spec names an address */

/* A timer callback that re-arms itself in the past must not spin dispatch forever. */
#define SLIRP_TIMER_FIRES_PER_DISPATCH 64

struct slirp_timer {
	struct slirp_timer *next;
	bool by_id;		/* created by timer_new_opaque: fire through slirp_handle_timer */
	SlirpTimerId id;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;	/* -1: not armed */
};

struct net_backend {
	net_rx_fn rx;
	void *opaque;
	struct net_backend_stats stats;
	struct net_tap *tap;	/* tap backend, or NULL for slirp */
	Slirp *slirp;
	struct slirp_timer *timers;
	/* pollfds being filled by slirp_pollfds_fill, or serviced by slirp_pollfds_poll */
	struct pollfd *pfds;
	int pfds_max;
	int pfds_used;
};

static int64_t slirp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_backend *b = opaque;

	if (len < NET_FRAME_MIN_BYTES || len > NET_FRAME_MAX_BYTES) {
		b->stats.rx_dropped++;
		return (ssize_t)len;
	}
	b->stats.rx_frames++;
	b->rx(b->opaque, buf, len);
	return (ssize_t)len;
}

/* Counted, not logged: the guest controls how often this happens. */
static void cb_guest_error(const char *msg, void *opaque)
{
	struct net_backend *b = opaque;

	b->stats.guest_errors++;
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return slirp_now_ns();
}

static struct slirp_timer *timer_add(struct net_backend *b)
{
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->expire_ms = -1;
	t->next = b->timers;
	b->timers = t;
	return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_timer *t = timer_add(opaque);

	if (t) {
		t->cb = cb;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct slirp_timer *t = timer_add(opaque);

	if (t) {
		t->by_id = true;
		t->id = id;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_backend *b = opaque;
	struct slirp_timer **pp;

	for (pp = &b->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
}

/* slirp_pollfds_fill enumerates every socket on each round, so there is nothing to track here. */
static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

/* Single-threaded: the owner's next net_backend_pollfds round picks the work up. */
static void cb_notify(void *opaque)
{
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

static int parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

/* "ADDR:PORT" or ":PORT"; an empty ADDR keeps *addr. */
static int parse_addr_port(char *s, struct in_addr *addr, int *port)
{
	char *colon = strrchr(s, ':');

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (*s && inet_pton(AF_INET, s, addr) != 1)
		return -EINVAL;
	return parse_port(colon + 1, port);
}

/* hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport, as QEMU's. */
static int slirp_hostfwd(struct net_backend *b, const char *rule, char *err, size_t err_len)
{
	char buf[128], *proto_end, *host, *guest;
	struct in_addr host_addr, guest_addr, net, mask;
	int is_udp, host_port, guest_port;

	if (strlen(rule) >= sizeof(buf))
		goto bad_syntax;
	strcpy(buf, rule);
	proto_end = strchr(buf, ':');
	if (!proto_end)
		goto bad_syntax;
	*proto_end = '\0';
	if (!strcmp(buf, "tcp") || !*buf) {
		is_udp = 0;
	} else if (!strcmp(buf, "udp")) {
		is_udp = 1;
	} else {
		snprintf(err, err_len, "hostfwd=%s: protocol '%s' is not tcp or udp", rule, buf);
		return -EINVAL;
	}
	host = proto_end + 1;
	guest = strchr(host, '-');
	if (!guest)
		goto bad_syntax;
	*guest++ = '\0';
	inet_pton(AF_INET, HOSTFWD_DEFAULT_HOST, &host_addr);
	inet_pton(AF_INET, SLIRP_DHCP, &guest_addr);
	if (parse_addr_port(host, &host_addr, &host_port) < 0 ||
	    parse_addr_port(guest, &guest_addr, &guest_port) < 0)
		goto bad_syntax;
	inet_pton(AF_INET, SLIRP_NET, &net);
	inet_pton(AF_INET, SLIRP_MASK, &mask);
	if ((guest_addr.s_addr & mask.s_addr) != net.s_addr) {
		snprintf(err, err_len, "hostfwd=%s: guest address is outside %s/24", rule, SLIRP_NET);
		return -EINVAL;
	}
	errno = 0;
	if (slirp_add_hostfwd(b->slirp, is_udp, host_addr, host_port, guest_addr, guest_port) < 0) {
		int e = errno ? errno : EADDRINUSE;
		char haddr[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &host_addr, haddr, sizeof(haddr));
		snprintf(err, err_len, "hostfwd=%s: cannot listen on %s %s:%d: %s", rule,
			 is_udp ? "udp" : "tcp", haddr, host_port, strerror(e));
		return -e;
	}
	return 0;
bad_syntax:
	snprintf(err, err_len,
		 "hostfwd=%s: expected hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport "
		 "(ports 1-65535)", rule);
	return -EINVAL;
}

static int slirp_open(struct net_backend *b, const char *opts, char *err, size_t err_len)
{
	SlirpConfig cfg = { .version = 4 };
	char *copy = NULL, *opt, *rest;
	int ret = 0;

	cfg.in_enabled = true;
	inet_pton(AF_INET, SLIRP_NET, &cfg.vnetwork);
	inet_pton(AF_INET, SLIRP_MASK, &cfg.vnetmask);
	inet_pton(AF_INET, SLIRP_HOST, &cfg.vhost);
	inet_pton(AF_INET, SLIRP_DHCP, &cfg.vdhcp_start);
	inet_pton(AF_INET, SLIRP_DNS, &cfg.vnameserver);
	cfg.in6_enabled = false;

	b->slirp = slirp_new(&cfg, &slirp_callbacks, b);
	if (!b->slirp) {
		snprintf(err, err_len, "user: libslirp could not start");
		return -ENOMEM;
	}
	if (!opts)
		return 0;
	copy = strdup(opts);
	if (!copy) {
		snprintf(err, err_len, "user: out of memory");
		return -ENOMEM;
	}
	rest = copy;
	while ((opt = strsep(&rest, ","))) {
		if (!*opt) {
			snprintf(err, err_len, "user,%s: empty option", opts);
			ret = -EINVAL;
			goto out;
		} else if (!strncmp(opt, "hostfwd=", 8)) {
			ret = slirp_hostfwd(b, opt + 8, err, err_len);
			if (ret < 0)
				goto out;
		} else {
			snprintf(err, err_len, "user: unknown option '%s' (only hostfwd= is supported)", opt);
			ret = -EINVAL;
			goto out;
		}
	}
out:
	free(copy);
	return ret;
}

int net_backend_open(const char *spec, void (*rx)(void *opaque, const uint8_t *frame, size_t len),
		     void *opaque, struct net_backend **out, char *err, size_t err_len)
{
	struct net_backend *b;
	int ret;

	*out = NULL;
	if (err_len)
		err[0] = '\0';
	if (!spec || !rx) {
		snprintf(err, err_len, "net: no backend spec");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, err_len, "net: out of memory");
		return -ENOMEM;
	}
	b->rx = rx;
	b->opaque = opaque;
	if (!strncmp(spec, "tap:", 4)) {
		ret = net_tap_open(spec + 4, rx, opaque, &b->stats, &b->tap, err, err_len);
	} else if (!strcmp(spec, "user")) {
		ret = slirp_open(b, NULL, err, err_len);
	} else if (!strncmp(spec, "user,", 5)) {
		ret = slirp_open(b, spec + 5, err, err_len);
	} else {
		snprintf(err, err_len, "net '%s': unknown backend (expected user[,hostfwd=...] or tap:IFNAME)",
			 spec);
		ret = -EINVAL;
	}
	if (ret < 0) {
		net_backend_close(b);
		return ret;
	}
	*out = b;
	return 0;
}

int net_backend_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
	if (b->tap)
		return net_tap_send(b->tap, frame, len);
	if (len < NET_FRAME_MIN_BYTES || len > NET_FRAME_MAX_BYTES) {
		b->stats.tx_dropped++;
		return -EINVAL;
	}
	b->stats.tx_frames++;
	slirp_input(b->slirp, frame, (int)len);
	return 0;
}

bool net_backend_send_any_thread(const struct net_backend *b)
{
	return b->tap != NULL;
}

static int poll_to_slirp(short revents)
{
	int ev = 0;

	if (revents & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (revents & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (revents & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (revents & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (revents & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct net_backend *b = opaque;
	struct pollfd *p;

	if (b->pfds_used >= b->pfds_max) {
		b->stats.pollfd_overflow++;
		return -1;	/* cb_get_revents reports nothing for it; it is serviced next round */
	}
	p = &b->pfds[b->pfds_used];
	p->fd = fd;
	p->events = 0;
	if (events & SLIRP_POLL_IN)
		p->events |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		p->events |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		p->events |= POLLPRI;
	p->revents = 0;
	return b->pfds_used++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct net_backend *b = opaque;

	if (idx < 0 || idx >= b->pfds_used)
		return 0;
	return poll_to_slirp(b->pfds[idx].revents);
}

int net_backend_pollfds(struct net_backend *b, struct pollfd *pfds, int max, int *timeout_ms)
{
	struct slirp_timer *t;
	uint32_t slirp_timeout_ms;
	uint64_t overflow_before = b->stats.pollfd_overflow;
	int64_t now_ms, delta_ms;

	if (b->tap)
		return net_tap_pollfds(b->tap, pfds, max, timeout_ms);
	b->pfds = pfds;
	b->pfds_max = max < 0 ? 0 : max;
	b->pfds_used = 0;
	slirp_timeout_ms = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	slirp_pollfds_fill(b->slirp, &slirp_timeout_ms, cb_add_poll, b);
	if (slirp_timeout_ms != UINT32_MAX)
		*timeout_ms = slirp_timeout_ms > INT_MAX ? INT_MAX : (int)slirp_timeout_ms;
	/* Sockets left out this round get their turn soon, not after a long sleep. */
	if (b->stats.pollfd_overflow != overflow_before)
		*timeout_ms = *timeout_ms < 0 || *timeout_ms > 10 ? 10 : *timeout_ms;

	now_ms = slirp_now_ns() / 1000000;
	for (t = b->timers; t; t = t->next) {
		if (t->expire_ms < 0)
			continue;
		delta_ms = t->expire_ms - now_ms;
		if (delta_ms < 0)
			delta_ms = 0;
		if (delta_ms > INT_MAX)
			delta_ms = INT_MAX;
		if (*timeout_ms < 0 || delta_ms < *timeout_ms)
			*timeout_ms = (int)delta_ms;
	}
	return b->pfds_used;
}

static void slirp_fire_timers(struct net_backend *b)
{
	struct slirp_timer *t;
	int64_t now_ms = slirp_now_ns() / 1000000;
	int fired;

	/* A callback may free or re-arm any timer: rescan from the head after each one. */
	for (fired = 0; fired < SLIRP_TIMER_FIRES_PER_DISPATCH; fired++) {
		for (t = b->timers; t; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now_ms)
				break;
		if (!t)
			return;
		t->expire_ms = -1;
		if (t->by_id)
			slirp_handle_timer(b->slirp, t->id, t->cb_opaque);
		else
			t->cb(t->cb_opaque);
	}
}

void net_backend_dispatch(struct net_backend *b, struct pollfd *pfds, int n)
{
	if (b->tap) {
		net_tap_dispatch(b->tap, pfds, n);
		return;
	}
	b->pfds = pfds;
	if (n < b->pfds_used)
		b->pfds_used = n < 0 ? 0 : n;
	slirp_pollfds_poll(b->slirp, 0, cb_get_revents, b);
	b->pfds = NULL;
	b->pfds_used = 0;
	slirp_fire_timers(b);
}

void net_backend_get_stats(const struct net_backend *b, struct net_backend_stats *st)
{
	*st = b->stats;
}

void net_backend_close(struct net_backend *b)
{
	struct slirp_timer *t;

	if (!b)
		return;
	net_tap_close(b->tap);
	if (b->slirp)
		slirp_cleanup(b->slirp);
	while ((t = b->timers)) {
		b->timers = t->next;
		free(t);
	}
	free(b);
}
