/* SPDX-License-Identifier: MIT */
/* The session protocol on a connection: Hello, LogChunk with credit, Ack, Progress, heartbeats, resume. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <string.h>

#include "transport/log.h"

/* Stop encoding chunks once this much is waiting for the socket. */
#define XPORT_TX_HIGH (512u << 10)

int xport_session_hello(struct xport_conn *c)
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
	h.have_items = cfg->have_items;
	h.have_crc32c = cfg->have_crc32c;
	h.have_from_item = cfg->have_from_item;
	h.capabilities = cfg->capabilities;
	env.body_case = FTVM__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	return xport_conn_put(c, &env);
}

/* Encodes pending control messages and as many window chunks as the socket can take soon. */
int xport_session_fill(struct xport_conn *c)
{
	struct xport *x = c->x;
	Ftvm__Envelope env = FTVM__ENVELOPE__INIT;

	if (c->state != CONN_READY)
		return 0;
	if (x->ack_dirty) {
		Ftvm__Ack a = FTVM__ACK__INIT;

		a.acked_seq = x->recv_seq;
		a.steps_replayed = x->steps_replayed;
		a.credit_chunks = x->recv_credit_chunks;
		a.credit_bytes = x->recv_credit_bytes;
		env.body_case = FTVM__ENVELOPE__BODY_ACK;
		env.ack = &a;
		if (xport_conn_put(c, &env))
			return -EIO;
		x->ack_dirty = false;
		x->recv_unacked_bytes = 0;
		x->st.acks_sent++;
	}
	if (x->progress_dirty) {
		Ftvm__Progress p = FTVM__PROGRESS__INIT;

		p.step = x->progress_step;
		env.body_case = FTVM__ENVELOPE__BODY_PROGRESS;
		env.progress = &p;
		if (xport_conn_put(c, &env))
			return -EIO;
		x->progress_dirty = false;
	}
	while (c->send_seq < x->next_seq && xport_conn_queued(c) < XPORT_TX_HIGH) {
		uint32_t idx = (uint32_t)((x->win_head + (c->send_seq - x->acked_seq - 1)) % x->cfg.window_chunks);
		const struct xport_chunk *ch = &x->win[idx];

		if (xport_conn_put_chunk(c, ch))
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
void xport_session_ready(struct xport_conn *c)
{
	struct xport *x = c->x;

	if (x->active && x->active != c)
		xport_conn_close(x->active, XPORT_CLOSE_QUIET, "replaced by a newer session from %s", c->peer);
	x->active = c;
	x->fail_streak = 0;
	c->state = CONN_READY;
	c->send_seq = x->acked_seq + 1;
	x->ack_dirty = true;
	x->progress_dirty = x->progress_set;
	x->st.sessions++;
	x->refused_times = 0;
	x->refused_why[0] = 0;
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
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "format %u.%u not accepted (ours %u.%u)", h->format_major,
			   h->format_minor, XPORT_FORMAT_MAJOR, XPORT_FORMAT_MINOR);
		return -EPROTO;
	}
	if (h->role != want) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "peer role %d, expected %d", (int)h->role, (int)want);
		return -EPROTO;
	}
	if (h->epoch != x->cfg.epoch) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "wrong epoch %llu in Hello (ours %llu)", (unsigned long long)h->epoch,
			   (unsigned long long)x->cfg.epoch);
		return -EPROTO;
	}
	if (strcmp(h->vm_id ? h->vm_id : "", vm) != 0) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "peer serves VM \"%.64s\", expected \"%.64s\"", h->vm_id, vm);
		return -EPROTO;
	}
	if (x->cfg.image_digest_len && h->n_image_digests &&
	    (h->image_digests[0].len != x->cfg.image_digest_len ||
	     memcmp(h->image_digests[0].data, x->cfg.image_digest, x->cfg.image_digest_len) != 0)) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "image digest differs");
		return -EPROTO;
	}
	x->peer_have_items = h->have_items;
	x->peer_have_crc32c = h->have_crc32c;
	x->peer_have_from_item = h->have_from_item;
	x->peer_capabilities = h->capabilities;
	xport_session_ready(c);
	return 0;
}

