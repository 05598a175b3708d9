/* SPDX-License-Identifier: MIT */
/* The replication channel: mutually authenticated TLS 1.3, framed protobuf, credit, heartbeats, resume. */
#ifndef TRANSPORT_XPORT_H
#define TRANSPORT_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/evloop.h"

/* Wire format version carried in Hello; see proto/ftvm.proto for the rules. */
#define XPORT_FORMAT_MAJOR 1
#define XPORT_FORMAT_MINOR 1

/*
 * Hello.capabilities bits. CHECKPOINT: a receiver that has not begun to
 * replay takes a checkpoint of the log before the log's items, as LogChunks
 * whose payload starts with FT_CKPT_PIECE_MAGIC (primary/pair.h) instead of
 * a log item's magic.
 */
#define XPORT_CAP_CHECKPOINT (1u << 0)
/* Its Hello's CRC covers its log's last items (have_from_item), and it can start a trimmed log. */
#define XPORT_CAP_TRIMMED (1u << 1)

/* A frame is a 4-byte big-endian length and that many bytes of Envelope. */
#define XPORT_MAX_FRAME (4u << 20)
/* Largest LogChunk payload that still fits a frame with its envelope. */
#define XPORT_MAX_PAYLOAD (XPORT_MAX_FRAME - 256u)

struct xport;

enum xport_mode {
	XPORT_LISTEN = 1,
	XPORT_CONNECT = 2,
};

enum xport_role {
	XPORT_ROLE_PRIMARY = 1,
	XPORT_ROLE_BACKUP = 2,
};

struct xport_config {
	enum xport_mode mode;
	enum xport_role role;
	const char *host;       /* listen address (NULL: any) or peer address */
	const char *port;
	const char *cert_file;  /* our certificate, signed by the CA */
	const char *key_file;
	const char *ca_file;    /* the only CA trusted for the peer */
	const char *peer_name;  /* the DNS SAN the peer's certificate must carry */
	const char *vm_id;      /* both ends must agree; NULL or "" sends and accepts "" */
	const uint8_t *image_digest;
	size_t image_digest_len;
	uint64_t epoch;         /* fencing epoch; frames of any other epoch drop the link */
	uint32_t heartbeat_ms;  /* 0: 200 */
	uint32_t dead_ms;       /* silence after which the link is dropped; 0: 5 * heartbeat */
	uint32_t reconnect_ms;  /* connector: delay before redialling; 0: 100 */
	/* Sender: unacknowledged chunks kept for retransmission (0: 256 chunks, 64 MiB). */
	uint32_t window_chunks;
	uint64_t window_bytes;
	/* Receiver: credit granted at start, and whether delivery re-grants it automatically. */
	uint32_t credit_chunks;
	uint64_t credit_bytes;
	bool auto_credit;
	/*
	 * Receiver: the log it already holds, told to the sender in Hello (1.1):
	 * items (0: none) and the CRC-32C of their bytes. The owner decides what
	 * they mean; the channel only carries them (xport_peer_log).
	 */
	uint64_t have_items;
	uint32_t have_crc32c;
	uint64_t have_from_item;	/* with XPORT_CAP_TRIMMED: the CRC covers the header and items from here */
	/* What this side can take, told in Hello (XPORT_CAP_*; the channel only carries them). */
	uint64_t capabilities;
};

struct xport_callbacks {
	/* A new chunk, in sequence order, each sequence number exactly once. */
	void (*on_chunk)(void *arg, uint64_t seq, uint64_t first_step, const uint8_t *payload, size_t len);
	/* The peer acknowledged up to acked_seq; credit may have changed, so retry a refused send. */
	void (*on_ack)(void *arg, uint64_t acked_seq, uint64_t steps_replayed);
	void (*on_progress)(void *arg, uint64_t step);
	/* The authenticated session came up (Hello exchanged) or went down. */
	void (*on_link)(void *arg, bool up);
	/*
	 * An authenticated peer spoke for a newer epoch than ours (its Hello or
	 * any later frame): we may have been superseded. The connection is
	 * already refused; the channel keeps retrying with our epoch.
	 */
	void (*on_epoch)(void *arg, uint64_t peer_epoch);
	/* The peer said Goodbye with this reason (a planned switchover names its step); the link then goes down. */
	void (*on_goodbye)(void *arg, const char *reason);
	void *arg;
};

