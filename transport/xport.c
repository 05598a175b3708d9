/* SPDX-License-Identifier: MIT */
/* The channel: non-blocking TLS connections on the event loop, Hello, chunks with credit, acks, resume. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "transport/log.h"

/* Stop encoding chunks once this much is waiting for the socket. */
#define XPORT_TX_HIGH (2u << 20)
/* Connections a listener holds at once (mostly handshakes); more are refused at accept. */
#define XPORT_MAX_CONNS 64

static void conn_flush(struct xport_conn *c);

static void conn_update_events(struct xport_conn *c)
{
	unsigned ev = XPORT_EV_READ;

	if (c->x->detached || c->state == CONN_CLOSED)
		return;
	if (c->state == CONN_TCP_CONNECTING)
		ev = XPORT_EV_WRITE;
	else if (c->want_write || c->tx.len > c->tx.off)
		ev |= XPORT_EV_WRITE;
	if (xport_loop_set_events(c->x->loop, c->fd, ev) < 0)
		log_warnx("transport: cannot re-arm %s", c->peer);
}

enum close_kind {
	CLOSE_QUIET,     /* our own decision, info */
	CLOSE_LOST,      /* the network or the peer went away */
	CLOSE_PROTOCOL,  /* the peer broke the protocol */
};

static void __attribute__((format(printf, 3, 4)))
conn_close(struct xport_conn *c, enum close_kind kind, const char *fmt, ...)
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
	if (kind == CLOSE_PROTOCOL) {
		x->st.protocol_errors++;
		log_warnx("transport: peer %s dropped: %s", c->peer, why);
	} else if (c->state != CONN_READY && kind == CLOSE_QUIET) {
		log_info("transport: connection to %s closed before the session: %s", c->peer, why);
	} else if (c->state != CONN_READY) {
		x->st.handshake_failures++;
		log_warnx("transport: peer %s refused: %s", c->peer, why);
	} else if (kind == CLOSE_LOST) {
		log_warnx("transport: link to %s lost: %s", c->peer, why);
	} else {
		log_info("transport: link to %s closed: %s", c->peer, why);
	}
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

static void conn_gc(struct xport *x)
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

static int conn_put(struct xport_conn *c, Ftvm__Envelope *env)
{
	int err;

	env->epoch = c->x->cfg.epoch;
	err = xport_frame_put(&c->tx, env);
	if (err)
		conn_close(c, CLOSE_QUIET, "cannot queue a frame: %s", strerror(-err));
	return err;
}

static int conn_send_hello(struct xport_conn *c)
{
	const struct xport_config *cfg = &c->x->cfg;
	Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
	Ftvm__Hello h;
	ProtobufCBinaryData digest = { cfg->image_digest_len, (uint8_t *)(uintptr_t)cfg->image_digest };

	ftvm__hello__init(&h);
	h.format_major = XPORT_FORMAT_MAJOR;
	h.format_minor = XPORT_FORMAT_MINOR;
	h.role = cfg->role == XPORT_ROLE_PRIMARY ? FTVM__ROLE__ROLE_PRIMARY : FTVM__ROLE__ROLE_BACKUP;
	h.vm_id = (char *)(uintptr_t)(cfg->vm_id ? cfg->vm_id : "");
	if (cfg->image_digest_len) {
		h.n_image_digests = 1;
		h.image_digests = &digest;
	}
	h.epoch = cfg->epoch;
	env.body_case = FTVM__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	return conn_put(c, &env);
}

