/* SPDX-License-Identifier: MIT */
/* The channel's public API: create and free, send chunks and progress, grant credit, statistics; detached mode. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/log.h"

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
		err = xport_conn_listen(x);
	else
		err = xport_conn_dial(x) == -ENOMEM ? -ENOMEM : 0;
	if (err)
		goto fail;
	x->timer_id = xport_loop_add_timer(loop, x->tick_ms, xport_conn_tick, x);
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

void xport_set_goodbye(struct xport *x, const char *reason)
{
	snprintf(x->goodbye, sizeof(x->goodbye), "%s", reason);
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
		g.reason = x->goodbye[0] ? x->goodbye : (char *)(uintptr_t)"shutting down";
		env.body_case = FTVM__ENVELOPE__BODY_GOODBYE;
		env.goodbye = &g;
		if (xport_conn_put(c, &env) == 0) {
			xport_conn_flush(c);
			if (c->state != CONN_CLOSED)
				SSL_shutdown(c->ssl);
		}
	}
	for (struct xport_conn *c = x->conns; c; c = c->next)
		xport_conn_close(c, XPORT_CLOSE_QUIET, "channel closed");
	xport_conn_gc(x);
	if (x->timer_id > 0)
		xport_loop_del_timer(x->loop, (uint64_t)x->timer_id);
	if (x->listen_fd >= 0) {
		xport_loop_del_fd(x->loop, x->listen_fd);
		close(x->listen_fd);
	}
	free(x->ring);
	free(x->win);
	SSL_CTX_free(x->ctx);
	free(x);
}

static void xport_kick(struct xport *x)
{
	if (x->in_io || !x->active)
		return;
	xport_conn_flush(x->active);
	if (x->active)
		xport_conn_update_events(x->active);
}

/*
 * The window's payloads live in one ring of bytes, reused: no allocation,
 * and no fresh pages to fault in, per chunk. Chunks are freed oldest first,
 * so the ring is a FIFO; a chunk that does not fit at the end starts again at
 * offset 0. With room for window_bytes plus one largest chunk, anything the
 * byte window admits fits whatever the waste at the end (the worst case is a
 * largest chunk that just missed the end). The ring starts small and doubles
 * up to that size when a chunk does not fit, packing the live chunks.
 */
#define XPORT_RING_MIN (64u << 10)

static size_t ring_cap_max(const struct xport *x)
{
	uint64_t largest = x->cfg.window_bytes < XPORT_MAX_PAYLOAD ? x->cfg.window_bytes : XPORT_MAX_PAYLOAD;

	return (size_t)(x->cfg.window_bytes + largest + 1);
}

static int window_grow(struct xport *x, size_t len)
{
	size_t cap = x->ring_cap ? 2 * x->ring_cap : XPORT_RING_MIN, off = 0;
	uint8_t *ring;

	if (cap < x->win_bytes + len + 1)
		cap = (size_t)x->win_bytes + len + 1;
	if (cap > ring_cap_max(x))
		cap = ring_cap_max(x);
	if (cap <= x->ring_cap)
		return -ENOBUFS;
	ring = malloc(cap);
	if (!ring)
		return -ENOMEM;
	for (uint32_t k = 0; k < x->win_count; k++) {
		struct xport_chunk *ch = &x->win[(x->win_head + k) % x->cfg.window_chunks];

		memcpy(ring + off, ch->payload, ch->len);
		ch->payload = ring + off;
		off += ch->len;
	}
	free(x->ring);
	x->ring = ring;
	x->ring_cap = cap;
	x->ring_head = 0;
	x->ring_tail = off;
	return 0;
}

static uint8_t *window_place(struct xport *x, size_t len)
{
	size_t head = x->ring_head, tail = x->ring_tail, p;

	if (!x->win_count)
		head = tail = 0;
	if (tail >= head && x->ring_cap - tail >= len)
		p = tail;
	else if (tail >= head && head > len)
		p = 0;
	else if (tail < head && head - tail > len)
		p = tail;
	else
		return NULL;
	x->ring_head = head;
	x->ring_tail = p + len;
	return x->ring + p;
}

/* Room for a payload of len bytes at the ring's tail; -ENOMEM, or -ENOBUFS if the window's arithmetic is wrong. */
static int window_alloc(struct xport *x, size_t len, uint8_t **out)
{
	int err;

	*out = x->ring ? window_place(x, len) : NULL;
	if (*out)
		return 0;
	err = window_grow(x, len);
	if (err)
		return err;
	*out = window_place(x, len);
	return *out ? 0 : -ENOBUFS;
}

/* The oldest chunk was acknowledged: its bytes go back to the ring. */
void xport_window_pop(struct xport *x)
{
	struct xport_chunk *ch = &x->win[x->win_head];

	x->acked_cum_bytes = ch->cum_bytes;
	x->win_bytes -= ch->len;
	ch->payload = NULL;
	x->win_head = (x->win_head + 1) % x->cfg.window_chunks;
	x->win_count--;
	if (x->win_count)
		x->ring_head = (size_t)(x->win[x->win_head].payload - x->ring);
	else
		x->ring_head = x->ring_tail = 0;
}

int xport_send_chunk(struct xport *x, uint64_t first_step, const void *payload, size_t len, uint64_t *seq_out)
{
	struct xport_chunk *ch;
	uint8_t *copy;
	int err;

	if (len > XPORT_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (x->next_seq > x->credit_seq_limit || x->sent_cum_bytes + len > x->credit_bytes_limit ||
	    x->win_count == x->cfg.window_chunks || x->win_bytes + len > x->cfg.window_bytes) {
		x->st.no_credit++;
		return -ENOBUFS;
	}
	err = window_alloc(x, len, &copy);
	if (err)
		return err;
	memcpy(copy, payload, len);
	ch = &x->win[(x->win_head + x->win_count) % x->cfg.window_chunks];
	x->sent_cum_bytes += len;
	*ch = (struct xport_chunk){
		.seq = x->next_seq,
		.first_step = first_step,
		.cum_bytes = x->sent_cum_bytes,
		.crc = crc32c(0, copy, len),
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

int xport_send_progress(struct xport *x, uint64_t step)
{
	x->progress_step = step;
	x->progress_set = true;
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

void xport_set_replayed(struct xport *x, uint64_t steps)
{
	x->steps_replayed = steps;
	x->ack_dirty = true;
	xport_kick(x);
}

bool xport_link_up(const struct xport *x)
{
	return x->active != NULL;
}

uint64_t xport_peer_capabilities(const struct xport *x)
{
	return x->peer_capabilities;
}

void xport_peer_log(const struct xport *x, uint64_t *items, uint32_t *crc, uint64_t *from_item)
{
	*items = x->peer_have_items;
	*crc = x->peer_have_crc32c;
	*from_item = x->peer_have_from_item;
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
		xport_conn_close(c, XPORT_CLOSE_QUIET, "%s", why);
	if (!x->in_io)
		xport_conn_gc(x);
}

int xport_detached_new(const struct xport_config *cfg, const struct xport_callbacks *cb, struct xport **out)
{
	struct xport_conn *c;
	int err = xport_alloc(cfg, cb, out);

	if (err)
		return err;
	(*out)->detached = true;
	c = xport_conn_new(*out, -1, "detached");
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
	if (xport_session_parse(c) == 0)
		xport_conn_flush(c);
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
		xport_session_ready(c);
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
