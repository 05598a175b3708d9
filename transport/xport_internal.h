/* SPDX-License-Identifier: MIT */
/* Private layout of the transport: buffers, connections, the channel's sender and receiver state. */
#ifndef TRANSPORT_XPORT_INTERNAL_H
#define TRANSPORT_XPORT_INTERNAL_H

#include "transport/xport.h"

#include <openssl/ssl.h>

#include "hv/crc32c.h"
#include "proto/ftvm.pb-c.h"

/* The largest TLS record's plaintext (RFC 8446 section 5.1). */
#define XPORT_RECORD 16384u

/* Bytes [off, len) of data are valid. */
struct xport_buf {
	uint8_t *data;
	size_t off, len, cap;
};

enum conn_state {
	CONN_TCP_CONNECTING,
	CONN_TLS_HANDSHAKE,
	CONN_HELLO,        /* TLS up, waiting for the peer's Hello */
	CONN_READY,        /* the channel's active session */
	CONN_CLOSED,       /* released at the next collection */
};

struct xport_conn {
	struct xport *x;
	struct xport_conn *next;
	enum conn_state state;
	int fd;
	SSL *ssl;
	char peer[80];
	struct xport_buf rx;      /* plaintext received, frames being cut from it */
	struct xport_buf tx;      /* plaintext frames not yet sealed */
	struct xport_buf out;     /* sealed TLS records not yet taken by the socket */
	uint64_t started_ms, last_rx_ms, last_hb_ms;
	uint64_t send_seq;        /* next window sequence to put on this connection */
	bool want_write;          /* the socket took less than we had */
};

struct xport_chunk {
	uint64_t seq, first_step;
	uint64_t cum_bytes;       /* payload bytes of every chunk up to and including this one */
	uint32_t crc;
	uint32_t len;
	uint8_t *payload;
};

struct xport {
	struct xport_config cfg;
	struct xport_callbacks cb;
	char goodbye[128];		/* the reason xport_free gives */
	struct xport_loop *loop;
	SSL_CTX *ctx;
	int listen_fd;
	int64_t timer_id;
	uint64_t tick_ms;
	struct xport_conn *conns;
	struct xport_conn *active;
	uint64_t redial_ms;       /* connector: when to dial next, 0 when a dial is in progress */
	unsigned fail_streak;     /* connector: attempts in a row that never reached a session */
	int in_io;                /* nesting of connection processing: defer flushes to its end */
	bool detached;            /* no network: fuzzing and codec tests */

	/* sender */
	struct xport_chunk *win;  /* ring of window_chunks entries, oldest unacked at win_head */
	uint32_t win_head, win_count;
	uint64_t win_bytes;
	uint8_t *ring;            /* the chunks' payloads, in window order; [ring_head, ring_tail) in use */
	size_t ring_cap, ring_head, ring_tail;
	uint64_t next_seq;        /* sequence the next accepted chunk gets */
	uint64_t acked_seq, acked_cum_bytes, sent_cum_bytes, max_sent_seq;
	uint64_t credit_seq_limit, credit_bytes_limit;
	uint64_t progress_step;
	bool progress_set;	/* sent at least once: every new session says it again, even step 0 */
	bool progress_dirty;

	/* receiver */
	uint64_t recv_seq;
	uint32_t recv_credit_chunks;
	uint64_t recv_credit_bytes;
	uint64_t steps_replayed;
	uint64_t recv_unacked_bytes;  /* payload delivered since the last Ack was queued */
	bool ack_dirty;
	uint64_t peer_have_items;     /* the peer's last Hello: the log it holds */
	uint32_t peer_have_crc32c;
	uint64_t peer_have_from_item;
	uint64_t peer_capabilities;   /* ... and what it can take (XPORT_CAP_*) */

	struct xport_stats st;
	/* A peer that keeps refusing for the same reason is logged at the 1st, 2nd, 4th, 8th... time. */
	char refused_why[256];
	uint64_t refused_times;
};

enum xport_close_kind {
	XPORT_CLOSE_QUIET,     /* our own decision, info */
	XPORT_CLOSE_LOST,      /* the network or the peer went away */
	XPORT_CLOSE_PROTOCOL,  /* the peer broke the protocol */
};

