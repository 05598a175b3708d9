/* SPDX-License-Identifier: MIT */
/* Tests the host network backends: slirp ARP, DHCP, hostfwd and bad specs; TAP in a private netns. */
#include "hv/host/net_backend.h"
#include "hv/tests/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CAP_FRAMES 64
#define WAIT_MS 2000

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct capture {
	int n;
	size_t len[CAP_FRAMES];
	uint8_t frame[CAP_FRAMES][1600];
	uint64_t total;
};

static void rx_capture(void *opaque, const uint8_t *frame, size_t len)
{
	struct capture *c = opaque;

	c->total++;
	if (c->n == CAP_FRAMES)
		return;
	if (len > sizeof(c->frame[0]))
		len = sizeof(c->frame[0]);
	memcpy(c->frame[c->n], frame, len);
	c->len[c->n++] = len;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void eth_header(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	wr16(f + 12, type);
}

/* RFC 826 request "who has tpa, tell spa" from guest_mac; padded to the Ethernet minimum. */
static size_t make_arp_request(uint8_t *f, const uint8_t *sha, const char *spa, const char *tpa)
{
	memset(f, 0, 60);
	eth_header(f, bcast_mac, 0x0806);
	memcpy(f + 6, sha, 6);
	wr16(f + 14, 1);
	wr16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	wr16(f + 20, 1);
	memcpy(f + 22, sha, 6);
	inet_pton(AF_INET, spa, f + 28);
	inet_pton(AF_INET, tpa, f + 38);
	return 60;
}

static size_t make_arp_reply(uint8_t *f, const uint8_t *request)
{
	memset(f, 0, 60);
	eth_header(f, request + 22, 0x0806);
	wr16(f + 14, 1);
	wr16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	wr16(f + 20, 2);
	memcpy(f + 22, guest_mac, 6);
	memcpy(f + 28, request + 38, 4);
	memcpy(f + 32, request + 22, 10);
	return 60;
}

static bool is_arp_reply(const uint8_t *f, size_t len, const char *from_ip, const uint8_t *to_mac)
{
	uint8_t ip[4];

	inet_pton(AF_INET, from_ip, ip);
	return len >= 42 && rd16(f + 12) == 0x0806 && rd16(f + 20) == 2 && !memcmp(f + 28, ip, 4) &&
	       !memcmp(f + 32, to_mac, 6) && !memcmp(f, to_mac, 6);
}

/* RFC 2131 DHCPDISCOVER, BOOTP area padded to 548 bytes (the 576-byte minimum datagram). */
static size_t make_dhcp_discover(uint8_t *f, uint32_t xid)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *bp = udp + 8;
	const size_t bp_len = 236 + 312;
	size_t ip_len = 20 + 8 + bp_len;

	memset(f, 0, 14 + ip_len);
	eth_header(f, bcast_mac, 0x0800);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)ip_len);
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	wr16(ip + 10, ip_checksum(ip, 20));
	wr16(udp, 68);
	wr16(udp + 2, 67);
	wr16(udp + 4, (uint16_t)(8 + bp_len));
	bp[0] = 1;
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 4, &xid, 4);
	memcpy(bp + 28, guest_mac, 6);
	bp[236] = 99, bp[237] = 130, bp[238] = 83, bp[239] = 99;
	bp[240] = 53, bp[241] = 1, bp[242] = 1;	/* DHCP message type: DISCOVER */
	bp[243] = 255;
	return 14 + ip_len;
}

static const uint8_t *udp_payload(const uint8_t *f, size_t len, uint16_t dport, size_t *plen)
{
	const uint8_t *ip = f + 14;
	size_t ihl;

	if (len < 14 + 20 + 8 || rd16(f + 12) != 0x0800 || ip[9] != 17)
		return NULL;
	ihl = (ip[0] & 15) * 4u;
	if (len < 14 + ihl + 8 || rd16(ip + ihl + 2) != dport)
		return NULL;
	*plen = len - 14 - ihl - 8;
	return ip + ihl + 8;
}

