/* SPDX-License-Identifier: MIT */
/* session: what a host does with a machine: record it live, or replay a log and go live at its end. */
#ifndef HV_SESSION_H
#define HV_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hv/hv.h"
#include "hv/rr/live.h"
#include "hv/rr/rr.h"

struct rr_session;

/* Recording. */
struct rr_session_record_opts {
	const char *log_path;	/* local log file, or NULL (then a consumer must take the queue) */
	bool fsync;		/* output waits until the log is synced, not only written */
	uint64_t digest_interval;
	bool digest_sha256;	/* DIGEST events in SHA-256, as before the log named its hash (default XXH3-128) */
	int extra_consumers;	/* replay-queue readers besides the file (the network sender) */
	/*
	 * Who vouches for outputs: true, the local log once written (ftvm record);
	 * false, the caller through rr_session_set_safe (the backup's acks).
	 */
	bool commit_on_log;
	uint32_t flush_ms;	/* close a chunk at least this often (0: the recorder's default) */
	bool flush_on_input;	/* close the chunk at every received frame (the primary: see record_apply) */
	/* After every slice, on the vCPU thread (the primary's lag bound); nonzero ends the run. */
	int (*on_slice)(void *opaque, struct hv_machine *m);
	void *opaque;
	/*
	 * A run stopped by its step limit or the user ends the log without END,
	 * so that a recorder can go on with it from a snapshot saved at that step
	 * (rr_session_save_snapshot after rr_session_record_run).
	 */
	bool open_ended;
	/*
	 * Go on with the log at log_path from this snapshot, saved where that
	 * log stops (open_ended): the images are not read, cfg gives the disk as
	 * it was at the save, the network and the CPU.
	 */
	const char *from_snapshot;
	/*
	 * rr_session_record_after_replay: bytes of the log file the replay's
	 * stream did not pass on (the backup's feed reads a trimmed log's hole
	 * as a few zero bytes). The file's items end that much past where the
	 * replay's reader stopped.
	 */
	int64_t log_bytes_unread;
};

/* Opens the log, builds the machine and the live loop; lo is copied (hooks and oc are set here). */
int rr_session_record_open(struct rr_session **out, const struct hv_config *cfg,
			   const struct live_opts *lo, const struct rr_session_record_opts *ro,
			   char *err, size_t err_len) __attribute__((warn_unused_result));
/*
 * Runs until the guest or the user stops it, then writes END and flushes.
 * Returns 0, or -errno when the log could not be written (res->end is then
 * LIVE_END_HOST_ERROR and every output after the last safe step stayed held).
 */
int rr_session_record_run(struct rr_session *s, struct live_result *res);
/* Before the run: the on_slice hook of rr_session_record_opts, set later. */
void rr_session_set_slice_hook(struct rr_session *s, int (*on_slice)(void *opaque, struct hv_machine *m),
			       void *opaque);
/* Any thread, before the run ends: whether a stop leaves the log open (as open_ended). */
void rr_session_set_open_ended(struct rr_session *s, bool open_ended);
/* Send the guest's MAC in RARP frames, so bridges learn where it now lives (after a move). */
void rr_session_announce(struct rr_session *s);
/* The log is safe up to step, whatever else (a recorder whose caller vouches for it). */
void rr_session_set_safe(struct rr_session *s, uint64_t step);
/*
 * For the primary: the backup acknowledged the log up to step. Output up to
 * there leaves once the local log (when there is one) is written there too.
 */
void rr_session_set_acked(struct rr_session *s, uint64_t step);
/*
 * Before the run: frames leave on the thread that makes them safe (the one
 * that calls rr_session_set_acked, or the log writer), not when the vCPU
 * thread next looks. -ENOTSUP unless the network backend can send from any
 * thread (a TAP); the vCPU thread then releases them as before.
 */
int rr_session_release_frames_at_once(struct rr_session *s);
/* For the primary: nothing will ever be safe (fenced): hold every output for good (stop the run with rr_session_stop). */
void rr_session_fail_output(struct rr_session *s);
/* For the primary carrying on alone: from now on the local log vouches (or, with none, nothing needs to). */
void rr_session_commit_on_log(struct rr_session *s);
/* For the primary whose backup caught up again: from now on outputs wait for its acks. */
void rr_session_commit_on_ack(struct rr_session *s);
/* Any thread: the local log file holds this many queue items, up to this step. */
uint64_t rr_session_items_written(struct rr_session *s);
uint64_t rr_session_written_step(struct rr_session *s);
/* Any thread: end the run soon. */
void rr_session_stop(struct rr_session *s);
/* vCPU thread (on_slice): emit what is safe now. */
void rr_session_release(struct rr_session *s);
/* vCPU thread: the output-commit figures. */
void rr_session_output_stats(struct rr_session *s, struct oc_stats *st);
struct rq *rr_session_queue(struct rr_session *s);
int rr_session_consumer(struct rr_session *s, int i);
void rr_session_record_stats(struct rr_session *s, struct rr_record_stats *st);

