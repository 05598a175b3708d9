/* SPDX-License-Identifier: MIT */
/* One connection: TCP dial and accept, the non-blocking TLS state machine on the event loop, reads and writes. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "transport/log.h"

/* Connections a listener holds at once (mostly handshakes); more are refused at accept. */
#define XPORT_MAX_CONNS 64
/* Sealed bytes waiting for the socket above which nothing more is encrypted. */
#define XPORT_OUT_HIGH (512u << 10)
/* Payload received since the last Ack above which an Ack goes out in the middle of a read. */
#define XPORT_ACK_BYTES (256u << 10)

void xport_conn_update_events(struct xport_conn *c)
{
	unsigned ev = XPORT_EV_READ;

	if (c->x->detached || c->state == CONN_CLOSED)
		return;
	if (c->state == CONN_TCP_CONNECTING)
		ev = XPORT_EV_WRITE;
	else if (c->want_write || xport_conn_queued(c))
		ev |= XPORT_EV_WRITE;
	if (xport_loop_set_events(c->x->loop, c->fd, ev) < 0)
		log_warnx("transport: cannot re-arm %s", c->peer);
}

void xport_conn_close(struct xport_conn *c, enum xport_close_kind kind, const char *fmt, ...)
{
	struct xport *x = c->x;
	bool was_active = x->active == c;
	char why[256];
	va_list ap;

	if (c->state == CONN_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (kind == XPORT_CLOSE_PROTOCOL) {
		x->st.protocol_errors++;
		log_warnx("transport: peer %s dropped: %s", c->peer, why);
	} else if (c->state != CONN_READY && kind == XPORT_CLOSE_QUIET) {
		log_info("transport: connection to %s closed before the session: %s", c->peer, why);
	} else if (c->state != CONN_READY) {
		x->st.handshake_failures++;
		if (strcmp(why, x->refused_why)) {
			snprintf(x->refused_why, sizeof(x->refused_why), "%s", why);
			x->refused_times = 0;
		}
		x->refused_times++;
		if (x->refused_times == 1)
			log_warnx("transport: peer %s refused: %s", c->peer, why);
		else if (!(x->refused_times & (x->refused_times - 1)))
			log_warnx("transport: peer %s refused: %s (%llu times in a row; logged at each doubling)",
				  c->peer, why, (unsigned long long)x->refused_times);
	} else if (kind == XPORT_CLOSE_LOST) {
		log_warnx("transport: link to %s lost: %s", c->peer, why);
	} else {
		log_info("transport: link to %s closed: %s", c->peer, why);
	}
	/* Best effort, never waiting: a TLS alert or close_notify tells the peer why. */
	if (c->fd >= 0 && c->out.len > c->out.off)
		(void)send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL | MSG_DONTWAIT);
	c->state = CONN_CLOSED;
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0) {
		if (!x->detached)
			xport_loop_del_fd(x->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	xport_buf_free(&c->rx);
	xport_buf_free(&c->tx);
	xport_buf_free(&c->out);
	if (x->cfg.mode == XPORT_CONNECT && !x->detached) {
		uint64_t delay = x->cfg.reconnect_ms;

		/* A peer that keeps refusing us is retried less and less often, up to 5 s apart. */
		if (!was_active)
			delay <<= x->fail_streak < 6 ? x->fail_streak++ : 6;
		x->redial_ms = xport_now_ms() + (delay < 5000 ? delay : 5000);
	}
	if (was_active) {
		x->active = NULL;
		if (x->cb.on_link)
			x->cb.on_link(x->cb.arg, false);
	}
}

void xport_conn_gc(struct xport *x)
{
	struct xport_conn **pp = &x->conns;

	while (*pp) {
		struct xport_conn *c = *pp;

		if (c->state == CONN_CLOSED) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

int xport_conn_put(struct xport_conn *c, Ftvm__Envelope *env)
{
	int err;

	env->epoch = c->x->cfg.epoch;
	err = xport_frame_put(&c->tx, env);
	if (err)
		xport_conn_close(c, XPORT_CLOSE_QUIET, "cannot queue a frame: %s", strerror(-err));
	return err;
}

/*
 * TLS output goes to c->out, not straight to the socket: records are sealed
 * in memory and leave in large writes, a few syscalls and TCP segments for
 * many records (TLS 1.3 caps a record at 2^14 bytes, RFC 8446 section 5.1).
 * The socket BIO wrote each record with its own syscall.
 */
static int out_bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
	struct xport_conn *c = BIO_get_data(b);

	if (xport_buf_reserve(&c->out, len))
		return 0;
	memcpy(c->out.data + c->out.len, data, len);
	c->out.len += len;
	*written = len;
	return 1;
}

static long out_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH;
}

static int out_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *out_method;
static pthread_once_t out_method_once = PTHREAD_ONCE_INIT;

static void out_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "xport out");

	if (m && BIO_meth_set_write_ex(m, out_bio_write) && BIO_meth_set_ctrl(m, out_bio_ctrl) &&
	    BIO_meth_set_create(m, out_bio_create))
		out_method = m;
	else
		BIO_meth_free(m);
}