/* conn.c: one TCP + TLS connection on the event loop. */
struct xport_conn *xport_conn_new(struct xport *x, int fd, const char *peer);
/* Logs why, counts it, releases the socket and TLS state; the struct goes at the next xport_conn_gc(). */
void __attribute__((format(printf, 3, 4)))
xport_conn_close(struct xport_conn *c, enum xport_close_kind kind, const char *fmt, ...);
void xport_conn_gc(struct xport *x);
/* Encodes env with our epoch onto the connection's send queue; closes the connection on failure. */
__attribute__((warn_unused_result)) int xport_conn_put(struct xport_conn *c, Ftvm__Envelope *env);
/* Queues one LogChunk frame; a large payload is sealed straight from the window, not copied. */
__attribute__((warn_unused_result)) int xport_conn_put_chunk(struct xport_conn *c, const struct xport_chunk *ch);
/* Bytes queued on the connection, plaintext and sealed. */
size_t xport_conn_queued(const struct xport_conn *c);
/* Fills the send queue from the session and writes until done or the socket pushes back. */
void xport_conn_flush(struct xport_conn *c);
void xport_conn_update_events(struct xport_conn *c);
__attribute__((warn_unused_result)) int xport_conn_listen(struct xport *x);
/* Starts a non-blocking dial to cfg.host; on failure sets the next attempt's time. */
int xport_conn_dial(struct xport *x);
/* The channel's timer: handshake timeouts, session ticks, redial. */
int64_t xport_conn_tick(struct xport_loop *loop, uint64_t id, void *arg);

/* xport.c */
/* Releases the oldest window chunk (acknowledged). */
void xport_window_pop(struct xport *x);

/* session.c: the protocol spoken on a connection once TLS is up. */
__attribute__((warn_unused_result)) int xport_session_hello(struct xport_conn *c);
/* Queues pending Ack and Progress and as many window chunks as fit; -EIO once the connection closed. */
__attribute__((warn_unused_result)) int xport_session_fill(struct xport_conn *c);
void xport_session_ready(struct xport_conn *c);
/* Dispatches every whole frame in rx; -EPROTO once the connection was dropped. */
__attribute__((warn_unused_result)) int xport_session_parse(struct xport_conn *c);
void xport_session_tick(struct xport_conn *c, uint64_t now_ms);

/* frame.c */
__attribute__((warn_unused_result)) int xport_buf_reserve(struct xport_buf *b, size_t more);
void xport_buf_free(struct xport_buf *b);
/* Appends one frame holding env; -ENOMEM or -EMSGSIZE. */
__attribute__((warn_unused_result)) int xport_frame_put(struct xport_buf *b, const Ftvm__Envelope *env);
/*
 * Looks at the front of b: returns 1 with body and body_len set when a whole
 * frame is there, 0 when more bytes are needed (after reserving room for
 * them), -EMSGSIZE for a zero or oversized length, -ENOMEM.
 */
__attribute__((warn_unused_result)) int xport_frame_next(struct xport_buf *b, const uint8_t **body, uint32_t *body_len);

/* A LogChunk frame's header: at most this many bytes, then the payload. */
#define XPORT_CHUNK_HEAD_MAX 64
size_t xport_frame_chunk_head(uint8_t *out, uint64_t epoch, uint64_t seq, uint64_t first_step, uint32_t crc,
			      size_t payload_len);

/* A received LogChunk, its payload still inside the frame. */
struct xport_chunk_view {
	uint64_t epoch, seq, first_step;
	uint32_t crc;
	const uint8_t *payload;
	size_t len;
};
/* True when body is an Envelope of epoch and LogChunk only, each field once; false: use the generic decoder. */
bool xport_frame_chunk_view(const uint8_t *body, size_t len, struct xport_chunk_view *v);

/* tls.c */
__attribute__((warn_unused_result)) int xport_tls_ctx(const struct xport_config *cfg, SSL_CTX **out);
/* The most recent OpenSSL error queue entry and the verify result as one string. */
const char *xport_tls_error(SSL *ssl, char *buf, size_t size);

/*
 * Detached channel for fuzzers and codec tests: no socket, no TLS; what it
 * would send is discarded. xport_detached_feed() pushes stream bytes through
 * the frame decoder; xport_detached_message() hands one encoded message of
 * the given Envelope body case to its handler (the session is made ready
 * first, except for Hello). Both return 0, or -EPROTO once the peer was dropped.
 */
__attribute__((warn_unused_result)) int xport_detached_new(const struct xport_config *cfg, const struct xport_callbacks *cb,
							   struct xport **out);
int xport_detached_feed(struct xport *x, const uint8_t *data, size_t len);
int xport_detached_message(struct xport *x, int body_case, const uint8_t *data, size_t len);

#endif
