/* SPDX-License-Identifier: MIT */
/* rr: record and replay of a machine's inputs through the replay log (log.h). */
#ifndef HV_RR_H
#define HV_RR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hv/hv.h"
#include "hv/rr/log.h"
#include "hv/snapshot.h"

struct rq;

/*
 * One file per kind of non-determinism, each with save (a guest event as the
 * determinism layer applies it -> a log event) and load (log -> guest event);
 * applying is hv_inject() for all of them.
 */
int rr_console_save(const struct hv_event *in, struct rr_event *out);
int rr_console_load(const struct rr_event *in, struct hv_event *out);
int rr_net_save(const struct hv_event *in, struct rr_event *out);
int rr_net_load(const struct rr_event *in, struct hv_event *out);
int rr_clock_save(const struct hv_event *in, struct rr_event *out);
int rr_clock_load(const struct rr_event *in, struct hv_event *out);
/* Dispatch on kind; -EINVAL for kinds that carry no input. */
int rr_event_load(const struct rr_event *in, struct hv_event *out);

/*
 * What a snapshot, a pair's Hello and a backup's checkpoint name a log or its
 * images by: the SHA-256 of the header, encoded anew (the encoding is canonical).
 */
int rr_header_sha256(const struct rr_header *h, uint8_t out[32]) __attribute__((warn_unused_result));
/* The identity of a machine's images, for the log header and for replay's check. */
int rr_header_fill(struct rr_header *h, const struct hv_config *cfg, bool virtual_clock,
		   uint64_t digest_interval, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/*
 * The same on a second thread, so the images are hashed while the machine
 * loads them: *h (and cfg's strings) must stay until rr_header_fill_finish,
 * which waits for it and returns rr_header_fill's result and message.
 */
struct rr_header_job;
int rr_header_fill_start(struct rr_header_job **job, struct rr_header *h, const struct hv_config *cfg,
			 bool virtual_clock, uint64_t digest_interval, char *err, size_t err_len)
	__attribute__((warn_unused_result));
int rr_header_fill_finish(struct rr_header_job *job, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/* Refuse to replay on images that differ from the recorded ones, naming the file. */
int rr_header_check(const struct rr_header *h, const struct hv_config *cfg, char *err,
		    size_t err_len) __attribute__((warn_unused_result));
/* The header's own fields only: for a replay that starts from a snapshot, which checks its disk itself. */
int rr_header_check_fields(const struct rr_header *h, char *err, size_t err_len)
	__attribute__((warn_unused_result));

#define RR_DEFAULT_DIGEST_INTERVAL 50000000ULL

/* Recorder: events and digests into chunks, through the replay queue to a log file. */
/*
 * Where a log read to its end stops, for a recorder that goes on with it
 * (rr_record_opts.continue_at) without reading it again.
 */
struct rr_log_end {
	uint64_t items;		/* the header and the chunks */
	uint64_t bytes;		/* their length: a torn chunk after them is not part of it */
	uint64_t end_step;	/* where the last chunk ends */
	uint64_t events;	/* every event, checks and digests too */
	uint64_t last_ev_seq, last_ev_step;	/* the chunk and step of the last one */
	enum rr_kind last_ev_kind;
	uint32_t last_ev_in_chunk;		/* its place in its chunk, from 1 */
	uint64_t last_digest_step;	/* 0: none seen (after a seek, perhaps one before it) */
};
struct rr_recorder;
struct rr_record_stats {
	uint64_t events, checks, digests, chunks, bytes;
	uint64_t pauses, paused_ns;
};
int rr_recorder_open(struct rr_recorder **out, const char *path, const struct rr_header *h,
		     char *err, size_t err_len) __attribute__((warn_unused_result));

#define RR_MAX_EXTRA_CONSUMERS 2
struct rr_record_opts {
	const char *path;	/* the local log file, or NULL for none */
	bool fsync;		/* fdatasync each chunk before it counts as written */
	/*
	 * Called once the log up to end_step is in the file (synced with fsync): from the writer
	 * thread, or from the recording thread for a local log without fsync or other consumers.
	 */
	void (*on_written)(void *opaque, uint64_t end_step);
	/* Called, from the same thread, when the file cannot be written: nothing after is safe. */
	void (*on_error)(void *opaque, int err);
	void *opaque;
	int extra_consumers;	/* readers of the replay queue besides the file (the network sender) */
	size_t queue_items;	/* 0: the default bound */
	/* Close a chunk at least this often while the guest runs (0: 20 ms with events, 1 s without). */
	uint32_t flush_ms;
	/*
	 * Go on with the log at path instead of starting one: its header is kept
	 * (h is not used; the log's goes to *header_out), a torn tail is cut off,
	 * and the next chunk follows its last. The queue then holds no header: its
	 * first item is the first new chunk, numbered on from the items in the
	 * file (rq_start_at). The machine must stand where the log ends
	 * (rr_session_record_opts.from_snapshot checks that).
	 */
	bool continue_log;
	struct rr_header *header_out;
	/*
	 * With continue_log, where the log stops, known already (a player read
	 * it to its end): the file is not read again but cut to the length the
	 * player read, and h is its header.
	 */
	const struct rr_log_end *continue_at;
	/*
	 * Without continue_at: the events the log holds from its start, known
	 * from a snapshot of its end (0: counted). A trimmed log no longer says.
	 */
	uint64_t continue_events;
};
/*
 * The stream, file and queue alike, is the log header followed by chunks;
 * every queue item is tagged with the step its chunk ends at (0 for the header).
 */
int rr_recorder_open_opts(struct rr_recorder **out, const struct rr_record_opts *o,
			  const struct rr_header *h, char *err, size_t err_len)
	__attribute__((warn_unused_result));
struct rq *rr_recorder_queue(struct rr_recorder *r);
/* Any thread: how many queue items (the header, then chunks) the file holds so far. */
uint64_t rr_recorder_items_written(const struct rr_recorder *r);
/* The replay-queue consumer id of extra consumer i. */
int rr_recorder_consumer(const struct rr_recorder *r, int i);
/* Close the open chunk now (output is waiting on it); nothing if nothing happened since the last. */
int rr_record_flush(struct rr_recorder *r, struct hv_machine *m) __attribute__((warn_unused_result));
/* Record one input event (preceded by a CHECK of the state it lands on). */
int rr_record_event(struct rr_recorder *r, struct hv_machine *m, const struct hv_event *ev)
	__attribute__((warn_unused_result));
/* At a slice boundary: a DIGEST when one is due, and close the chunk when it is time. */
int rr_record_slice(struct rr_recorder *r, struct hv_machine *m)
	__attribute__((warn_unused_result));
/* The guest stopped (or the user stopped the recorder): END, flush, stop the writer. */
int rr_record_end(struct rr_recorder *r, struct hv_machine *m, enum rr_end_reason why);
/* Stop without END, the log open for a recorder that continues it from a snapshot at this step. */
int rr_record_finish_open(struct rr_recorder *r, struct hv_machine *m);
/* Where the log stands (after rr_record_flush or rr_record_finish_open: every event in a chunk). */
void rr_recorder_position(const struct rr_recorder *r, struct hv_snapshot_logpos *pos);
void rr_recorder_close(struct rr_recorder *r, struct rr_record_stats *st);

/* Player: drives a machine along a log, applying and checking events. */
struct rr_player;
enum rr_play_result {
	RR_PLAY_REACHED,	/* at the target step count */
	RR_PLAY_LOG_END,	/* the log has nothing more (see rr_player_end) */
	RR_PLAY_DIVERGED,	/* the machine does not match the log (message) */
	RR_PLAY_CORRUPT,	/* the log is damaged (message) */
};
struct rr_play_status {
	uint64_t events, checks, digests, chunks;
	uint64_t last_match_step;	/* last step where a check or digest matched */
	uint64_t log_end_step;	/* how far the log lets the machine run */
	bool saw_end;
	enum rr_end_reason end_reason;
	char msg[768];
};
int rr_player_open(struct rr_player **out, const char *path, struct rr_header *h, char *err,
		   size_t err_len) __attribute__((warn_unused_result));
/* The same over a stream that may block for more (the backup's feed); f stays the caller's. */
int rr_player_open_stream(struct rr_player **out, FILE *f, const char *name, struct rr_header *h,
			  char *err, size_t err_len) __attribute__((warn_unused_result));
/* Run m to step target (UINT64_MAX: as far as the log goes). */
enum rr_play_result rr_player_run(struct rr_player *p, struct hv_machine *m, uint64_t target,
				  struct rr_play_status *st);
/* How the log ended: "clean end (poweroff)", "partial chunk at offset ...", "end of file". */
const char *rr_player_end(const struct rr_player *p);
void rr_player_close(struct rr_player *p);
/* Apply CHECK and DIGEST events without comparing (a known-bad replay in a bisection). */
void rr_player_set_verify(struct rr_player *p, bool verify);

/* Where the player stands in its log, for a snapshot of the machine it drives (hv/snapshot.h). */
void rr_player_position(const struct rr_player *p, struct hv_snapshot_logpos *pos);
/*
 * Before the first rr_player_run: pass over the events a snapshot's machine
 * has applied already, checking that this is the log it was following;
 * machine_step is the loaded machine's step. The run then goes on from there.
 * A trimmed log (rr_log_trim) is read from the snapshot's chunk on; a log
 * trimmed past it, or a 1.1 snapshot on a trimmed log, is refused.
 */
int rr_player_seek(struct rr_player *p, const struct hv_snapshot_logpos *pos, uint64_t machine_step,
		   struct rr_play_status *st, char *err, size_t err_len) __attribute__((warn_unused_result));
/*
 * After a run that ended with RR_PLAY_LOG_END on a log with no END (a torn
 * chunk at its end is left out): where it stops. -EPIPE after END, -EINVAL
 * before the log's end.
 */
int rr_player_log_end(const struct rr_player *p, struct rr_log_end *end) __attribute__((warn_unused_result));
/* 0 when the log holds no event after the player's place (*log_end: where its last chunk ends), 1 when it does, <0 corrupt. */
int rr_player_rest(struct rr_player *p, uint64_t *log_end) __attribute__((warn_unused_result));

/* A deliberate divergence for drills: flip one register bit of hart 0 at a step. */
struct rr_perturb {
	bool on;
	uint64_t step;
	int reg, bit;
};

/*
 * Find the first step in (from, to] where the replay with the perturbation
 * departs from a clean replay of the same log: two machines, run to the
 * window, then compared step by step. The report names the step, the
 * instruction and the registers that differ.
 */
int rr_bisect(const char *log, const struct hv_config *cfg, const struct rr_perturb *perturb,
	      uint64_t from, uint64_t to, char *report, size_t report_len);

/*
 * Frees the part of the log at path before the chunk where pos (a snapshot's
 * place) stands: a hole is punched from the end of the header to that chunk,
 * the file keeps its size and the offsets of what follows, so a recorder may
 * still be appending to it. The log then replays only from a snapshot at or
 * after that place (docs/log-format.md, "Trimmed logs"). The chunk must hold
 * the snapshot's last event; a 1.1 snapshot, which does not say where in its
 * chunk it stands, is refused. -EBUSY while another open file holds a
 * shared flock(2) on the log (a daemon serving a peer from it).
 */
struct rr_trim_result {
	uint64_t header_bytes;		/* the hole starts here */
	uint64_t was_seq, was_offset;	/* the first chunk before (was_offset > header_bytes: trimmed before) */
	uint64_t seq, step, offset;	/* the chunk the log starts at now: seq, first step, offset */
	uint64_t freed_bytes, kept_bytes;	/* disk space given back, and still used */
};
int rr_log_trim(const char *path, const struct hv_snapshot_logpos *pos, struct rr_trim_result *res, char *err,
		size_t err_len) __attribute__((warn_unused_result));

#endif