struct xport_stats {
	uint64_t chunks_sent;        /* first transmissions */
	uint64_t chunks_resent;      /* retransmissions after a reconnect */
	uint64_t payload_bytes_sent;
	uint64_t chunks_received;    /* delivered to on_chunk */
	uint64_t chunks_duplicate;   /* already had them: dropped */
	uint64_t payload_bytes_received;
	uint64_t acks_received;
	uint64_t acks_sent;
	uint64_t no_credit;          /* sends refused for lack of credit or window */
	uint64_t sessions;           /* authenticated sessions established */
	uint64_t handshake_failures; /* TLS or Hello refused */
	uint64_t protocol_errors;    /* peers dropped for bad frames or messages */
	uint64_t dead_peers;         /* links dropped by the heartbeat timeout */
	uint64_t next_seq;           /* sender: next sequence number to assign */
	uint64_t acked_seq;          /* sender: highest sequence the peer acknowledged */
	uint64_t recv_seq;           /* receiver: highest contiguous sequence received */
	uint64_t peer_epoch_seen;    /* highest epoch other than ours an authenticated peer sent (0: none) */
};

/* Creates a listener or a connector and registers it with loop; it starts at once. */
__attribute__((warn_unused_result)) int xport_new(struct xport_loop *loop, const struct xport_config *cfg,
						  const struct xport_callbacks *cb, struct xport **out);
/* The reason the Goodbye of xport_free gives (default "shutting down"); copied. */
void xport_set_goodbye(struct xport *x, const char *reason);
/* Says Goodbye on a live link (best effort) and releases everything. */
void xport_free(struct xport *x);

/*
 * Queues one LogChunk and sends it when the link is up. Returns 0 and the
 * assigned sequence number, -ENOBUFS when the peer's credit or the local
 * retransmit window is exhausted (nothing is queued: retry after on_ack),
 * -EMSGSIZE above XPORT_MAX_PAYLOAD.
 */
__attribute__((warn_unused_result)) int xport_send_chunk(struct xport *x, uint64_t first_step,
							 const void *payload, size_t len, uint64_t *seq_out);
/* Announces the primary's instruction count (latest value wins; resent after reconnect). */
__attribute__((warn_unused_result)) int xport_send_progress(struct xport *x, uint64_t step);
/* Receiver: grants more credit and sends an Ack with it. */
__attribute__((warn_unused_result)) int xport_grant_credit(struct xport *x, uint32_t chunks, uint64_t bytes);
/* Receiver: the replay position reported in the next Ack (sent now if the link is up). */
void xport_set_replayed(struct xport *x, uint64_t steps);

bool xport_link_up(const struct xport *x);
/* What the peer's Hello on the current (or last) session said it holds: 0 items from a 1.0 peer. */
void xport_peer_log(const struct xport *x, uint64_t *items, uint32_t *crc32c, uint64_t *from_item);
/* The capabilities the peer's Hello on the current (or last) session named (0 from one that knows none). */
uint64_t xport_peer_capabilities(const struct xport *x);
/* Chunks accepted but not yet acknowledged. */
uint64_t xport_unacked(const struct xport *x);
void xport_get_stats(const struct xport *x, struct xport_stats *st);
/* The listener's bound port (useful with port "0"), or -1. */
int xport_local_port(const struct xport *x);
/* The negotiated TLS cipher suite of the live session, or "none". */
const char *xport_cipher(const struct xport *x);
/*
 * Closes every connection abruptly, logging why; unacknowledged chunks stay
 * in the window and are sent again on the next session. A connector redials
 * after reconnect_ms; a listener keeps listening and takes the peer's redial.
 */
void xport_drop_link(struct xport *x, const char *why);

#endif