/* A DHCPOFFER for xid offering 10.0.2.15. */
static bool is_dhcp_offer(const uint8_t *f, size_t len, uint32_t xid)
{
	const uint8_t *bp;
	uint8_t want[4];
	size_t n, i;

	bp = udp_payload(f, len, 68, &n);
	if (!bp || n < 240 || bp[0] != 2 || memcmp(bp + 4, &xid, 4))
		return false;
	inet_pton(AF_INET, "10.0.2.15", want);
	if (memcmp(bp + 16, want, 4))
		return false;
	for (i = 240; i + 2 < n && bp[i] != 255; i += bp[i] == 0 ? 1 : 2u + bp[i + 1])
		if (bp[i] == 53 && bp[i + 1] == 1)
			return bp[i + 2] == 2;
	return false;
}

static bool is_tcp_syn_to(const uint8_t *f, size_t len, const char *dst, uint16_t dport)
{
	const uint8_t *ip = f + 14, *tcp;
	uint8_t want[4];
	size_t ihl;

	if (len < 14 + 20 + 20 || rd16(f + 12) != 0x0800 || ip[9] != 6)
		return false;
	inet_pton(AF_INET, dst, want);
	ihl = (ip[0] & 15) * 4u;
	tcp = ip + ihl;
	return len >= 14 + ihl + 20 && !memcmp(ip + 16, want, 4) && rd16(tcp + 2) == dport &&
	       (tcp[13] & 0x12) == 0x02;
}

enum want { WANT_ARP_REPLY, WANT_DHCP_OFFER, WANT_SYN, WANT_TAP_ARP_REPLY };

static bool frame_matches(enum want w, const uint8_t *f, size_t len, uint32_t xid)
{
	switch (w) {
	case WANT_ARP_REPLY:
		return is_arp_reply(f, len, "10.0.2.2", guest_mac);
	case WANT_DHCP_OFFER:
		return is_dhcp_offer(f, len, xid);
	case WANT_SYN:
		return is_tcp_syn_to(f, len, "10.0.2.15", 7000);
	case WANT_TAP_ARP_REPLY:
		return is_arp_reply(f, len, "192.168.77.1", guest_mac);
	}
	return false;
}

/*
 * Runs the owner's poll loop for at most timeout_ms until a wanted frame
 * arrives. Plays a minimal guest: answers ARP requests for 10.0.2.15, as
 * slirp asks before it forwards a connection to the guest.
 */
static bool pump_until(struct net_backend *b, struct capture *c, enum want w, uint32_t xid,
		       int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfds[64];
	uint8_t reply[60], me[4];
	int i, n, t;

	inet_pton(AF_INET, "10.0.2.15", me);
	while (now_ms() < deadline) {
		t = (int)(deadline - now_ms());
		if (t > 100)
			t = 100;
		n = net_backend_pollfds(b, pfds, 64, &t);
		if (t < 0 || t > 100)
			t = 100;
		if (poll(pfds, n, t) < 0 && errno != EINTR)
			return false;
		net_backend_dispatch(b, pfds, n);
		for (i = 0; i < c->n; i++) {
			if (frame_matches(w, c->frame[i], c->len[i], xid))
				return true;
			if (c->len[i] >= 42 && rd16(c->frame[i] + 12) == 0x0806 &&
			    rd16(c->frame[i] + 20) == 1 && !memcmp(c->frame[i] + 38, me, 4)) {
				make_arp_reply(reply, c->frame[i]);
				if (net_backend_send(b, reply, sizeof(reply)) < 0)
					return false;
			}
		}
		c->n = 0;
	}
	return false;
}

