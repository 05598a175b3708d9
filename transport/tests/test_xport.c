/* SPDX-License-Identifier: MIT */
/* Channel tests over real TLS on loopback: handshake refusals, bad peers, 100 link kills, credit, dead peers. */
#include "hv/tests/check.h"
#include "transport/certs.h"
#include "transport/log.h"
#include "transport/xport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* For a failure the rest of the test depends on: report what failed so far and end. */
static void __attribute__((noreturn)) stop(void)
{
	exit(check_done("test_xport"));
}

static struct xport_loop *loop;
static char dir[64], other_ca[80], expired[80];
static char logbuf[1 << 16];
static size_t loglen;

static void log_capture(enum log_level level, const char *line, void *arg)
{
	size_t n = strlen(line);

	if (loglen + n + 2 >= sizeof(logbuf))
		loglen = 0;
	memcpy(logbuf + loglen, line, n);
	logbuf[loglen + n] = '\n';
	loglen += n + 1;
	logbuf[loglen] = '\0';
}

static void log_mark(void)
{
	loglen = 0;
	logbuf[0] = '\0';
}

static bool log_saw(const char *s)
{
	return strstr(logbuf, s) != NULL;
}

struct side {
	struct xport *x;
	uint64_t received, acked, bytes;
	uint64_t epoch_heard;
	bool up, bad;
};

static void pattern(uint8_t *p, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 7 + i * 13 + (i >> 8));
}

static size_t chunk_len(uint64_t seq)
{
	return 100 + (size_t)(seq * 977 % 3000);
}

static void on_chunk(void *arg, uint64_t seq, uint64_t first_step, const uint8_t *payload, size_t len)
{
	struct side *s = arg;
	uint8_t want[4096];

	if (seq != s->received + 1 || len != chunk_len(seq) || first_step != seq * 10) {
		fprintf(stderr, "chunk %" PRIu64 " (len %zu) after %" PRIu64 "\n", seq, len, s->received);
		s->bad = true;
	} else {
		pattern(want, len, seq);
		if (memcmp(want, payload, len))
			s->bad = true;
	}
	s->received = seq;
	s->bytes += len;
}

static void on_ack(void *arg, uint64_t acked, uint64_t steps)
{
	((struct side *)arg)->acked = acked;
}

static void on_link(void *arg, bool up)
{
	((struct side *)arg)->up = up;
}

static void on_epoch(void *arg, uint64_t epoch)
{
	((struct side *)arg)->epoch_heard = epoch;
}

static struct xport_config config(enum xport_mode mode, const char *certdir, const char *me, const char *peer, int port)
{
	static char files[8][3][128];
	static int next;
	static char ports[8][16];
	int i = next++ % 8;

	snprintf(files[i][0], 128, "%s/%s.crt", certdir, me);
	snprintf(files[i][1], 128, "%s/%s.key", certdir, me);
	snprintf(files[i][2], 128, "%s/ca.crt", certdir);
	snprintf(ports[i], 16, "%d", port);
	return (struct xport_config){
		.mode = mode,
		.role = mode == XPORT_LISTEN ? XPORT_ROLE_BACKUP : XPORT_ROLE_PRIMARY,
		.host = "127.0.0.1",
		.port = ports[i],
		.cert_file = files[i][0],
		.key_file = files[i][1],
		.ca_file = files[i][2],
		.peer_name = peer,
		.vm_id = "vm-test",
		.epoch = 7,
		.heartbeat_ms = 100,
		.dead_ms = 1000,
		.reconnect_ms = 5,
		.window_chunks = 64,
		.credit_chunks = 32,
		.credit_bytes = 1 << 20,
		.auto_credit = true,
	};
}

static bool pump_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	uint64_t end = xport_now_ms() + (uint64_t)timeout_ms;

	while (!cond(arg)) {
		if (xport_now_ms() > end)
			return false;
		if (xport_loop_run_once(loop, 5) < 0) {
			CHECK(0, "event loop");
			stop();
		}
	}
	return true;
}