/* Encodes pending control messages and as many window chunks as the socket can take soon. */
static int conn_fill(struct xport_conn *c)
{
	struct xport *x = c->x;
	Ftvm__Envelope env = FTVM__ENVELOPE__INIT;

	if (c->state != CONN_READY)
		return 0;
	if (x->ack_dirty) {
		Ftvm__Ack a = FTVM__ACK__INIT;

		a.acked_seq = x->recv_seq;
		a.insns_replayed = x->insns_replayed;
		a.credit_chunks = x->recv_credit_chunks;
		a.credit_bytes = x->recv_credit_bytes;
		env.body_case = FTVM__ENVELOPE__BODY_ACK;
		env.ack = &a;
		if (conn_put(c, &env))
			return -EIO;
		x->ack_dirty = false;
		x->st.acks_sent++;
	}
	if (x->progress_dirty) {
		Ftvm__Progress p = FTVM__PROGRESS__INIT;

		p.insn = x->progress_insn;
		env.body_case = FTVM__ENVELOPE__BODY_PROGRESS;
		env.progress = &p;
		if (conn_put(c, &env))
			return -EIO;
		x->progress_dirty = false;
	}
	while (c->send_seq < x->next_seq && c->tx.len - c->tx.off < XPORT_TX_HIGH) {
		uint32_t idx = (uint32_t)((x->win_head + (c->send_seq - x->acked_seq - 1)) % x->cfg.window_chunks);
		const struct xport_chunk *ch = &x->win[idx];
		Ftvm__LogChunk m = FTVM__LOG_CHUNK__INIT;

		m.seq = ch->seq;
		m.first_insn = ch->first_insn;
		m.payload.len = ch->len;
		m.payload.data = ch->payload;
		m.crc32c = ch->crc;
		env.body_case = FTVM__ENVELOPE__BODY_CHUNK;
		env.chunk = &m;
		if (conn_put(c, &env))
			return -EIO;
		if (ch->seq > x->max_sent_seq) {
			x->max_sent_seq = ch->seq;
			x->st.chunks_sent++;
			x->st.payload_bytes_sent += ch->len;
		} else {
			x->st.chunks_resent++;
		}
		c->send_seq++;
	}
	return 0;
}

/* Writes what is queued until done or the socket pushes back. */
static void conn_flush(struct xport_conn *c)
{
	char err[256];

	for (;;) {
		size_t n;
		int r;

		if (c->state == CONN_CLOSED || conn_fill(c))
			return;
		n = c->tx.len - c->tx.off;
		if (!n)
			break;
		if (!c->ssl) {
			c->tx.off = c->tx.len = 0;
			continue;
		}
		c->want_write = false;
		ERR_clear_error();
		r = SSL_write(c->ssl, c->tx.data + c->tx.off, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0) {
			c->tx.off += (size_t)r;
			if (c->tx.off == c->tx.len)
				c->tx.off = c->tx.len = 0;
			continue;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_WRITE:
			c->want_write = true;
			return;
		case SSL_ERROR_WANT_READ:
			return;
		default:
			conn_close(c, CLOSE_LOST, "write failed: %s", xport_tls_error(c->ssl, err, sizeof(err)));
			return;
		}
	}
}

static void session_ready(struct xport_conn *c)
{
	struct xport *x = c->x;

	if (x->active && x->active != c)
		conn_close(x->active, CLOSE_QUIET, "replaced by a newer session from %s", c->peer);
	x->active = c;
	x->fail_streak = 0;
	c->state = CONN_READY;
	c->send_seq = x->acked_seq + 1;
	x->ack_dirty = true;
	x->progress_dirty = x->progress_insn != 0;
	x->st.sessions++;
	log_info("transport: session up with %s (epoch %llu, resume after seq %llu, receiving after %llu)", c->peer,
		 (unsigned long long)x->cfg.epoch, (unsigned long long)x->acked_seq, (unsigned long long)x->recv_seq);
	if (x->cb.on_link)
		x->cb.on_link(x->cb.arg, true);
}

static int handle_hello(struct xport_conn *c, const Ftvm__Hello *h)
{
	struct xport *x = c->x;
	const char *vm = x->cfg.vm_id ? x->cfg.vm_id : "";
	Ftvm__Role want = x->cfg.role == XPORT_ROLE_PRIMARY ? FTVM__ROLE__ROLE_BACKUP : FTVM__ROLE__ROLE_PRIMARY;

	if (h->format_major != XPORT_FORMAT_MAJOR || h->format_minor > XPORT_FORMAT_MINOR) {
		conn_close(c, CLOSE_PROTOCOL, "format %u.%u not accepted (ours %u.%u)", h->format_major,
			   h->format_minor, XPORT_FORMAT_MAJOR, XPORT_FORMAT_MINOR);
		return -EPROTO;
	}
	if (h->role != want) {
		conn_close(c, CLOSE_PROTOCOL, "peer role %d, expected %d", (int)h->role, (int)want);
		return -EPROTO;
	}
	if (h->epoch != x->cfg.epoch) {
		conn_close(c, CLOSE_PROTOCOL, "wrong epoch %llu in Hello (ours %llu)", (unsigned long long)h->epoch,
			   (unsigned long long)x->cfg.epoch);
		return -EPROTO;
	}
	if (strcmp(h->vm_id ? h->vm_id : "", vm) != 0) {
		conn_close(c, CLOSE_PROTOCOL, "peer serves VM \"%.64s\", expected \"%.64s\"", h->vm_id, vm);
		return -EPROTO;
	}
	if (x->cfg.image_digest_len && h->n_image_digests &&
	    (h->image_digests[0].len != x->cfg.image_digest_len ||
	     memcmp(h->image_digests[0].data, x->cfg.image_digest, x->cfg.image_digest_len) != 0)) {
		conn_close(c, CLOSE_PROTOCOL, "image digest differs");
		return -EPROTO;
	}
	session_ready(c);
	return 0;
}

