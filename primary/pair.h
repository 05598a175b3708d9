/* SPDX-License-Identifier: MIT */
/* pair: what the primary and backup daemons share: options, the arbiter, the control socket, status. */
#ifndef PRIMARY_PAIR_H
#define PRIMARY_PAIR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/exit.h"
#include "hv/hv.h"
#include "transport/evloop.h"

/* Fields the vCPU or replay thread and the event loop both touch. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)

/* The daemon's last word on what it is doing, for its log and 'ftvm status' (any thread). */
struct ft_note {
	pthread_mutex_t lock;
	char text[256];
};
void ft_note_init(struct ft_note *n);
void ft_note_set(struct ft_note *n, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ft_note_get(struct ft_note *n, char *buf, size_t len);
void ft_note_fini(struct ft_note *n);
double ft_now_s(void);

/* Why a daemon stopped its VM, in the one exit-code table (cli/exit.h). */
#define FT_EXIT_FENCED FTVM_EXIT_FENCED
#define FT_EXIT_PEER_REFUSED FTVM_EXIT_PEER_REFUSED

/* Everything both daemons take on their command line. */
struct ft_opts {
	struct hv_config cfg;
	const char *name, *peer_name;	/* certificate names: ours and the peer's */
	const char *certs;		/* DIR with ca.crt, NAME.crt, NAME.key (ftvm certs init) */
	const char *addr;		/* --peer (primary) or --listen (backup): HOST:PORT */
	const char *switch_addr;	/* the other: where this side listens or dials after 'ftvm promote' */
	const char *from_snapshot;	/* --from: go on from a switchover's snapshot with the same log */
	uint64_t handover_epoch;	/* --handover-epoch: the epoch the new primary takes at a switchover */
	bool take_back;			/* --take-back: our primary died alone in handover_epoch - 1 */
	int argc;			/* the command line, to start again in the other role */
	char **argv;
	const char *arbiter;		/* lock:PATH */
	const char *log_path;		/* this side's copy of the replay log */
	const char *control;		/* unix socket for 'ftvm status' (optional) */
	const char *vm_id;
	bool fsync;
	bool force_epoch;		/* primary: start even if another side owns the epoch */
	uint32_t heartbeat_ms, dead_ms, max_lag_ms;
	uint64_t buffer_bytes;		/* backup: received but not yet replayed */
	uint32_t checkpoint_s;		/* backup: save the replaying machine this often (0: never) */
	char *default_kernel, *default_initrd;
	char host[256], port[16];
	char ca_file[4096], cert_file[4096], key_file[4096];
};

/*
 * Planned switchover: this process becomes the other role (argv[0] swapped,
 * --from snapshot appended, names pinned), as the same pid with the same
 * options. The old primary, becoming the backup, also passes the epoch the
 * new primary takes (handover_epoch; 0 for the new primary). A primary that
 * died alone starts again as the backup of its own log (snapshot NULL: it
 * replays the log from its start; take_back: it takes the guest back only
 * while the arbiter still holds its own epoch). Returns only on failure
 * (-errno).
 */
int ft_exec_role(const struct ft_opts *o, bool to_primary, const char *snapshot, uint64_t handover_epoch,
		 bool take_back);
/*
 * A backup that took the guest over hands it to the primary's code in the
 * same process: its session, which records on into its log from where the
 * replay ended (rr_session_record_after_replay with ft_primary_record_opts,
 * commit_on_log: alone), not yet live; the arbiter that gave it epoch; the
 * images' digest.
 */
struct rr_session;
struct rr_session_record_opts;
struct ft_adoption {
	struct rr_session *s;
	struct ft_arbiter *arb;
	uint64_t epoch;
	uint8_t digest[32];
	/* for the go-live figures (ft_now_s): primary lost, epoch won, replay done */
	double lost_at, won_at, replayed_at;
	uint64_t take_trips;
	/* the log it took over with: items, and the CRC-32C of its header and items from log_from (ft_log_tail_crc) */
	uint64_t log_items, log_from;
	uint32_t log_crc;
};
/* How the primary records: the options of its session, but for the slice hook. */
void ft_primary_record_opts(const struct ft_opts *o, struct rr_session_record_opts *ro);
/*
 * Go live and serve a backup that returns at o->addr (o as for the primary:
 * see ft_opts_other_role). Takes s and arb (a's fields are cleared).
 */
int ft_primary_adopt(const struct ft_opts *o, struct ft_adoption *a);
/* HOST:PORT into its parts (the sizes of struct ft_opts's host and port); -EINVAL when it is not one. */
int ft_addr_split(const char *addr, char host[256], char port[16]);
/* The options of the other role: the addresses swap (the other one's must be set). */
int ft_opts_other_role(const struct ft_opts *o, struct ft_opts *out);
/*
 * How long the old primary, now the backup, waits for the new primary of a
 * switchover to connect before it takes the guest back itself.
 */
uint32_t ft_handover_grace_ms(const struct ft_opts *o);
/* Where a switchover leaves this side's snapshot: beside its log. */
void ft_switch_snapshot_path(const struct ft_opts *o, char *buf, size_t len);
/*
 * Checkpoints (primary/pair_ckpt.c): the machine saved beside the log
 * (LOG.ckpt) every every_s seconds by a forked child; a host that starts
 * again on that log replays from there. Calls from the thread that runs the
 * machine, between two runs of it.
 */
struct ft_ckpt {
	char path[4200];
	const char *who;	/* "primary" or "backup", for the log */
	uint32_t every_s;	/* 0: never */
	/* ftvm record --checkpoint-s: each saved checkpoint also trims the log before its place (rr_log_trim). */
	bool trim_log;
	/* ... only when its place is at or before this log item (atomic; UINT64_MAX: anywhere) */
	uint64_t trim_upto;
	char log_path[4096];
	pid_t pid;		/* the writer running now */
	uint64_t step;
	double started, last;
	/* Shared with the event loop (atomics): it asks for one now; the writer's outcomes are counted. */
	int asap;
	uint64_t saved, failed;
};
void ft_ckpt_init(struct ft_ckpt *c, const char *log_path, uint32_t every_s, const char *who);
/* Start one when due or asked for (and reap the last). */
void ft_ckpt_maybe(struct ft_ckpt *c, struct rr_session *s);
/* Has the writer finished? stop_now: the machine is done with: kill it if not. */
void ft_ckpt_reap(struct ft_ckpt *c, bool stop_now);
/*
 * A checkpoint sent over the log channel, before the log's items, to a
 * backup that has not begun to replay and lacks the checkpoint's place in
 * the log (XPORT_CAP_CHECKPOINT; docs/pair-protocol.md). Each piece is one
 * LogChunk: the magic, its offset and the file's size (u64 little-endian),
 * then up to FT_CKPT_PIECE_DATA bytes of the file.
 */
#define FT_CKPT_PIECE_MAGIC "FTVMCKPT"
#define FT_CKPT_PIECE_HEADER 24
#define FT_CKPT_PIECE_DATA (1u << 20)
#define FT_CKPT_MAX_BYTES (80ULL << 30)	/* 64 GiB of RAM and an overlay: anything larger is not ours */

struct ft_ckpt_send {
	int fd;
	uint64_t size, off, steps, place_items;
	uint8_t *buf;
	size_t piece_len;	/* the piece in buf, until taken */
};
/*
 * Sender: 1 and s ready when path is a checkpoint of the log at log_path
 * (its header's SHA-256) at a place past the peer's first peer_items items;
 * 0 when there is none worth sending (why says so); <0 on a read error.
 */
int ft_ckpt_send_open(struct ft_ckpt_send *s, const char *path, const char *log_path, uint64_t peer_items,
		      char *why, size_t why_len) __attribute__((warn_unused_result));
/* The next piece (the same until taken; valid until the next call): 1, 0 once all were taken, <0 on a read error. */
int ft_ckpt_send_next(struct ft_ckpt_send *s, const uint8_t **piece, size_t *len)
	__attribute__((warn_unused_result));
void ft_ckpt_send_taken(struct ft_ckpt_send *s);
void ft_ckpt_send_close(struct ft_ckpt_send *s);

struct ft_ckpt_recv {
	int fd;			/* path's, while pieces arrive */
	uint64_t size, got;
	bool whole;
	char path[4300];	/* LOG.ckpt.recv */
};
bool ft_ckpt_is_piece(const uint8_t *payload, size_t len);
void ft_ckpt_recv_init(struct ft_ckpt_recv *r, const char *ckpt_path);
/* Receiver: write one piece at its place. <0 (why) when it is not the next piece of a file of sane size, or the write failed. */
int ft_ckpt_recv_piece(struct ft_ckpt_recv *r, const uint8_t *payload, size_t len, char *why, size_t why_len);
/*
 * The whole file received replaces ckpt_path when it is a checkpoint of the
 * log whose header has SHA-256 header_sha and stands past own_steps (the
 * checkpoint this side has, 0: none): 1 (*steps: its step), else 0 with why,
 * and the received file is removed.
 */
int ft_ckpt_recv_take(struct ft_ckpt_recv *r, const char *ckpt_path, const uint8_t header_sha[32],
		      uint64_t own_steps, uint64_t *steps, char *why, size_t why_len);
void ft_ckpt_recv_drop(struct ft_ckpt_recv *r);

/*
 * A log file's last items, whole or trimmed (primary/pair_log.c): the CRC a
 * peer's Hello tells of them (XPORT_CAP_TRIMMED) covers the header and the
 * last FT_LOG_TAIL_ITEMS items, or every item after a hole when fewer.
 * Items: the header is 0, chunk n is n + 1.
 */
struct rr_header;
#define FT_LOG_TAIL_ITEMS 64u
/* A primary's Goodbye to a backup that holds less than its trimmed log and cannot take a checkpoint now. */
#define FT_GOODBYE_TRIMMED "the primary's log was trimmed past this backup's, which takes a checkpoint only when it starts: start it again"
struct ft_log_tail {
	uint64_t header_bytes;		/* item 0, at offset 0 */
	uint64_t first_item, first_off;	/* the first chunk (1 and header_bytes: not trimmed) */
	uint64_t items;			/* the last whole item's index + 1 (0: not even a header) */
	uint64_t end, end_step;		/* where the last whole item ends; its end step */
	uint64_t off[FT_LOG_TAIL_ITEMS];	/* item i starts at off[i % FT_LOG_TAIL_ITEMS] (the last ones) */
};
void ft_log_tail_start(struct ft_log_tail *t, uint64_t header_bytes);
/* Item item, at off for len bytes, was appended after the last (or after a hole, when it is the first chunk). */
void ft_log_tail_add(struct ft_log_tail *t, uint64_t item, uint64_t off, uint64_t len, uint64_t end_step);
/*
 * Read the log in fd from its start (the file offset moves) up to
 * max_items whole items: <0 when its header cannot be read (why; -EAGAIN:
 * torn inside it), else 0 with why saying what ended the scan early, if anything.
 */
int ft_log_tail_scan(int fd, struct ft_log_tail *t, uint64_t max_items, struct rr_header *h, char *why,
		     size_t why_len) __attribute__((warn_unused_result));
/* What a Hello tells of t: from (the first item its CRC covers after the header) and the CRC. */
int ft_log_tail_crc(int fd, const struct ft_log_tail *t, uint64_t *from, uint32_t *crc)
	__attribute__((warn_unused_result));
/*
 * Does our log in fd hold a peer's first have items, told as from and want?
 * 1 yes (t: our log up to them), 0 no (why), -ESTALE when we trimmed what
 * its check covers, <0 when our log cannot be read. The file offset moves.
 */
int ft_log_check(int fd, uint64_t have, uint64_t from, uint32_t want, struct ft_log_tail *t, char *why,
		 size_t why_len) __attribute__((warn_unused_result));
/* A reader of a daemon's log holds it so: no trim punches it meanwhile (rr_log_trim). Till fd closes. */
int ft_log_hold(int fd) __attribute__((warn_unused_result));

/* One digest of the images both sides must share: kernel, initrd, firmware, disk, memory, harts, command line. */
int ft_image_digest(const struct hv_config *cfg, uint8_t out[32], char *err, size_t err_len)
	__attribute__((warn_unused_result));

/*
 * The arbiter: a compare-and-set of the pair's epoch and owner on a store
 * both hosts reach. Nobody goes live or carries on alone without winning it.
 * lock:PATH is a file under flock(2); etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
 * [?cacert=F&cert=F&key=F&timeout_ms=N&lease_s=N] an etcd v3 cluster (see
 * primary/arbiter_etcd.c). Calls block for at most the spec's time bound;
 * an unreachable store is -EIO with a message naming what failed where.
 */
struct ft_arbiter;
int ft_arbiter_open(const char *spec, struct ft_arbiter **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/* The current epoch (0 if never set) and its owner. -errno if the store cannot be reached. */
int ft_arbiter_read(struct ft_arbiter *a, uint64_t *epoch, char *owner, size_t owner_len,
		    char *err, size_t err_len) __attribute__((warn_unused_result));
/* Set epoch expect+1 and owner if the epoch is still expect: 0 won, -EAGAIN lost (err names the winner). */
int ft_arbiter_take(struct ft_arbiter *a, uint64_t expect, const char *owner, char *err,
		    size_t err_len) __attribute__((warn_unused_result));
const char *ft_arbiter_name(const struct ft_arbiter *a);
/*
 * Own epoch, which this host's previous process won (a switchover's new
 * primary, started again): keepalive then checks it as for one won here.
 */
void ft_arbiter_adopt(struct ft_arbiter *a, uint64_t epoch, const char *owner);
/* Requests made to the store so far (for the benchmark's round trips per failover). */
uint64_t ft_arbiter_round_trips(const struct ft_arbiter *a);
void ft_arbiter_free(struct ft_arbiter *a);
/*
 * The owner's lease (etcd; lock: has none: keepalive does nothing, the lease
 * is always valid, lease_ms is 0). Call keepalive every lease_ms / 3 from
 * start-up on. It keeps a lease at hand, so that take is one round trip;
 * once this side owns an epoch it renews the lease and reads the epoch back
 * (-EAGAIN, err naming the winner, when it moved: stop), revokes the previous
 * owner's lease after a win, and after a lapse re-attaches a new lease only
 * if the epoch is still ours. lease_valid: this side owns an epoch and its
 * lease surely lives on the store at now_ms (CLOCK_MONOTONIC milliseconds);
 * safe from any thread. Calls other than lease_valid: one thread at a time.
 */
int ft_arbiter_keepalive(struct ft_arbiter *a, char *err, size_t err_len)
	__attribute__((warn_unused_result));
bool ft_arbiter_lease_valid(const struct ft_arbiter *a, uint64_t now_ms);
uint64_t ft_arbiter_lease_ms(const struct ft_arbiter *a);
/*
 * After a win: how long the side must hold its output if it did not protect
 * the previous owner (a side that was its synced backup needs no wait: output
 * commit). 0 for lock:, and for etcd when the previous owner's lease had
 * already lapsed; else 1.1 lease_ms (docs/split-brain.md, case 2).
 */
uint64_t ft_arbiter_takeover_wait_ms(const struct ft_arbiter *a);

/* Status: filled by the daemon on request, printed as text or JSON by the control socket. */
struct ft_status {
	const char *role;		/* "primary", "backup", "live (was backup)", "stopped" */
	const char *protocol;		/* the pair's protocol: pair_sm's state ("protected", "following"...) */
	uint64_t epoch;
	const char *arbiter;
	char lease[64];			/* "none", "valid (2000 ms)", "LAPSED (2000 ms)" */
	const char *peer;
	bool link_up, protected_;
	uint64_t steps;			/* this side's machine */
	uint64_t peer_steps;		/* the other side's, as last heard */
	uint64_t lag_steps;
	double lag_ms;
	uint64_t buffer_bytes, buffer_cap_bytes;
	uint64_t log_bytes;
	double log_bytes_per_s;
	double paused_s;
	uint64_t pauses;
	uint64_t held_outputs, held_bytes, released_outputs;
	uint64_t held_wait_ns_total;	/* primary: sealing to release, summed over released outputs */
	double ack_rtt_us_p50, ack_rtt_us_p99;	/* primary: chunk handed to the channel to its ack, recent */
	double last_heartbeat_ms_ago;
	uint64_t chunks_sent, chunks_acked, chunks_received;
	char note[256];
};
typedef void ft_status_fn(void *opaque, struct ft_status *st);
/* The lease part of a status, from the arbiter (any thread). */
void ft_status_lease(struct ft_status *st, const struct ft_arbiter *a);

/* Serve 'ftvm status' on a unix socket (mode 0600, peers of another uid refused) from loop. */
struct ft_control;
int ft_control_open(struct xport_loop *loop, const char *path, ft_status_fn *fn, void *opaque,
		    struct ft_control **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));
void ft_control_close(struct ft_control *c);
/* Format a status as text or as one JSON object (a NUL-terminated string in buf). */
void ft_status_format(const struct ft_status *st, bool json, char *buf, size_t len);

/* A request other than status (its line: "promote", "protect ..."): answer in reply, on the daemon's loop thread. */
typedef void ft_command_fn(void *opaque, const char *cmd, char *reply, size_t len);
void ft_control_set_command(struct ft_control *c, ft_command_fn *fn);

/* The daemons, with their options parsed (cli/pair.c); each returns its exit status (cli/exit.h). */
int ft_primary_run(const struct ft_opts *o);
int ft_backup_run(const struct ft_opts *o);

#endif