/* Encrypts plaintext into c->out; the plaintext is not needed afterwards. */
static int conn_seal(struct xport_conn *c, const uint8_t *p, size_t len)
{
	char err[256];

	ERR_clear_error();
	while (len) {
		int r = SSL_write(c->ssl, p, len > (1u << 30) ? 1 << 30 : (int)len);

		if (r <= 0) {
			xport_conn_close(c, XPORT_CLOSE_LOST, "write failed: %s", xport_tls_error(c->ssl, err, sizeof(err)));
			return -EIO;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int conn_seal_tx(struct xport_conn *c)
{
	int err = 0;

	if (c->ssl && c->tx.len > c->tx.off)
		err = conn_seal(c, c->tx.data + c->tx.off, c->tx.len - c->tx.off);
	c->tx.off = c->tx.len = 0;
	return err;
}

int xport_conn_put_chunk(struct xport_conn *c, const struct xport_chunk *ch)
{
	size_t copy = ch->len;

	if (xport_buf_reserve(&c->tx, XPORT_CHUNK_HEAD_MAX + (copy < XPORT_RECORD ? copy : XPORT_RECORD))) {
		xport_conn_close(c, XPORT_CLOSE_QUIET, "cannot queue a frame: out of memory");
		return -ENOMEM;
	}
	c->tx.len += xport_frame_chunk_head(c->tx.data + c->tx.len, c->x->cfg.epoch, ch->seq, ch->first_step, ch->crc,
					    ch->len);
	/* A large payload completes the record under way from a copy, then is sealed where it lies. */
	if (ch->len > XPORT_RECORD) {
		copy = (XPORT_RECORD - (c->tx.len - c->tx.off) % XPORT_RECORD) % XPORT_RECORD;
		if (copy > ch->len)
			copy = ch->len;
	}
	memcpy(c->tx.data + c->tx.len, ch->payload, copy);
	c->tx.len += copy;
	if (copy < ch->len) {
		if (conn_seal_tx(c))
			return -EIO;
		if (c->ssl && conn_seal(c, ch->payload + copy, ch->len - copy))
			return -EIO;
	}
	return 0;
}

size_t xport_conn_queued(const struct xport_conn *c)
{
	return (c->tx.len - c->tx.off) + (c->out.len - c->out.off);
}

/* Seals what the session has to say and writes until done or the socket pushes back. */
void xport_conn_flush(struct xport_conn *c)
{
	for (;;) {
		size_t n;
		ssize_t r;

		if (c->state == CONN_CLOSED)
			return;
		if (c->out.len - c->out.off < XPORT_OUT_HIGH && (xport_session_fill(c) || conn_seal_tx(c)))
			return;
		n = c->out.len - c->out.off;
		if (!n || c->fd < 0)
			break;
		r = send(c->fd, c->out.data + c->out.off, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->want_write = true;
				return;
			}
			xport_conn_close(c, XPORT_CLOSE_LOST, "write failed: %s", strerror(errno));
			return;
		}
		c->want_write = false;
		c->out.off += (size_t)r;
		if (c->out.off == c->out.len)
			c->out.off = c->out.len = 0;
	}
}

static void conn_read(struct xport_conn *c)
{
	char err[256];

	/*
	 * Read until the TLS layer wants the socket again: stopping earlier could
	 * leave decrypted records buffered inside OpenSSL that epoll never reports.
	 * Credit bounds how much a well-behaved peer can have in flight.
	 */
	while (c->state != CONN_CLOSED) {
		size_t room;
		int r;

		if (xport_buf_reserve(&c->rx, 16384)) {
			xport_conn_close(c, XPORT_CLOSE_QUIET, "out of memory");
			return;
		}
		room = c->rx.cap - c->rx.len;
		ERR_clear_error();
		errno = 0;
		r = SSL_read(c->ssl, c->rx.data + c->rx.len, room > INT32_MAX ? INT32_MAX : (int)room);
		if (r > 0) {
			c->rx.len += (size_t)r;
			c->last_rx_ms = xport_now_ms();
			if (xport_session_parse(c))
				return;
			/* A long read must not hold back the Ack: the sender would stall on credit meanwhile. */
			if (c->x->recv_unacked_bytes >= XPORT_ACK_BYTES)
				xport_conn_flush(c);
			continue;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_WANT_WRITE:
			c->want_write = true;
			return;
		case SSL_ERROR_ZERO_RETURN:
			if (c->rx.len > c->rx.off)
				xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "truncated frame: peer closed with %zu bytes of a frame",
					   c->rx.len - c->rx.off);
			else
				xport_conn_close(c, XPORT_CLOSE_QUIET, "peer closed the connection");
			return;
		default:
			xport_conn_close(c, XPORT_CLOSE_LOST, "read failed%s: %s", c->rx.len > c->rx.off ? " mid-frame" : "",
				   xport_tls_error(c->ssl, err, sizeof(err)));
			return;
		}
	}
}

static void conn_handshake(struct xport_conn *c)
{
	char err[256];
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		log_debug("transport: TLS up with %s: %s %s", c->peer, SSL_get_version(c->ssl),
			  SSL_get_cipher_name(c->ssl));
		c->state = CONN_HELLO;
		c->want_write = false;
		if (xport_session_hello(c) == 0)
			conn_read(c);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->want_write = false;
		return;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return;
	default:
		xport_conn_close(c, XPORT_CLOSE_LOST, "TLS handshake failed: %s", xport_tls_error(c->ssl, err, sizeof(err)));
		return;
	}
}

