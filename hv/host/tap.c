/* SPDX-License-Identifier: MIT */
/*
 * TAP backend: Ethernet frames to and from a Linux tap interface via /dev/net/tun.
 * "tap:NAME" attaches to an interface that exists (TUNSETIFF would otherwise
 * create a new one, connected to nothing); "tap:NAME,create" may create it.
 */
#include "hv/host/net_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A flood must not starve the rest of the owner's loop: read at most this many per dispatch. */
#define TAP_READS_PER_DISPATCH 256

struct net_tap {
	int fd;
	char ifname[IFNAMSIZ];
	net_rx_fn rx;
	void *opaque;
	struct net_backend_stats *stats;
	int more_pending;	/* the read budget ran out with frames still queued */
	int dead_errno;		/* atomic: the interface went away: stop polling, refuse sends (any thread may send) */
	uint8_t buf[NET_FRAME_MAX_BYTES];
};

int net_tap_open(const char *spec, net_rx_fn rx, void *opaque, struct net_backend_stats *stats,
		 struct net_tap **out, char *err, size_t err_len)
{
	char ifname[64];
	bool create = false;
	struct net_tap *t;
	struct ifreq ifr;
	int ret;

	*out = NULL;
	snprintf(ifname, sizeof(ifname), "%s", spec ? spec : "");
	char *comma = strchr(ifname, ',');
	if (comma) {
		if (strcmp(comma + 1, "create")) {
			snprintf(err, err_len, "tap:%s: unknown option '%s' (expected tap:IFNAME or tap:IFNAME,create)",
				 spec, comma + 1);
			return -EINVAL;
		}
		create = true;
		*comma = '\0';
	}
	if (!*ifname) {
		snprintf(err, err_len, "tap: missing interface name (expected tap:IFNAME)");
		return -EINVAL;
	}
	if (strlen(ifname) >= IFNAMSIZ || strlen(spec) >= sizeof(ifname)) {
		snprintf(err, err_len, "tap:%s: interface name longer than %d characters", ifname,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (!create && if_nametoindex(ifname) == 0) {
		snprintf(err, err_len, "tap:%s: no such interface here: create it first ('ip tuntap add dev %s "
			 "mode tap user USER', then 'ip link set %s up' and connect it to a bridge or give it an "
			 "address), or ask ftvm to create an unconnected one with tap:%s,create", ifname, ifname,
			 ifname, ifname);
		return -ENODEV;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_len, "tap:%s: out of memory", ifname);
		return -ENOMEM;
	}
	t->rx = rx;
	t->opaque = opaque;
	t->stats = stats;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "tap:%s: cannot open /dev/net/tun: %s", ifname, strerror(errno));
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, t->ifname, sizeof(ifr.ifr_name));
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		snprintf(err, err_len, "tap:%s: cannot attach to the interface (TUNSETIFF): %s%s", ifname,
			 strerror(errno),
			 errno == EPERM ? " (needs CAP_NET_ADMIN, or an interface created with "
					  "'ip tuntap add mode tap user ...')"
			 : errno == EBUSY ? " (in use by another process, or not a tap device)" : "");
		goto out;
	}
	*out = t;
	return 0;
out:
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return ret;
}

int net_tap_send(struct net_tap *t, const uint8_t *frame, size_t len)
{
	ssize_t n;

	if (len < NET_FRAME_MIN_BYTES || len > NET_FRAME_MAX_BYTES) {
		t->stats->tx_dropped++;
		return -EINVAL;
	}
	int dead = __atomic_load_n(&t->dead_errno, __ATOMIC_RELAXED);
	if (dead) {
		t->stats->tx_dropped++;
		return -dead;
	}
	do {
		n = write(t->fd, frame, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		t->stats->tx_dropped++;
		/* A full queue is a busy wire: drop like one, the guest's protocols retransmit. */
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
	t->stats->tx_frames++;
	return 0;
}

int net_tap_pollfds(struct net_tap *t, struct pollfd *pfds, int max, int *timeout_ms)
{
	if (t->dead_errno)
		return 0;
	if (t->more_pending)
		*timeout_ms = 0;
	if (max < 1) {
		t->stats->pollfd_overflow++;
		return 0;
	}
	pfds[0].fd = t->fd;
	pfds[0].events = POLLIN;
	pfds[0].revents = 0;
	return 1;
}

void net_tap_dispatch(struct net_tap *t, struct pollfd *pfds, int n)
{
	int i;
	ssize_t len;

	if (!t->more_pending && (n < 1 || pfds[0].fd != t->fd || !pfds[0].revents))
		return;
	t->more_pending = 0;
	/* Without this an unregistered interface would report POLLERR on every round: a busy loop. */
	if (n >= 1 && pfds[0].fd == t->fd && (pfds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
	    !(pfds[0].revents & POLLIN)) {
		__atomic_store_n(&t->dead_errno, EIO, __ATOMIC_RELAXED);
		return;
	}
	for (i = 0; i < TAP_READS_PER_DISPATCH; i++) {
		len = read(t->fd, t->buf, sizeof(t->buf));
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return;	/* EAGAIN: drained; EIO etc.: the interface is down, poll reports it again */
		}
		if (len < NET_FRAME_MIN_BYTES) {
			t->stats->rx_dropped++;
			continue;
		}
		t->stats->rx_frames++;
		t->rx(t->opaque, t->buf, (size_t)len);
	}
	t->more_pending = 1;
}

void net_tap_close(struct net_tap *t)
{
	if (!t)
		return;
	close(t->fd);
	free(t);
}