static int handle_chunk(struct xport_conn *c, const struct xport_chunk_view *m)
{
	struct xport *x = c->x;

	if (m->seq <= x->recv_seq) {
		x->st.chunks_duplicate++;
		x->ack_dirty = true;
		return 0;
	}
	if (m->seq != x->recv_seq + 1) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "sequence gap: chunk %llu, expected %llu", (unsigned long long)m->seq,
			   (unsigned long long)x->recv_seq + 1);
		return -EPROTO;
	}
	if (!x->recv_credit_chunks || m->len > x->recv_credit_bytes) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "chunk %llu (%zu bytes) exceeds the granted credit",
			   (unsigned long long)m->seq, m->len);
		return -EPROTO;
	}
	if (crc32c(0, m->payload, m->len) != m->crc) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "chunk %llu checksum mismatch", (unsigned long long)m->seq);
		return -EPROTO;
	}
	x->recv_seq = m->seq;
	if (!x->cfg.auto_credit) {
		x->recv_credit_chunks--;
		x->recv_credit_bytes -= m->len;
	}
	x->st.chunks_received++;
	x->st.payload_bytes_received += m->len;
	x->recv_unacked_bytes += m->len;
	x->ack_dirty = true;
	if (x->cb.on_chunk)
		x->cb.on_chunk(x->cb.arg, m->seq, m->first_step, m->payload, m->len);
	return 0;
}

static int handle_ack(struct xport_conn *c, const Ftvm__Ack *a)
{
	struct xport *x = c->x;

	if (a->acked_seq >= x->next_seq) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "ack for unsent chunk %llu (next %llu)", (unsigned long long)a->acked_seq,
			   (unsigned long long)x->next_seq);
		return -EPROTO;
	}
	if (a->acked_seq < x->acked_seq) {
		log_debug("transport: stale ack %llu from %s", (unsigned long long)a->acked_seq, c->peer);
		return 0;
	}
	while (x->win_count && x->win[x->win_head].seq <= a->acked_seq)
		xport_window_pop(x);
	x->acked_seq = a->acked_seq;
	if (c->send_seq <= x->acked_seq)
		c->send_seq = x->acked_seq + 1;
	x->credit_seq_limit = x->acked_seq + a->credit_chunks;
	x->credit_bytes_limit = x->acked_cum_bytes + a->credit_bytes;
	x->st.acks_received++;
	if (x->cb.on_ack)
		x->cb.on_ack(x->cb.arg, a->acked_seq, a->steps_replayed);
	return 0;
}

/*
 * What every frame must pass before its body counts: our epoch, and Hello
 * first and only once. A peer of a newer epoch is reported to the owner, who
 * may have been superseded (invariant 5): TLS authenticated it, so its word
 * on the epoch is trusted, though we do not talk to it.
 */
static int check_envelope(struct xport_conn *c, uint64_t epoch, int body_case)
{
	struct xport *x = c->x;

	if (epoch != x->cfg.epoch) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "wrong epoch %llu (ours %llu)", (unsigned long long)epoch,
				 (unsigned long long)x->cfg.epoch);
		if (epoch > x->st.peer_epoch_seen)
			x->st.peer_epoch_seen = epoch;
		if (epoch > x->cfg.epoch && x->cb.on_epoch)
			x->cb.on_epoch(x->cb.arg, epoch);
		return -EPROTO;
	}
	if ((c->state == CONN_HELLO) != (body_case == FTVM__ENVELOPE__BODY_HELLO)) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL,
				 c->state == CONN_HELLO ? "message type %d before Hello" : "repeated Hello", body_case);
		return -EPROTO;
	}
	return 0;
}