static void pump_ms(int ms)
{
	uint64_t end = xport_now_ms() + (uint64_t)ms;

	while (xport_now_ms() < end)
		(void)xport_loop_run_once(loop, 5);
}

static bool both_up(void *arg)
{
	struct side **s = arg;

	return s[0]->up && s[1]->up;
}

static uint64_t failures(struct xport *x)
{
	struct xport_stats st;

	xport_get_stats(x, &st);
	return st.handshake_failures;
}

static uint64_t proto_errors(struct xport *x)
{
	struct xport_stats st;

	xport_get_stats(x, &st);
	return st.protocol_errors;
}

struct wait_count {
	struct xport *x;
	uint64_t (*get)(struct xport *);
	uint64_t above;
};

static bool count_above(void *arg)
{
	struct wait_count *w = arg;

	return w->get(w->x) > w->above;
}

static uint64_t send_upto(struct xport *x, uint64_t next, uint64_t last)
{
	uint8_t buf[4096];

	while (next <= last) {
		size_t len = chunk_len(next);
		uint64_t seq;

		pattern(buf, len, next);
		if (xport_send_chunk(x, next * 10, buf, len, &seq))
			break;
		CHECK(seq == next, "in %s", __func__);
		next++;
	}
	return next;
}

/* A client with the given credentials must be refused by srv, which logs why and keeps serving. */
static void expect_refused(struct xport *srv, int port, const char *certdir, const char *me, const char *peer,
			   const char *why)
{
	struct xport_config cfg = config(XPORT_CONNECT, certdir, me, peer, port);
	struct side cs = { 0 };
	struct xport_callbacks cb = { .on_link = on_link, .arg = &cs };
	struct wait_count w = { srv, failures, failures(srv) };
	struct xport *c;

	log_mark();
	CHECK(xport_new(loop, &cfg, &cb, &c) == 0, "in %s", __func__);
	if (!pump_until(count_above, &w, 3000)) {
		CHECK(0, "%s: server did not refuse (log: %s)", why, logbuf);
		stop();
	}
	pump_ms(20);
	CHECK(!cs.up, "in %s", __func__);
	xport_free(c);
	printf("  refused %s:\n%s", why, logbuf);
}

static int connect_plain(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0, "in %s", __func__);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "in %s", __func__);
	return fd;
}