static int handle_chunk(struct xport_conn *c, const Ftvm__LogChunk *m)
{
	struct xport *x = c->x;

	if (m->seq <= x->recv_seq) {
		x->st.chunks_duplicate++;
		x->ack_dirty = true;
		return 0;
	}
	if (m->seq != x->recv_seq + 1) {
		conn_close(c, CLOSE_PROTOCOL, "sequence gap: chunk %llu, expected %llu", (unsigned long long)m->seq,
			   (unsigned long long)x->recv_seq + 1);
		return -EPROTO;
	}
	if (!x->recv_credit_chunks || m->payload.len > x->recv_credit_bytes) {
		conn_close(c, CLOSE_PROTOCOL, "chunk %llu (%zu bytes) exceeds the granted credit",
			   (unsigned long long)m->seq, m->payload.len);
		return -EPROTO;
	}
	if (xport_crc32c(0, m->payload.data, m->payload.len) != m->crc32c) {
		conn_close(c, CLOSE_PROTOCOL, "chunk %llu checksum mismatch", (unsigned long long)m->seq);
		return -EPROTO;
	}
	x->recv_seq = m->seq;
	if (!x->cfg.auto_credit) {
		x->recv_credit_chunks--;
		x->recv_credit_bytes -= m->payload.len;
	}
	x->st.chunks_received++;
	x->st.payload_bytes_received += m->payload.len;
	x->ack_dirty = true;
	if (x->cb.on_chunk)
		x->cb.on_chunk(x->cb.arg, m->seq, m->first_insn, m->payload.data, m->payload.len);
	return 0;
}

static int handle_ack(struct xport_conn *c, const Ftvm__Ack *a)
{
	struct xport *x = c->x;

	if (a->acked_seq >= x->next_seq) {
		conn_close(c, CLOSE_PROTOCOL, "ack for unsent chunk %llu (next %llu)", (unsigned long long)a->acked_seq,
			   (unsigned long long)x->next_seq);
		return -EPROTO;
	}
	if (a->acked_seq < x->acked_seq) {
		log_debug("transport: stale ack %llu from %s", (unsigned long long)a->acked_seq, c->peer);
		return 0;
	}
	while (x->win_count && x->win[x->win_head].seq <= a->acked_seq) {
		struct xport_chunk *ch = &x->win[x->win_head];

		x->acked_cum_bytes = ch->cum_bytes;
		x->win_bytes -= ch->len;
		free(ch->payload);
		ch->payload = NULL;
		x->win_head = (x->win_head + 1) % x->cfg.window_chunks;
		x->win_count--;
	}
	x->acked_seq = a->acked_seq;
	if (c->send_seq <= x->acked_seq)
		c->send_seq = x->acked_seq + 1;
	x->credit_seq_limit = x->acked_seq + a->credit_chunks;
	x->credit_bytes_limit = x->acked_cum_bytes + a->credit_bytes;
	x->st.acks_received++;
	if (x->cb.on_ack)
		x->cb.on_ack(x->cb.arg, a->acked_seq, a->insns_replayed);
	return 0;
}