static int conn_start_tls(struct xport_conn *c, bool server)
{
	BIO *rbio, *wbio;

	pthread_once(&out_method_once, out_method_init);
	c->ssl = SSL_new(c->x->ctx);
	rbio = BIO_new_socket(c->fd, BIO_NOCLOSE);
	wbio = out_method ? BIO_new(out_method) : NULL;
	if (!c->ssl || !rbio || !wbio || SSL_set1_host(c->ssl, c->x->cfg.peer_name) != 1) {
		BIO_free(rbio);
		BIO_free(wbio);
		xport_conn_close(c, XPORT_CLOSE_QUIET, "cannot set up TLS");
		return -ENOMEM;
	}
	BIO_set_data(wbio, c);
	SSL_set_bio(c->ssl, rbio, wbio);
	if (server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		SSL_set_tlsext_host_name(c->ssl, c->x->cfg.peer_name);
	}
	c->state = CONN_TLS_HANDSHAKE;
	return 0;
}

static void conn_io(struct xport_conn *c, unsigned events)
{
	struct xport *x = c->x;

	x->in_io++;
	if (c->state == CONN_TCP_CONNECTING && (events & XPORT_EV_WRITE)) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr)
			xport_conn_close(c, XPORT_CLOSE_LOST, "connect failed: %s", strerror(soerr));
		else if (conn_start_tls(c, false) == 0)
			conn_handshake(c);
	} else if (c->state == CONN_TLS_HANDSHAKE) {
		conn_handshake(c);
	} else if (c->state == CONN_HELLO || c->state == CONN_READY) {
		conn_read(c);
	}
	if (c->state == CONN_TLS_HANDSHAKE || c->state == CONN_HELLO || c->state == CONN_READY)
		xport_conn_flush(c);
	x->in_io--;
	if (!x->in_io && x->active && x->active != c)
		xport_conn_flush(x->active);
	if (x->active)
		xport_conn_update_events(x->active);
	xport_conn_update_events(c);
}

static void conn_event(struct xport_loop *loop, int fd, unsigned events, void *arg)
{
	struct xport_conn *c = arg;
	struct xport *x = c->x;

	conn_io(c, events);
	if (!x->in_io)
		xport_conn_gc(x);
}

struct xport_conn *xport_conn_new(struct xport *x, int fd, const char *peer)
{
	struct xport_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->x = x;
	c->fd = fd;
	c->started_ms = c->last_rx_ms = c->last_hb_ms = xport_now_ms();
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->next = x->conns;
	x->conns = c;
	return c;
}