static void test_handshakes(void)
{
	struct side ss = { 0 }, cs = { 0 };
	struct side *pair[2] = { &ss, &cs };
	struct xport_callbacks scb = { .on_chunk = on_chunk, .on_link = on_link, .arg = &ss };
	struct xport_callbacks ccb = { .on_ack = on_ack, .on_link = on_link, .arg = &cs };
	struct xport_config scfg = config(XPORT_LISTEN, dir, "a", "b", 0), ccfg;
	struct xport *srv, *cli;
	int port, fd;

	scfg.host = "127.0.0.1";
	scfg.have_items = 42;		/* a receiver restarted on its own log (Hello 1.1) */
	scfg.have_crc32c = 0xdeadbeef;
	scfg.have_from_item = 37;	/* its CRC covers items 37..41 (a trimmed log) */
	scfg.capabilities = XPORT_CAP_CHECKPOINT | XPORT_CAP_TRIMMED;	/* a receiver that takes a checkpoint first */
	CHECK(xport_new(loop, &scfg, &scb, &srv) == 0, "in %s", __func__);
	port = xport_local_port(srv);
	CHECK(port > 0, "in %s", __func__);

	expect_refused(srv, port, other_ca, "b", "a", "certificate from another CA");
	CHECK(log_saw("refused"), "in %s", __func__);
	expect_refused(srv, port, expired, "b", "a", "expired certificate");
	CHECK(log_saw("expired"), "in %s", __func__);
	expect_refused(srv, port, dir, "c", "a", "wrong client name");
	CHECK(log_saw("hostname mismatch"), "in %s", __func__);
	{
		/* The client pins a name the server does not carry: the client refuses, the server sees a failed handshake. */
		struct xport_config cfg = config(XPORT_CONNECT, dir, "b", "z", port);
		struct xport_callbacks cb = { .on_link = on_link, .arg = &cs };
		struct xport *c;

		log_mark();
		CHECK(xport_new(loop, &cfg, &cb, &c) == 0, "in %s", __func__);
		pump_ms(300);
		CHECK(!cs.up, "in %s", __func__);
		CHECK(log_saw("hostname mismatch"), "in %s", __func__);
		xport_free(c);
		printf("  refused server name mismatch:\n%s", logbuf);
	}
	{
		struct wait_count w = { srv, failures, failures(srv) };
		static const char req[] = "GET / HTTP/1.0\r\n\r\n";

		log_mark();
		fd = connect_plain(port);
		CHECK(write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1, "in %s", __func__);
		if (!pump_until(count_above, &w, 3000)) {
			CHECK(0, "plain TCP peer not refused");
			stop();
		}
		CHECK(log_saw("TLS handshake failed"), "in %s", __func__);
		printf("  refused plain TCP:\n%s", logbuf);
		close(fd);
	}
	{
		/* A silent TCP peer is dropped by the handshake timeout. */
		struct wait_count w = { srv, failures, failures(srv) };

		log_mark();
		fd = connect_plain(port);
		if (!pump_until(count_above, &w, 3000)) {
			CHECK(0, "silent TCP peer not dropped");
			stop();
		}
		CHECK(log_saw("timed out"), "in %s", __func__);
		close(fd);
	}

	ccfg = config(XPORT_CONNECT, dir, "b", "a", port);
	CHECK(xport_new(loop, &ccfg, &ccb, &cli) == 0, "in %s", __func__);
	if (!pump_until(both_up, pair, 3000)) {
		CHECK(0, "good client did not connect after the refusals");
		stop();
	}
	{
		uint64_t items = 0, sitems = 1, from = 0, sfrom = 1;
		uint32_t crc = 0, scrc = 1;

		xport_peer_log(cli, &items, &crc, &from);
		xport_peer_log(srv, &sitems, &scrc, &sfrom);
		CHECK(items == 42 && crc == 0xdeadbeef && from == 37, "sender heard %llu items from %llu, crc %08x",
		      (unsigned long long)items, (unsigned long long)from, crc);
		CHECK(sfrom == 0, "receiver heard its CRC starts at item %llu", (unsigned long long)sfrom);
		CHECK(sitems == 0 && scrc == 0, "receiver heard %llu items from a sender that holds none",
		      (unsigned long long)sitems);
		CHECK(xport_peer_capabilities(cli) == (XPORT_CAP_CHECKPOINT | XPORT_CAP_TRIMMED) &&
		      xport_peer_capabilities(srv) == 0,
		      "capabilities: the sender heard %#llx, the receiver %#llx",
		      (unsigned long long)xport_peer_capabilities(cli), (unsigned long long)xport_peer_capabilities(srv));
	}
	CHECK(send_upto(cli, 1, 20) == 21, "in %s", __func__);
	{
		uint64_t end = xport_now_ms() + 3000;

		while (cs.acked < 20 && xport_now_ms() < end)
			(void)xport_loop_run_once(loop, 5);
	}
	CHECK(cs.acked == 20 && ss.received == 20 && !ss.bad, "in %s", __func__);
	xport_free(cli);
	pump_ms(50);
	CHECK(log_saw("goodbye") || !ss.up, "in %s", __func__);
	xport_free(srv);
	printf("ok handshakes\n");
}

/* A raw TLS client with valid credentials, driven by pumping the loop. */
static SSL *raw_tls_connect(SSL_CTX *ctx, int port, int *fdp)
{
	int fd = connect_plain(port);
	SSL *ssl = SSL_new(ctx);
	uint64_t end = xport_now_ms() + 3000;

	CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0, "in %s", __func__);
	SSL_set_fd(ssl, fd);
	SSL_set1_host(ssl, "a");
	for (;;) {
		int r = SSL_connect(ssl);

		if (r == 1)
			break;
		r = SSL_get_error(ssl, r);
		if ((r != SSL_ERROR_WANT_READ && r != SSL_ERROR_WANT_WRITE) || xport_now_ms() > end) {
			CHECK(0, "raw TLS connect: %d", r);
			stop();
		}
		(void)xport_loop_run_once(loop, 1);
	}
	*fdp = fd;
	return ssl;
}