/*
 * Replaying. The guest's outputs are discarded while it replays, but for its
 * last frames, which going live sends again (struct live_tail).
 */
struct rr_session_replay_opts {
	const char *log_path;	/* a file, or */
	FILE *log_stream;	/* a stream that blocks for more (the backup's feed) */
	const char *log_name;	/* for messages with log_stream */
	/* Images (each checked against the log's sha256); bios NULL: the default one. */
	const char *kernel, *initrd, *bios, *default_bios, *disk;
	enum hv_cpu_mode cpu;
	bool quiet;		/* print nothing of the console while replaying */
	/*
	 * Start from this snapshot, taken during a replay of the same log
	 * (rr_session_save_snapshot), instead of booting: the images are not
	 * read, disk must be the image as it was at the save.
	 */
	const char *from_snapshot;
};

int rr_session_replay_open(struct rr_session **out, const struct rr_session_replay_opts *o,
			   char *err, size_t err_len) __attribute__((warn_unused_result));
const struct rr_header *rr_session_header(const struct rr_session *s);
const struct hv_config *rr_session_config(const struct rr_session *s);
struct rr_player *rr_session_player(struct rr_session *s);
/*
 * Save the machine to path between runs (hv/snapshot.h). A replaying
 * session's snapshot names its place in the log, so a replay can go on from
 * it with the rest of the log (rr_session_replay_opts.from_snapshot).
 */
int rr_session_save_snapshot(struct rr_session *s, const char *path, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/*
 * Between runs: where the machine stands in its log, for hv_snapshot_save
 * (a recording closes its chunk first, so the place is in the log).
 * -ENOENT when the session follows no log.
 */
int rr_session_log_position(struct rr_session *s, struct hv_snapshot_logpos *pos, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/* Replay to step target (UINT64_MAX: to the end of the log). */
enum rr_play_result rr_session_replay(struct rr_session *s, uint64_t target, struct rr_play_status *st);

/*
 * Turn a replay that reached the end of its log (RR_PLAY_LOG_END, no END)
 * into a recording that goes on with that log, as a recorder opened with
 * from_snapshot would, without a snapshot: ro->log_path is the log's file
 * (the one replayed, or the one the replayed stream was written to). It is
 * not read again: what follows the last chunk the player read (a torn
 * chunk) is cut. from_snapshot, digest_* and open_ended are not used. Then
 * attach the world and run with rr_session_attach_live and
 * rr_session_record_run.
 */
int rr_session_record_after_replay(struct rr_session *s, const struct rr_session_record_opts *ro, char *err,
				   size_t err_len) __attribute__((warn_unused_result));

/*
 * Go live at the step the replay reached: attach the network (net_spec; NULL
 * keeps the recorded one, "none" none), announce the guest's MAC so bridges
 * learn its new port, take console input from console_fd (-1: none), and run
 * until the guest or the user stops it.
 */
int rr_session_go_live(struct rr_session *s, const char *net_spec, int console_fd,
		       struct live_result *res, char *err, size_t err_len);
/*
 * While replaying, before going live: open the network that going live would
 * attach (same net_spec) when it is a TAP, and keep it parked. A bridge
 * forwards a TAP's frames only once the kernel has seen its link come up
 * (asynchronously: the first frames of a TAP opened at go-live were dropped
 * in about half the drills here; with STP, a forward delay later), and a
 * lost announcement leaves the bridges sending the guest's frames to its old
 * port. Returns 0 when there is nothing to park or it is parked.
 */
int rr_session_park_net(struct rr_session *s, const char *net_spec, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/* The same in two halves: attach the world (network, announcement, console), then run. */
int rr_session_attach_live(struct rr_session *s, const char *net_spec, int console_fd, char *err,
			   size_t err_len) __attribute__((warn_unused_result));
int rr_session_run_live(struct rr_session *s, struct live_result *res);

struct hv_machine *rr_session_machine(struct rr_session *s);
void rr_session_close(struct rr_session *s);

/* A replay log's end reason as the run's end. */
enum live_end rr_session_end_of(enum rr_end_reason why);

#endif