static void test_user_arp_dhcp(void)
{
	struct net_backend *b;
	struct capture *c = calloc(1, sizeof(*c));
	struct net_backend_stats st;
	uint8_t f[1600];
	char err[256];
	uint32_t xid = 0x4654564d;
	size_t len;
	int ret;

	ret = net_backend_open("user", rx_capture, c, &b, err, sizeof(err));
	CHECK(ret == 0, "open user: %d %s", ret, err);
	if (ret)
		goto out;
	len = make_arp_request(f, guest_mac, "10.0.2.15", "10.0.2.2");
	CHECK(net_backend_send(b, f, len) == 0, "send ARP request");
	CHECK(pump_until(b, c, WANT_ARP_REPLY, 0, WAIT_MS), "no ARP reply from 10.0.2.2 within %d ms",
	      WAIT_MS);

	len = make_dhcp_discover(f, xid);
	CHECK(net_backend_send(b, f, len) == 0, "send DHCPDISCOVER");
	CHECK(pump_until(b, c, WANT_DHCP_OFFER, xid, WAIT_MS), "no DHCPOFFER of 10.0.2.15 within %d ms",
	      WAIT_MS);

	CHECK(net_backend_send(b, f, 10) == -EINVAL, "runt frame accepted");
	CHECK(net_backend_send(b, f, NET_FRAME_MAX_BYTES + 1) == -EINVAL, "oversized frame accepted");
	net_backend_get_stats(b, &st);
	CHECK(st.tx_frames == 2 && st.tx_dropped == 2 && st.rx_frames >= 2,
	      "stats tx %llu dropped %llu rx %llu", (unsigned long long)st.tx_frames,
	      (unsigned long long)st.tx_dropped, (unsigned long long)st.rx_frames);
	net_backend_close(b);
out:
	free(c);
}

/* A loopback port nobody listens on right now; fd keeps it bound and listening if keep. */
static int free_port(int *fd_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("free_port");
		exit(1);
	}
	port = ntohs(sa.sin_port);
	if (fd_out) {
		if (listen(fd, 1) < 0) {
			perror("listen");
			exit(1);
		}
		*fd_out = fd;
	} else {
		close(fd);
	}
	return port;
}

static void test_user_hostfwd(void)
{
	struct capture *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct net_backend *b;
	struct net_backend_stats st;
	struct pollfd pfds[1];
	char spec[128], err[256];
	int ret, fd, busy_fd, port, n, t = -1;

	port = free_port(NULL);
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp::%d-:7000", port);
	ret = net_backend_open(spec, rx_capture, c, &b, err, sizeof(err));
	CHECK(ret == 0, "open %s: %d %s", spec, ret, err);
	if (ret)
		goto busy;
	/* Too few pollfds: counted, and the owner is asked back soon. */
	n = net_backend_pollfds(b, pfds, 0, &t);
	net_backend_get_stats(b, &st);
	CHECK(n == 0 && t >= 0 && t <= 10 && st.pollfd_overflow == 1,
	      "pollfds with max 0: n %d timeout %d overflow %llu", n, t,
	      (unsigned long long)st.pollfd_overflow);
	net_backend_dispatch(b, pfds, 0);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	CHECK(ret == 0 || errno == EINPROGRESS, "connect 127.0.0.1:%d: %s", port, strerror(errno));
	CHECK(pump_until(b, c, WANT_SYN, 0, WAIT_MS), "no SYN to 10.0.2.15:7000 within %d ms after "
	      "connecting to 127.0.0.1:%d", WAIT_MS, port);
	close(fd);
	net_backend_close(b);

busy:
	port = free_port(&busy_fd);
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:127.0.0.1:%d-10.0.2.15:22", port);
	err[0] = '\0';
	ret = net_backend_open(spec, rx_capture, c, &b, err, sizeof(err));
	CHECK(ret < 0 && b == NULL, "hostfwd on a port in use was accepted");
	CHECK(strstr(err, "cannot listen") != NULL, "unclear error for a busy port: '%s'", err);
	printf("busy port: %s\n", err);
	close(busy_fd);
	free(c);
}

static void test_bad_specs(void)
{
	static const char *const bad[] = {
		"user,hostfwd=garbage", "bogus", "tap:", "", "user,", "user,hostfwd=tcp::99999-:22",
		"user,hostfwd=icmp::1-:2", "user,hostfwd=tcp::22", "user,hostfwd=tcp:1.2.3:80-:80",
		"user,hostfwd=tcp::8080-192.168.1.5:80", "user,restrict=on",
		"tap:this-name-is-much-too-long-for-linux",
	};
	struct capture c;
	struct net_backend *b;
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		b = (struct net_backend *)&c;
		ret = net_backend_open(bad[i], rx_capture, &c, &b, err, sizeof(err));
		CHECK(ret < 0, "bad spec '%s' accepted", bad[i]);
		CHECK(b == NULL, "bad spec '%s' left *out set", bad[i]);
		CHECK(strlen(err) > 10, "bad spec '%s': no message", bad[i]);
		printf("'%s' -> %s\n", bad[i], err);
		if (ret == 0)
			net_backend_close(b);
	}
}