static void raw_write(SSL *ssl, const void *p, size_t n)
{
	uint64_t end = xport_now_ms() + 3000;

	while (n) {
		int r = SSL_write(ssl, p, (int)n);

		if (r > 0) {
			p = (const uint8_t *)p + r;
			n -= (size_t)r;
			continue;
		}
		if (xport_now_ms() > end) {
			CHECK(0, "raw write");
			stop();
		}
		(void)xport_loop_run_once(loop, 1);
	}
}

static void test_bad_peers(void)
{
	static const uint8_t garbage[] = { 0, 0, 0, 16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t oversized[] = { 0x01, 0x00, 0x00, 0x00, 1, 2, 3 };
	static const uint8_t truncated[] = { 0, 0, 0, 100, 8, 7, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t unknown[] = { 0, 0, 0, 4, 0x08, 0x07, 0x48, 0x01 };
	/* Envelope{epoch 99, progress{step 1}} */
	static const uint8_t wrong_epoch[] = { 0, 0, 0, 6, 0x08, 99, 0x2a, 0x02, 0x08, 0x01 };
	static const struct {
		const char *name;
		const uint8_t *bytes;
		size_t len;
		bool close_after;
		const char *log;
	} cases[] = {
		{ "garbage", garbage, sizeof(garbage), false, "undecodable frame" },
		{ "oversized frame", oversized, sizeof(oversized), false, "oversized frame length 16777216" },
		{ "truncated frame", truncated, sizeof(truncated), true, "truncated frame" },
		{ "unknown message type", unknown, sizeof(unknown), false, "unknown message type (field 9)" },
		{ "wrong epoch", wrong_epoch, sizeof(wrong_epoch), false, "wrong epoch 99" },
	};
	struct side ss = { 0 }, cs = { 0 };
	struct side *pair[2] = { &ss, &cs };
	struct xport_callbacks scb = { .on_chunk = on_chunk, .on_link = on_link, .arg = &ss };
	struct xport_callbacks ccb = { .on_ack = on_ack, .on_link = on_link, .arg = &cs };
	struct xport_config scfg = config(XPORT_LISTEN, dir, "a", "b", 0), ccfg;
	struct xport *srv, *cli;
	SSL_CTX *ctx;
	char path[128];
	uint64_t next = 1;
	int port;

	CHECK(xport_new(loop, &scfg, &scb, &srv) == 0, "in %s", __func__);
	port = xport_local_port(srv);
	ccfg = config(XPORT_CONNECT, dir, "b", "a", port);
	CHECK(xport_new(loop, &ccfg, &ccb, &cli) == 0, "in %s", __func__);
	if (!pump_until(both_up, pair, 3000)) {
		CHECK(0, "good session did not come up");
		stop();
	}

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	snprintf(path, sizeof(path), "%s/b.crt", dir);
	CHECK(SSL_CTX_use_certificate_file(ctx, path, SSL_FILETYPE_PEM) == 1, "in %s", __func__);
	snprintf(path, sizeof(path), "%s/b.key", dir);
	CHECK(SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) == 1, "in %s", __func__);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	CHECK(SSL_CTX_load_verify_locations(ctx, path, NULL) == 1, "in %s", __func__);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wait_count w = { srv, proto_errors, proto_errors(srv) };
		int fd;
		SSL *ssl;

		log_mark();
		ssl = raw_tls_connect(ctx, port, &fd);
		raw_write(ssl, cases[i].bytes, cases[i].len);
		if (cases[i].close_after)
			SSL_shutdown(ssl);
		if (!pump_until(count_above, &w, 3000)) {
			CHECK(0, "%s: peer not dropped (log: %s)", cases[i].name, logbuf);
			stop();
		}
		if (!log_saw(cases[i].log)) {
			CHECK(0, "%s: log does not say \"%s\": %s", cases[i].name, cases[i].log, logbuf);
			stop();
		}
		printf("  dropped %s: %s", cases[i].name, logbuf);
		SSL_free(ssl);
		close(fd);
		/* The good session is untouched and still moves data. */
		CHECK(ss.up && cs.up, "in %s", __func__);
		next = send_upto(cli, next, next + 4);
		{
			uint64_t end = xport_now_ms() + 3000;

			while (cs.acked + 1 < next && xport_now_ms() < end)
				(void)xport_loop_run_once(loop, 5);
		}
		CHECK(cs.acked + 1 == next && ss.received + 1 == next && !ss.bad, "in %s", __func__);
	}
	SSL_CTX_free(ctx);
	xport_free(cli);
	xport_free(srv);
	pump_ms(20);
	printf("ok bad peers\n");
}