static int handle_frame(struct xport_conn *c, const uint8_t *body, uint32_t len)
{
	struct xport *x = c->x;
	Ftvm__Envelope *env = ftvm__envelope__unpack(NULL, len, body);
	int err = 0;

	if (!env) {
		conn_close(c, CLOSE_PROTOCOL, "undecodable frame (%u bytes)", len);
		return -EPROTO;
	}
	if (env->body_case == FTVM__ENVELOPE__BODY__NOT_SET) {
		conn_close(c, CLOSE_PROTOCOL, "unknown message type (field %u)",
			   env->base.n_unknown_fields ? env->base.unknown_fields[0].tag : 0);
		err = -EPROTO;
		goto out;
	}
	if (env->epoch != x->cfg.epoch) {
		conn_close(c, CLOSE_PROTOCOL, "wrong epoch %llu (ours %llu)", (unsigned long long)env->epoch,
			   (unsigned long long)x->cfg.epoch);
		err = -EPROTO;
		goto out;
	}
	if ((c->state == CONN_HELLO) != (env->body_case == FTVM__ENVELOPE__BODY_HELLO)) {
		conn_close(c, CLOSE_PROTOCOL, c->state == CONN_HELLO ? "message type %d before Hello" : "repeated Hello",
			   (int)env->body_case);
		err = -EPROTO;
		goto out;
	}
	switch (env->body_case) {
	case FTVM__ENVELOPE__BODY_HELLO:
		err = handle_hello(c, env->hello);
		break;
	case FTVM__ENVELOPE__BODY_CHUNK:
		err = handle_chunk(c, env->chunk);
		break;
	case FTVM__ENVELOPE__BODY_ACK:
		err = handle_ack(c, env->ack);
		break;
	case FTVM__ENVELOPE__BODY_PROGRESS:
		if (x->cb.on_progress)
			x->cb.on_progress(x->cb.arg, env->progress->insn);
		break;
	case FTVM__ENVELOPE__BODY_HEARTBEAT:
		if (env->heartbeat->epoch != x->cfg.epoch) {
			conn_close(c, CLOSE_PROTOCOL, "wrong epoch %llu in heartbeat",
				   (unsigned long long)env->heartbeat->epoch);
			err = -EPROTO;
		}
		break;
	case FTVM__ENVELOPE__BODY_GOODBYE:
		conn_close(c, CLOSE_QUIET, "peer said goodbye: %.128s", env->goodbye->reason);
		err = -EPROTO;
		break;
	default:
		conn_close(c, CLOSE_PROTOCOL, "unknown message type %d", (int)env->body_case);
		err = -EPROTO;
		break;
	}
out:
	ftvm__envelope__free_unpacked(env, NULL);
	return err;
}

/* Dispatches every whole frame in rx; -EPROTO once the connection was dropped. */
static int conn_parse(struct xport_conn *c)
{
	for (;;) {
		const uint8_t *body;
		uint32_t len;
		int r = xport_frame_next(&c->rx, &body, &len);

		if (r == 0)
			return 0;
		if (r == -EMSGSIZE) {
			conn_close(c, CLOSE_PROTOCOL, "%s frame length %u (limit %u)", len ? "oversized" : "empty", len,
				   XPORT_MAX_FRAME);
			return -EPROTO;
		}
		if (r < 0) {
			conn_close(c, CLOSE_QUIET, "out of memory for a frame");
			return r;
		}
		if (handle_frame(c, body, len))
			return -EPROTO;
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
			conn_close(c, CLOSE_QUIET, "out of memory");
			return;
		}
		room = c->rx.cap - c->rx.len;
		ERR_clear_error();
		errno = 0;
		r = SSL_read(c->ssl, c->rx.data + c->rx.len, room > INT32_MAX ? INT32_MAX : (int)room);
		if (r > 0) {
			c->rx.len += (size_t)r;
			c->last_rx_ms = xport_now_ms();
			if (conn_parse(c))
				return;
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
				conn_close(c, CLOSE_PROTOCOL, "truncated frame: peer closed with %zu bytes of a frame",
					   c->rx.len - c->rx.off);
			else
				conn_close(c, CLOSE_QUIET, "peer closed the connection");
			return;
		default:
			conn_close(c, CLOSE_LOST, "read failed%s: %s", c->rx.len > c->rx.off ? " mid-frame" : "",
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
		if (conn_send_hello(c) == 0)
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
		conn_close(c, CLOSE_LOST, "TLS handshake failed: %s", xport_tls_error(c->ssl, err, sizeof(err)));
		return;
	}
}

static int conn_start_tls(struct xport_conn *c, bool server)
{
	c->ssl = SSL_new(c->x->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_set1_host(c->ssl, c->x->cfg.peer_name) != 1) {
		conn_close(c, CLOSE_QUIET, "cannot set up TLS");
		return -ENOMEM;
	}
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
			conn_close(c, CLOSE_LOST, "connect failed: %s", strerror(soerr));
		else if (conn_start_tls(c, false) == 0)
			conn_handshake(c);
	} else if (c->state == CONN_TLS_HANDSHAKE) {
		conn_handshake(c);
	} else if (c->state == CONN_HELLO || c->state == CONN_READY) {
		conn_read(c);
	}
	if (c->state == CONN_HELLO || c->state == CONN_READY)
		conn_flush(c);
	x->in_io--;
	if (!x->in_io && x->active && x->active != c)
		conn_flush(x->active);
	if (x->active)
		conn_update_events(x->active);
	conn_update_events(c);
}