static void addr_string(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[64] = "?", serv[16] = "?";

	getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), host,
		    sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static int xport_live_conns(const struct xport *x)
{
	int n = 0;

	for (const struct xport_conn *c = x->conns; c; c = c->next)
		n += c->state != CONN_CLOSED;
	return n;
}

static void listen_event(struct xport_loop *loop, int fd, unsigned events, void *arg)
{
	struct xport *x = arg;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct xport_conn *c;
		char peer[80];
		int one = 1;
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("transport: accept");
			return;
		}
		addr_string((struct sockaddr *)&ss, peer, sizeof(peer));
		if (xport_live_conns(x) >= XPORT_MAX_CONNS) {
			x->st.handshake_failures++;
			log_warnx("transport: peer %s refused: already %d connections", peer, XPORT_MAX_CONNS);
			close(cfd);
			continue;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = xport_conn_new(x, cfd, peer);
		if (!c) {
			close(cfd);
			continue;
		}
		log_debug("transport: connection from %s", peer);
		if (xport_loop_add_fd(x->loop, cfd, XPORT_EV_READ, conn_event, c) < 0) {
			xport_conn_close(c, XPORT_CLOSE_QUIET, "cannot watch the socket");
			continue;
		}
		if (conn_start_tls(c, true) == 0)
			conn_io(c, XPORT_EV_READ);
	}
}

int xport_conn_dial(struct xport *x)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	struct xport_conn *c;
	char peer[80];
	int one = 1, fd, r;

	x->redial_ms = 0;
	r = getaddrinfo(x->cfg.host, x->cfg.port, &hints, &ai);
	if (r) {
		log_warnx("transport: %s:%s: %s", x->cfg.host, x->cfg.port, gai_strerror(r));
		x->redial_ms = xport_now_ms() + x->cfg.reconnect_ms;
		return -EHOSTUNREACH;
	}
	addr_string(ai->ai_addr, peer, sizeof(peer));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(ai);
		x->redial_ms = xport_now_ms() + x->cfg.reconnect_ms;
		return r;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 && errno != EINPROGRESS) {
		log_debug("transport: connect %s: %s", peer, strerror(errno));
		close(fd);
		x->redial_ms = xport_now_ms() + x->cfg.reconnect_ms;
		return -errno;
	}
	c = xport_conn_new(x, fd, peer);
	if (!c) {
		close(fd);
		x->redial_ms = xport_now_ms() + x->cfg.reconnect_ms;
		return -ENOMEM;
	}
	c->state = CONN_TCP_CONNECTING;
	if (xport_loop_add_fd(x->loop, fd, XPORT_EV_WRITE, conn_event, c) < 0) {
		xport_conn_close(c, XPORT_CLOSE_QUIET, "cannot watch the socket");
		return -ENOMEM;
	}
	return 0;
}

int64_t xport_conn_tick(struct xport_loop *loop, uint64_t id, void *arg)
{
	struct xport *x = arg;
	uint64_t now = xport_now_ms();
	bool dialing = false;

	for (struct xport_conn *c = x->conns; c; c = c->next) {
		if (c->state == CONN_CLOSED)
			continue;
		dialing = true;
		if (c->state != CONN_READY) {
			if (now - c->started_ms > x->cfg.dead_ms)
				xport_conn_close(c, XPORT_CLOSE_LOST, "handshake timed out after %u ms", x->cfg.dead_ms);
			continue;
		}
		xport_session_tick(c, now);
	}
	xport_conn_gc(x);
	if (x->cfg.mode == XPORT_CONNECT && !dialing && now >= x->redial_ms)
		(void)xport_conn_dial(x);
	return (int64_t)x->tick_ms;
}

int xport_conn_listen(struct xport *x)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int one = 1, fd, r;

	r = getaddrinfo(x->cfg.host && *x->cfg.host ? x->cfg.host : NULL, x->cfg.port, &hints, &ai);
	if (r) {
		log_warnx("transport: listen %s:%s: %s", x->cfg.host ? x->cfg.host : "*", x->cfg.port, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0)
		goto fail;
	freeaddrinfo(ai);
	r = xport_loop_add_fd(x->loop, fd, XPORT_EV_READ, listen_event, x);
	if (r < 0) {
		close(fd);
		return r;
	}
	x->listen_fd = fd;
	return 0;
fail:
	r = -errno;
	log_warn("transport: listen on %s:%s", x->cfg.host ? x->cfg.host : "*", x->cfg.port);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