/* A TCP relay on the same loop that the test cuts at random points. */
struct proxy {
	int lfd, a, b;          /* listener, client side, server side */
	int port, target;
	uint64_t relayed, cut_at;
	unsigned kills, max_kills;
	bool frozen;
	uint32_t rnd;
};

static void proxy_kill(struct proxy *p)
{
	struct linger lg = { 1, 0 };

	if (p->a < 0)
		return;
	setsockopt(p->a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	setsockopt(p->b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	xport_loop_del_fd(loop, p->a);
	xport_loop_del_fd(loop, p->b);
	close(p->a);
	close(p->b);
	p->a = p->b = -1;
}

static void proxy_data(struct xport_loop *l, int fd, unsigned events, void *arg)
{
	struct proxy *p = arg;
	uint8_t buf[65536];
	int to;
	ssize_t n, w;

	if (p->a < 0 || p->frozen)
		return;
	to = fd == p->a ? p->b : p->a;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		proxy_kill(p);
		return;
	}
	/* Sockets are blocking for writes: loopback with small bursts never stalls long. */
	for (ssize_t off = 0; off < n; off += w) {
		w = write(to, buf + off, (size_t)(n - off));
		if (w <= 0) {
			proxy_kill(p);
			return;
		}
	}
	p->relayed += (uint64_t)n;
	if (p->kills < p->max_kills && p->relayed >= p->cut_at) {
		proxy_kill(p);
		p->kills++;
	}
}

static void proxy_accept(struct xport_loop *l, int fd, unsigned events, void *arg)
{
	struct proxy *p = arg;
	int a = accept4(fd, NULL, NULL, SOCK_CLOEXEC), b, one = 1;

	if (a < 0)
		return;
	if (p->a >= 0 || p->frozen) {
		close(a);
		return;
	}
	b = connect_plain(p->target);
	setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(a, F_SETFL, O_NONBLOCK);
	fcntl(b, F_SETFL, O_NONBLOCK);
	p->a = a;
	p->b = b;
	p->rnd = p->rnd * 1103515245 + 12345;
	p->relayed = 0;
	p->cut_at = 1000 + (p->rnd >> 8) % 60000;
	CHECK(xport_loop_add_fd(loop, a, XPORT_EV_READ, proxy_data, p) == 0, "in %s", __func__);
	CHECK(xport_loop_add_fd(loop, b, XPORT_EV_READ, proxy_data, p) == 0, "in %s", __func__);
}

static void proxy_start(struct proxy *p, int target)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);

	*p = (struct proxy){ .a = -1, .b = -1, .target = target, .rnd = 12345 };
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(p->lfd, 8) == 0, "in %s", __func__);
	CHECK(getsockname(p->lfd, (struct sockaddr *)&sa, &sl) == 0, "in %s", __func__);
	p->port = ntohs(sa.sin_port);
	CHECK(xport_loop_add_fd(loop, p->lfd, XPORT_EV_READ, proxy_accept, p) == 0, "in %s", __func__);
}

static void proxy_stop(struct proxy *p)
{
	proxy_kill(p);
	xport_loop_del_fd(loop, p->lfd);
	close(p->lfd);
}