static void conn_event(struct xport_loop *loop, int fd, unsigned events, void *arg)
{
	struct xport_conn *c = arg;
	struct xport *x = c->x;

	conn_io(c, events);
	if (!x->in_io)
		conn_gc(x);
}

static struct xport_conn *conn_new(struct xport *x, int fd, const char *peer)
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
		c = conn_new(x, cfd, peer);
		if (!c) {
			close(cfd);
			continue;
		}
		log_debug("transport: connection from %s", peer);
		if (xport_loop_add_fd(x->loop, cfd, XPORT_EV_READ, conn_event, c) < 0) {
			conn_close(c, CLOSE_QUIET, "cannot watch the socket");
			continue;
		}
		if (conn_start_tls(c, true) == 0)
			conn_io(c, XPORT_EV_READ);
	}
}

static int xport_dial(struct xport *x)
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
	c = conn_new(x, fd, peer);
	if (!c) {
		close(fd);
		x->redial_ms = xport_now_ms() + x->cfg.reconnect_ms;
		return -ENOMEM;
	}
	c->state = CONN_TCP_CONNECTING;
	if (xport_loop_add_fd(x->loop, fd, XPORT_EV_WRITE, conn_event, c) < 0) {
		conn_close(c, CLOSE_QUIET, "cannot watch the socket");
		return -ENOMEM;
	}
	return 0;
}

static int64_t xport_tick(struct xport_loop *loop, uint64_t id, void *arg)
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
				conn_close(c, CLOSE_LOST, "handshake timed out after %u ms", x->cfg.dead_ms);
			continue;
		}
		if (now - c->last_rx_ms > x->cfg.dead_ms) {
			x->st.dead_peers++;
			conn_close(c, CLOSE_LOST, "peer silent for %llu ms", (unsigned long long)(now - c->last_rx_ms));
			continue;
		}
		if (now - c->last_hb_ms >= x->cfg.heartbeat_ms) {
			Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
			Ftvm__Heartbeat hb = FTVM__HEARTBEAT__INIT;

			hb.mono_us = xport_now_us();
			hb.epoch = x->cfg.epoch;
			env.body_case = FTVM__ENVELOPE__BODY_HEARTBEAT;
			env.heartbeat = &hb;
			c->last_hb_ms = now;
			if (conn_put(c, &env) == 0)
				conn_flush(c);
			conn_update_events(c);
		}
	}
	conn_gc(x);
	if (x->cfg.mode == XPORT_CONNECT && !dialing && now >= x->redial_ms)
		(void)xport_dial(x);
	return (int64_t)x->tick_ms;
}

static int xport_listen(struct xport *x)
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

static int xport_alloc(const struct xport_config *cfg, const struct xport_callbacks *cb, struct xport **out)
{
	struct xport *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->cfg = *cfg;
	if (cb)
		x->cb = *cb;
	if (!x->cfg.heartbeat_ms)
		x->cfg.heartbeat_ms = 200;
	if (!x->cfg.dead_ms)
		x->cfg.dead_ms = 5 * x->cfg.heartbeat_ms;
	if (!x->cfg.reconnect_ms)
		x->cfg.reconnect_ms = 100;
	if (!x->cfg.window_chunks)
		x->cfg.window_chunks = 256;
	if (!x->cfg.window_bytes)
		x->cfg.window_bytes = 64u << 20;
	x->tick_ms = x->cfg.heartbeat_ms / 4 ? x->cfg.heartbeat_ms / 4 : 1;
	if (x->tick_ms > 50)
		x->tick_ms = 50;
	x->win = calloc(x->cfg.window_chunks, sizeof(*x->win));
	if (!x->win) {
		free(x);
		return -ENOMEM;
	}
	x->listen_fd = -1;
	x->next_seq = 1;
	x->recv_credit_chunks = cfg->credit_chunks;
	x->recv_credit_bytes = cfg->credit_bytes;
	*out = x;
	return 0;
}