static int handle_frame(struct xport_conn *c, const uint8_t *body, uint32_t len)
{
	struct xport *x = c->x;
	struct xport_chunk_view view;
	Ftvm__Envelope *env;
	int err = 0;

	/* Log chunks, nearly all the bytes on the wire, are read in place. */
	if (xport_frame_chunk_view(body, len, &view)) {
		if (check_envelope(c, view.epoch, FTVM__ENVELOPE__BODY_CHUNK))
			return -EPROTO;
		return handle_chunk(c, &view);
	}
	env = ftvm__envelope__unpack(NULL, len, body);
	if (!env) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "undecodable frame (%u bytes)", len);
		return -EPROTO;
	}
	if (env->body_case == FTVM__ENVELOPE__BODY__NOT_SET) {
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "unknown message type (field %u)",
			   env->base.n_unknown_fields ? env->base.unknown_fields[0].tag : 0);
		err = -EPROTO;
		goto out;
	}
	err = check_envelope(c, env->epoch, (int)env->body_case);
	if (err)
		goto out;
	switch (env->body_case) {
	case FTVM__ENVELOPE__BODY_HELLO:
		err = handle_hello(c, env->hello);
		break;
	case FTVM__ENVELOPE__BODY_CHUNK:
		view = (struct xport_chunk_view){
			.seq = env->chunk->seq,
			.first_step = env->chunk->first_step,
			.crc = env->chunk->crc32c,
			.payload = env->chunk->payload.data,
			.len = env->chunk->payload.len,
		};
		err = handle_chunk(c, &view);
		break;
	case FTVM__ENVELOPE__BODY_ACK:
		err = handle_ack(c, env->ack);
		break;
	case FTVM__ENVELOPE__BODY_PROGRESS:
		if (x->cb.on_progress)
			x->cb.on_progress(x->cb.arg, env->progress->step);
		break;
	case FTVM__ENVELOPE__BODY_HEARTBEAT:
		if (env->heartbeat->epoch != x->cfg.epoch) {
			xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "wrong epoch %llu in heartbeat",
				   (unsigned long long)env->heartbeat->epoch);
			err = -EPROTO;
		}
		break;
	case FTVM__ENVELOPE__BODY_GOODBYE:
		if (x->cb.on_goodbye)
			x->cb.on_goodbye(x->cb.arg, env->goodbye->reason ? env->goodbye->reason : "");
		xport_conn_close(c, XPORT_CLOSE_QUIET, "peer said goodbye: %.128s", env->goodbye->reason);
		err = -EPROTO;
		break;
	default:
		xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "unknown message type %d", (int)env->body_case);
		err = -EPROTO;
		break;
	}
out:
	ftvm__envelope__free_unpacked(env, NULL);
	return err;
}

/* Dispatches every whole frame in rx; -EPROTO once the connection was dropped. */
int xport_session_parse(struct xport_conn *c)
{
	for (;;) {
		const uint8_t *body;
		uint32_t len;
		int r = xport_frame_next(&c->rx, &body, &len);

		if (r == 0)
			return 0;
		if (r == -EMSGSIZE) {
			xport_conn_close(c, XPORT_CLOSE_PROTOCOL, "%s frame length %u (limit %u)", len ? "oversized" : "empty", len,
				   XPORT_MAX_FRAME);
			return -EPROTO;
		}
		if (r < 0) {
			xport_conn_close(c, XPORT_CLOSE_QUIET, "out of memory for a frame");
			return r;
		}
		if (handle_frame(c, body, len))
			return -EPROTO;
	}
}

/* Drops a silent peer; sends a heartbeat when one is due. */
void xport_session_tick(struct xport_conn *c, uint64_t now_ms)
{
	struct xport *x = c->x;

	if (now_ms - c->last_rx_ms > x->cfg.dead_ms) {
		x->st.dead_peers++;
		xport_conn_close(c, XPORT_CLOSE_LOST, "peer silent for %llu ms", (unsigned long long)(now_ms - c->last_rx_ms));
		return;
	}
	if (now_ms - c->last_hb_ms >= x->cfg.heartbeat_ms) {
		Ftvm__Envelope env = FTVM__ENVELOPE__INIT;
		Ftvm__Heartbeat hb = FTVM__HEARTBEAT__INIT;

		hb.mono_us = xport_now_us();
		hb.epoch = x->cfg.epoch;
		env.body_case = FTVM__ENVELOPE__BODY_HEARTBEAT;
		env.heartbeat = &hb;
		c->last_hb_ms = now_ms;
		if (xport_conn_put(c, &env) == 0)
			xport_conn_flush(c);
		xport_conn_update_events(c);
	}
}