static void test_kill_restore(void)
{
	struct side ss = { 0 }, cs = { 0 };
	struct xport_callbacks scb = { .on_chunk = on_chunk, .on_link = on_link, .arg = &ss };
	struct xport_callbacks ccb = { .on_ack = on_ack, .on_link = on_link, .arg = &cs };
	struct xport_config scfg = config(XPORT_LISTEN, dir, "a", "b", 0), ccfg;
	struct xport_stats sst, cst;
	struct xport *srv, *cli;
	struct proxy px;
	uint64_t next = 1, start = xport_now_ms(), last = 0;

	CHECK(xport_new(loop, &scfg, &scb, &srv) == 0, "in %s", __func__);
	proxy_start(&px, xport_local_port(srv));
	px.max_kills = 100;
	ccfg = config(XPORT_CONNECT, dir, "b", "a", px.port);
	CHECK(xport_new(loop, &ccfg, &ccb, &cli) == 0, "in %s", __func__);
	log_set_verbose(0);
	while (px.kills < px.max_kills || cs.acked + 1 < next || next < 2000) {
		if (xport_now_ms() - start > 25000) {
			CHECK(0, "kill/restore: %u kills, %" PRIu64 " chunks acked of %" PRIu64 " after 25 s", px.kills,
			     cs.acked, next - 1);
			stop();
		}
		if (px.kills < px.max_kills || next < 2000)
			next = send_upto(cli, next, UINT64_MAX);
		(void)xport_loop_run_once(loop, 5);
		if (ss.bad) {
			CHECK(0, "receiver saw a gap, duplicate or corrupt chunk at %" PRIu64, ss.received);
			stop();
		}
		last = next - 1;
	}
	log_set_verbose(1);
	xport_get_stats(srv, &sst);
	xport_get_stats(cli, &cst);
	printf("  %u kills in %" PRIu64 " ms: %" PRIu64 " chunks delivered once each, %" PRIu64
	       " resent, %" PRIu64 " duplicates dropped, %" PRIu64 " sessions\n", px.kills, xport_now_ms() - start,
	       ss.received, cst.chunks_resent, sst.chunks_duplicate, sst.sessions);
	CHECK(ss.received == last && cs.acked == last && sst.chunks_received == last, "in %s", __func__);
	CHECK(sst.sessions >= 50, "in %s", __func__);
	xport_free(cli);
	xport_free(srv);
	proxy_stop(&px);
	pump_ms(20);
	printf("ok kill/restore\n");
}