static int set_if(int s, unsigned long req, const char *ifname, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sa = (struct sockaddr_in *)&ifr.ifr_addr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sa->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sa->sin_addr);
	return ioctl(s, req, &ifr);
}

/* Child, in a fresh network namespace: the kernel on the far side of the tap answers ARP. */
static int tap_child(void)
{
	struct capture *c = calloc(1, sizeof(*c));
	struct net_backend *b;
	struct ifreq ifr;
	uint8_t f[60];
	char err[256];
	int s, ret;

	alarm(10);
	if (unshare(CLONE_NEWNET) < 0) {
		printf("tap: skipped, cannot create a network namespace: %s\n", strerror(errno));
		return 77;
	}
	/* tap:NAME attaches only to an interface that exists; ,create may make one. */
	ret = net_backend_open("tap:ftvmtest0", rx_capture, c, &b, err, sizeof(err));
	if (ret != -ENODEV || !strstr(err, "no such interface")) {
		fprintf(stderr, "FAIL tap:ftvmtest0 before it exists: %d (%s)\n", ret, err);
		return 1;
	}
	ret = net_backend_open("tap:ftvmtest0,create", rx_capture, c, &b, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "FAIL open tap: %s\n", err);
		return 1;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "ftvmtest0");
	if (s < 0 || set_if(s, SIOCSIFADDR, "ftvmtest0", "192.168.77.1") < 0 ||
	    set_if(s, SIOCSIFNETMASK, "ftvmtest0", "255.255.255.0") < 0 ||
	    ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		fprintf(stderr, "FAIL configure ftvmtest0: %s\n", strerror(errno));
		return 1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		fprintf(stderr, "FAIL bring ftvmtest0 up: %s\n", strerror(errno));
		return 1;
	}
	make_arp_request(f, guest_mac, "192.168.77.2", "192.168.77.1");
	ret = net_backend_send(b, f, sizeof(f));
	if (ret < 0) {
		fprintf(stderr, "FAIL send on tap: %s\n", strerror(-ret));
		return 1;
	}
	if (!pump_until(b, c, WANT_TAP_ARP_REPLY, 0, WAIT_MS)) {
		fprintf(stderr, "FAIL no ARP reply from 192.168.77.1 on the tap within %d ms\n", WAIT_MS);
		return 1;
	}
	/* The interface disappearing must not leave the owner's loop spinning on POLLERR. */
	if (system("ip link del ftvmtest0 2>/dev/null") == 0) {
		struct pollfd pfds[4];
		int t = 100, n;

		n = net_backend_pollfds(b, pfds, 4, &t);
		if (n == 1 && poll(pfds, 1, 100) == 1)
			net_backend_dispatch(b, pfds, n);
		n = net_backend_pollfds(b, pfds, 4, &t);
		ret = net_backend_send(b, f, sizeof(f));
		if (n != 0 || ret != -EIO) {
			fprintf(stderr, "FAIL after deleting the interface: %d pollfds, send %d\n", n, ret);
			return 1;
		}
	}
	net_backend_close(b);
	printf("tap: ARP reply received through ftvmtest0\n");
	return 0;
}

static bool test_tap(void)
{
	struct stat stt;
	pid_t pid;
	int status;

	if (geteuid() != 0 || stat("/dev/net/tun", &stt) < 0) {
		printf("tap: skipped, needs root and /dev/net/tun\n");
		return false;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		status = tap_child();
		fflush(stdout);
		_exit(status);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		perror("fork/waitpid");
		check_failures++;
		return true;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return false;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tap child failed (status 0x%x)", status);
	return true;
}

int main(void)
{
	bool tap_ran;

	alarm(30);
	test_bad_specs();
	test_user_arp_dhcp();
	test_user_hostfwd();
	tap_ran = test_tap();
	if (!tap_ran)
		printf("test_net_backend: tap part skipped, see above\n");
	return check_done("test_net_backend");
}