int xport_new(struct xport_loop *loop, const struct xport_config *cfg, const struct xport_callbacks *cb,
	      struct xport **out)
{
	struct xport *x;
	int err;

	if (!loop || !cfg || !cfg->port || (cfg->mode != XPORT_LISTEN && cfg->mode != XPORT_CONNECT) ||
	    (cfg->mode == XPORT_CONNECT && !cfg->host) ||
	    (cfg->role != XPORT_ROLE_PRIMARY && cfg->role != XPORT_ROLE_BACKUP))
		return -EINVAL;
	err = xport_alloc(cfg, cb, &x);
	if (err)
		return err;
	x->loop = loop;
	{
		/* OpenSSL writes to sockets with write(): a peer's reset must be an error, not a signal. */
		struct sigaction sa;

		if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
			signal(SIGPIPE, SIG_IGN);
	}
	err = xport_tls_ctx(&x->cfg, &x->ctx);
	if (err)
		goto fail;
	if (cfg->mode == XPORT_LISTEN)
		err = xport_listen(x);
	else
		err = xport_dial(x) == -ENOMEM ? -ENOMEM : 0;
	if (err)
		goto fail;
	x->timer_id = xport_loop_add_timer(loop, x->tick_ms, xport_tick, x);
	if (x->timer_id < 0) {
		err = (int)x->timer_id;
		goto fail;
	}
	*out = x;
	return 0;
fail:
	x->timer_id = 0;
	xport_free(x);
	return err;
}

void xport_free(struct xport *x)
{
	if (!x)
		return;
	if (x->active && x->active->ssl && !x->in_io) {
		struct xport_conn *c = x->active;
		Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
		Ftvm__Goodbye g;

		ftvm__goodbye__init(&g);
		g.reason = (char *)(uintptr_t)"shutting down";
		env.body_case = FTVM__ENVELOPE__BODY_GOODBYE;
		env.goodbye = &g;
		if (conn_put(c, &env) == 0) {
			conn_flush(c);
			if (c->state != CONN_CLOSED)
				SSL_shutdown(c->ssl);
		}
	}
	for (struct xport_conn *c = x->conns; c; c = c->next)
		conn_close(c, CLOSE_QUIET, "channel closed");
	conn_gc(x);
	if (x->timer_id > 0)
		xport_loop_del_timer(x->loop, (uint64_t)x->timer_id);
	if (x->listen_fd >= 0) {
		xport_loop_del_fd(x->loop, x->listen_fd);
		close(x->listen_fd);
	}
	for (uint32_t i = 0; i < x->win_count; i++)
		free(x->win[(x->win_head + i) % x->cfg.window_chunks].payload);
	free(x->win);
	SSL_CTX_free(x->ctx);
	free(x);
}

static void xport_kick(struct xport *x)
{
	if (x->in_io || !x->active)
		return;
	conn_flush(x->active);
	if (x->active)
		conn_update_events(x->active);
}

int xport_send_chunk(struct xport *x, uint64_t first_insn, const void *payload, size_t len, uint64_t *seq_out)
{
	struct xport_chunk *ch;
	uint8_t *copy;

	if (len > XPORT_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (x->next_seq > x->credit_seq_limit || x->sent_cum_bytes + len > x->credit_bytes_limit ||
	    x->win_count == x->cfg.window_chunks || x->win_bytes + len > x->cfg.window_bytes) {
		x->st.no_credit++;
		return -ENOBUFS;
	}
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, payload, len);
	ch = &x->win[(x->win_head + x->win_count) % x->cfg.window_chunks];
	x->sent_cum_bytes += len;
	*ch = (struct xport_chunk){
		.seq = x->next_seq,
		.first_insn = first_insn,
		.cum_bytes = x->sent_cum_bytes,
		.crc = xport_crc32c(0, payload, len),
		.len = (uint32_t)len,
		.payload = copy,
	};
	x->win_count++;
	x->win_bytes += len;
	if (seq_out)
		*seq_out = x->next_seq;
	x->next_seq++;
	xport_kick(x);
	return 0;
}