static void test_credit_and_dead_peer(void)
{
	struct side ss = { 0 }, cs = { 0 };
	struct side *pair[2] = { &ss, &cs };
	struct xport_callbacks scb = { .on_chunk = on_chunk, .on_link = on_link, .arg = &ss };
	struct xport_callbacks ccb = { .on_ack = on_ack, .on_link = on_link, .arg = &cs };
	struct xport_config scfg = config(XPORT_LISTEN, dir, "a", "b", 0), ccfg;
	struct xport_stats st;
	struct xport *srv, *cli;
	struct proxy px;
	uint8_t buf[4096];
	uint64_t next;

	scfg.credit_chunks = 0;
	scfg.credit_bytes = 0;
	scfg.auto_credit = false;
	CHECK(xport_new(loop, &scfg, &scb, &srv) == 0, "in %s", __func__);
	proxy_start(&px, xport_local_port(srv));
	ccfg = config(XPORT_CONNECT, dir, "b", "a", px.port);
	ccfg.heartbeat_ms = 50;
	ccfg.dead_ms = 300;
	CHECK(xport_new(loop, &ccfg, &ccb, &cli) == 0, "in %s", __func__);
	if (!pump_until(both_up, pair, 3000)) {
		CHECK(0, "session did not come up");
		stop();
	}
	pattern(buf, chunk_len(1), 1);
	CHECK(xport_send_chunk(cli, 10, buf, chunk_len(1), NULL) == -ENOBUFS, "in %s", __func__);
	pump_ms(100);
	CHECK(ss.received == 0, "in %s", __func__);
	CHECK(xport_grant_credit(srv, 3, chunk_len(1) + chunk_len(2) + chunk_len(3)) == 0, "in %s", __func__);
	pump_ms(50);
	next = send_upto(cli, 1, 100);
	CHECK(next == 4, "in %s", __func__);
	CHECK(xport_send_chunk(cli, 40, buf, 10, NULL) == -ENOBUFS, "in %s", __func__);
	pump_ms(50);
	CHECK(ss.received == 3 && cs.acked == 3, "in %s", __func__);
	CHECK(send_upto(cli, next, 100) == 4, "in %s", __func__);
	xport_get_stats(cli, &st);
	CHECK(st.no_credit >= 3, "in %s", __func__);
	/* Byte credit binds as well: 5 chunks allowed but only ~2 fit in the bytes. */
	CHECK(xport_grant_credit(srv, 5, chunk_len(4) + chunk_len(5)) == 0, "in %s", __func__);
	pump_ms(50);
	next = send_upto(cli, 4, 100);
	CHECK(next == 6, "in %s", __func__);
	pump_ms(50);
	CHECK(ss.received == 5 && !ss.bad, "in %s", __func__);
	printf("ok credit\n");

	/* Freeze the relay: both ends must declare the peer dead, then resume through a new session. */
	log_mark();
	px.frozen = true;
	pump_ms(1300);
	xport_get_stats(cli, &st);
	CHECK(st.dead_peers >= 1 && log_saw("silent"), "in %s", __func__);
	CHECK(!cs.up, "in %s", __func__);
	proxy_kill(&px);
	px.frozen = false;
	CHECK(xport_grant_credit(srv, 10, 1 << 20) == 0, "in %s", __func__);
	if (!pump_until(both_up, pair, 3000)) {
		CHECK(0, "no new session after the dead peer");
		stop();
	}
	pump_ms(50);
	next = send_upto(cli, 6, 10);
	CHECK(next == 11, "in %s", __func__);
	pump_ms(100);
	CHECK(ss.received == 10 && cs.acked == 10 && !ss.bad, "in %s", __func__);
	xport_free(cli);
	xport_free(srv);
	proxy_stop(&px);
	pump_ms(20);
	printf("ok dead peer\n");
}

static bool heard_epoch(void *arg)
{
	return ((struct side *)arg)->epoch_heard != 0;
}

/* A peer of a newer epoch is refused, and the side it superseded learns the epoch. */
static void test_newer_epoch(void)
{
	struct side ss = { 0 }, cs = { 0 };
	struct xport_callbacks scb = { .on_link = on_link, .on_epoch = on_epoch, .arg = &ss };
	struct xport_callbacks ccb = { .on_link = on_link, .on_epoch = on_epoch, .arg = &cs };
	struct xport_config scfg = config(XPORT_LISTEN, dir, "a", "b", 0), ccfg;
	struct xport_stats st;
	struct xport *srv, *cli;

	CHECK(xport_new(loop, &scfg, &scb, &srv) == 0, "in %s", __func__);
	ccfg = config(XPORT_CONNECT, dir, "b", "a", xport_local_port(srv));
	ccfg.epoch = scfg.epoch + 2;
	CHECK(xport_new(loop, &ccfg, &ccb, &cli) == 0, "in %s", __func__);
	if (!pump_until(heard_epoch, &ss, 3000)) {
		CHECK(0, "the older side never heard of the newer epoch");
		stop();
	}
	pump_ms(50);
	CHECK(ss.epoch_heard == ccfg.epoch && !ss.up && !cs.up, "in %s", __func__);
	/* The newer side is told nothing: an older epoch is only refused. */
	CHECK(cs.epoch_heard == 0, "in %s", __func__);
	xport_get_stats(srv, &st);
	CHECK(st.peer_epoch_seen == ccfg.epoch && st.sessions == 0, "in %s", __func__);
	xport_free(cli);
	xport_free(srv);
	pump_ms(20);
	printf("ok newer epoch: heard %" PRIu64 " (ours %" PRIu64 ")\n", ss.epoch_heard, scfg.epoch);
}

/*
 * A byte window a few chunks wide, so that the payload ring wraps hundreds of
 * times, while the listener drops the link now and then: every chunk arrives
 * once and intact, the resent ones read back from the ring.
 */
static void test_window_ring_and_listener_drop(void)
{
	struct side ss = { 0 }, cs = { 0 };
	struct side *pair[2] = { &ss, &cs };
	struct xport_callbacks scb = { .on_chunk = on_chunk, .on_link = on_link, .arg = &ss };
	struct xport_callbacks ccb = { .on_ack = on_ack, .on_link = on_link, .arg = &cs };
	struct xport_config scfg = config(XPORT_LISTEN, dir, "a", "b", 0), ccfg;
	const uint64_t total = 3000;
	uint64_t next = 1, end = xport_now_ms() + 20000;
	struct xport_stats st;
	struct xport *srv, *cli;
	unsigned drops = 0;
	uint8_t buf[4096];

	CHECK(xport_new(loop, &scfg, &scb, &srv) == 0, "in %s", __func__);
	ccfg = config(XPORT_CONNECT, dir, "b", "a", xport_local_port(srv));
	ccfg.window_bytes = 9000;
	CHECK(xport_new(loop, &ccfg, &ccb, &cli) == 0, "in %s", __func__);
	if (!pump_until(both_up, pair, 3000)) {
		CHECK(0, "session did not come up");
		stop();
	}
	while (ss.received < total && xport_now_ms() < end) {
		uint64_t first = next;
		int r = 0;

		while (next <= total && r == 0) {
			uint64_t seq;

			pattern(buf, chunk_len(next), next);
			r = xport_send_chunk(cli, next * 10, buf, chunk_len(next), &seq);
			CHECK(r == 0 || r == -ENOBUFS, "in %s", __func__);
			if (r == 0) {
				CHECK(seq == next, "in %s", __func__);
				next++;
			}
		}
		CHECK(xport_unacked(cli) <= 9000 / 100, "in %s", __func__);
		/* Right after sending, so that chunks are in flight and must be sent again. */
		if (next > first && ss.received >= (drops + 1) * 700u && drops < 3) {
			xport_drop_link(srv, "test: the listener drops the link");
			CHECK(!ss.up, "in %s", __func__);
			drops++;
		}
		(void)xport_loop_run_once(loop, 5);
	}
	CHECK(ss.received == total && !ss.bad && drops == 3, "in %s", __func__);
	xport_get_stats(srv, &st);
	CHECK(st.sessions == 4 && st.chunks_duplicate == 0, "in %s", __func__);
	xport_get_stats(cli, &st);
	CHECK(st.chunks_resent > 0, "in %s", __func__);
	printf("ok window ring: %" PRIu64 " chunks through a 9000-byte window, %" PRIu64 " resent after %u listener drops\n",
	       total, st.chunks_resent, drops);
	xport_free(cli);
	xport_free(srv);
	pump_ms(20);
}

int main(void)
{
	const char *hosts[] = { "a", "b", "c" };
	const char *b_only[] = { "b" };
	char cmd[256];

	log_init("test_xport", 1, false);
	log_set_hook(log_capture, NULL);
	snprintf(dir, sizeof(dir), "/tmp/ftvm-xport-test.XXXXXX");
	CHECK(mkdtemp(dir), "in %s", __func__);
	snprintf(other_ca, sizeof(other_ca), "%s/other", dir);
	snprintf(expired, sizeof(expired), "%s/expired", dir);
	CHECK(xport_certs_init(dir, hosts, 3) == 0, "in %s", __func__);
	CHECK(xport_certs_init(other_ca, b_only, 1) == 0, "in %s", __func__);
	CHECK(mkdir(expired, 0700) == 0, "in %s", __func__);
	snprintf(cmd, sizeof(cmd), "cp %s/ca.crt %s/ca.crt", dir, expired);
	CHECK(system(cmd) == 0, "in %s", __func__);
	CHECK(xport_certs_issue(expired, "b", dir, -2 * 86400, -86400) == 0, "in %s", __func__);
	CHECK(xport_loop_new(&loop) == 0, "in %s", __func__);

	test_handshakes();
	test_bad_peers();
	test_credit_and_dead_peer();
	test_kill_restore();
	test_newer_epoch();
	test_window_ring_and_listener_drop();

	xport_loop_free(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "in %s", __func__);
	return check_done("test_xport");
}