int xport_send_progress(struct xport *x, uint64_t insn)
{
	x->progress_insn = insn;
	x->progress_dirty = true;
	xport_kick(x);
	return 0;
}

int xport_grant_credit(struct xport *x, uint32_t chunks, uint64_t bytes)
{
	if (x->recv_credit_chunks + (uint64_t)chunks > UINT32_MAX || x->recv_credit_bytes + bytes < bytes)
		return -EOVERFLOW;
	x->recv_credit_chunks += chunks;
	x->recv_credit_bytes += bytes;
	x->ack_dirty = true;
	xport_kick(x);
	return 0;
}

void xport_set_replayed(struct xport *x, uint64_t insns)
{
	x->insns_replayed = insns;
	x->ack_dirty = true;
	xport_kick(x);
}

bool xport_link_up(const struct xport *x)
{
	return x->active != NULL;
}

uint64_t xport_unacked(const struct xport *x)
{
	return x->win_count;
}

void xport_get_stats(const struct xport *x, struct xport_stats *st)
{
	*st = x->st;
	st->next_seq = x->next_seq;
	st->acked_seq = x->acked_seq;
	st->recv_seq = x->recv_seq;
}

int xport_local_port(const struct xport *x)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (x->listen_fd < 0 || getsockname(x->listen_fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

const char *xport_cipher(const struct xport *x)
{
	return x->active && x->active->ssl ? SSL_get_cipher_name(x->active->ssl) : "none";
}

void xport_drop_link(struct xport *x, const char *why)
{
	for (struct xport_conn *c = x->conns; c; c = c->next)
		conn_close(c, CLOSE_QUIET, "%s", why);
	if (!x->in_io)
		conn_gc(x);
}

int xport_detached_new(const struct xport_config *cfg, const struct xport_callbacks *cb, struct xport **out)
{
	struct xport_conn *c;
	int err = xport_alloc(cfg, cb, out);

	if (err)
		return err;
	(*out)->detached = true;
	c = conn_new(*out, -1, "detached");
	if (!c) {
		xport_free(*out);
		return -ENOMEM;
	}
	c->state = CONN_HELLO;
	return 0;
}

int xport_detached_feed(struct xport *x, const uint8_t *data, size_t len)
{
	struct xport_conn *c = x->conns;

	if (!c || c->state == CONN_CLOSED)
		return -EPROTO;
	if (len) {
		if (xport_buf_reserve(&c->rx, len))
			return -ENOMEM;
		memcpy(c->rx.data + c->rx.len, data, len);
		c->rx.len += len;
	}
	x->in_io++;
	if (conn_parse(c) == 0)
		conn_flush(c);
	x->in_io--;
	return c->state == CONN_CLOSED ? -EPROTO : 0;
}

int xport_detached_message(struct xport *x, int body_case, const uint8_t *data, size_t len)
{
	struct xport_conn *c = x->conns;
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;
	Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
	struct xport_buf b = { 0 };
	int err;

	switch (body_case) {
	case FTVM__ENVELOPE__BODY_HELLO: d = &ftvm__hello__descriptor; break;
	case FTVM__ENVELOPE__BODY_CHUNK: d = &ftvm__log_chunk__descriptor; break;
	case FTVM__ENVELOPE__BODY_ACK: d = &ftvm__ack__descriptor; break;
	case FTVM__ENVELOPE__BODY_PROGRESS: d = &ftvm__progress__descriptor; break;
	case FTVM__ENVELOPE__BODY_HEARTBEAT: d = &ftvm__heartbeat__descriptor; break;
	case FTVM__ENVELOPE__BODY_GOODBYE: d = &ftvm__goodbye__descriptor; break;
	default: return -EINVAL;
	}
	if (!c || c->state == CONN_CLOSED)
		return -EPROTO;
	if (body_case != FTVM__ENVELOPE__BODY_HELLO && c->state == CONN_HELLO)
		session_ready(c);
	m = protobuf_c_message_unpack(d, NULL, len, data);
	if (!m)
		return 0;
	env.epoch = x->cfg.epoch;
	env.body_case = (Ftvm__Envelope__BodyCase)body_case;
	env.hello = (Ftvm__Hello *)m;
	err = xport_frame_put(&b, &env);
	protobuf_c_message_free_unpacked(m, NULL);
	if (err == 0)
		err = xport_detached_feed(x, b.data, b.len);
	xport_buf_free(&b);
	return err;
}
