/* SPDX-License-Identifier: MIT */
/* live: runs a machine against the real world, every input passing through the determinism layer. */
#ifndef HV_LIVE_H
#define HV_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hv/rr/det.h"
#include "hv/hv.h"
#include "hv/rr/output_commit.h"

/* Console input to inject at an exact step count (tests, twin runs). */
struct live_input {
	uint64_t step;
	const uint8_t *data;
	size_t len;
};

/* Where recording (or anything else) joins the loop. */
struct live_hooks {
	/* Every event reaches the machine here instead of straight through hv_inject. */
	int (*apply)(void *opaque, struct hv_machine *m, const struct hv_event *ev);
	/* After every slice. */
	int (*slice)(void *opaque, struct hv_machine *m);
	/* Output is waiting on the log: close the open chunk now. */
	int (*commit)(void *opaque, struct hv_machine *m);
	void *opaque;
};

struct live_opts {
	bool virtual_clock;	/* no host time at all: a pure function of the inputs */
	uint64_t max_steps;	/* stop there (0: no limit) */
	int console_fd;		/* host console input, -1 for none */
	const char *net_spec;	/* backend for virtio-net, or NULL */
	const struct live_input *inputs;
	int ninputs;		/* sorted by step */
	const uint64_t *digest_at;
	int ndigest;		/* sorted */
	FILE *digest_out;
	struct live_hooks hooks;
	/* Output commit: outputs wait here until the log that caused them is safe (NULL: none). */
	struct oc *oc;
};

enum live_end {
	LIVE_END_POWEROFF,
	LIVE_END_REBOOT,
	LIVE_END_FAIL,
	LIVE_END_LIMIT,		/* max_steps reached */
	LIVE_END_USER,		/* Ctrl-A x, SIGINT, SIGTERM */
	LIVE_END_STUCK,		/* every hart waits and nothing can wake it */
	LIVE_END_HOST_ERROR,
};

struct live_result {
	enum live_end end;
	int fail_code;
	uint64_t step;
	double wall_s, idle_s;
	double guest_s;		/* guest time that passed, to compare with wall_s */
	uint64_t clock_events, console_bytes, net_frames_in, net_frames_dropped;
	uint64_t commit_waits;	/* times the guest waited for the log with too much output held */
};

/*
 * A replay's last frames: outputs the log caused but that the dead primary
 * may not have let out yet. Going live sends them again, so a client's
 * request already answered in the replayed state gets its answer now rather
 * than after the guest's retransmission timeout. At most repeats, never
 * contradicts: TCP drops a duplicate.
 */
#define LIVE_TAIL_FRAMES 32
struct live_tail {
	uint8_t *frame[LIVE_TAIL_FRAMES];
	size_t len[LIVE_TAIL_FRAMES];
	unsigned next, count;
};

struct live {
	struct live_opts o;
	struct det_clock clock;
	struct det_console console;
	struct det_net net;
	bool have_net;
	bool net_parked;	/* open while replaying, so its link is up: nothing goes out, what comes in is dropped */
	bool mute_console;	/* replay prints nothing until it goes live, if asked */
	bool keep_tail;		/* replaying: keep the last frames for live_send_tail */
	struct live_tail tail;
	volatile int stop_requested;	/* live_stop: another thread ends the run */
	uint64_t commit_flushed;	/* step of the last chunk closed for waiting output */
	int next_input, next_digest;
	struct hv_machine *m;
};

int live_init(struct live *lv, const struct live_opts *o, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/* The host side of the machine's outputs; pass with lv to hv_machine_create. */
extern const struct hv_host_ops live_host_ops;
/* Run m live until it stops; guest time continues from where m's clock stands. */
int live_run(struct live *lv, struct hv_machine *m, struct live_result *res);
/* SIGINT or SIGTERM arrived (live_init installs the handlers): whoever waits outside live_run should stop too. */
bool live_signalled(void);
/* From any thread: end live_run soon (as LIVE_END_USER); wakes it if it sleeps on output commit. */
void live_stop(struct live *lv);
/* Emit the outputs the log now covers (also done inside live_run). */
void live_release(struct live *lv);
/*
 * From the thread that moved the log's safe step: emit the frames it made
 * safe now, instead of when the vCPU thread next looks (the end of its
 * slice, or its wake-up). Only where the backend sends from any thread
 * (live_frames_any_thread); returns how many.
 */
bool live_frames_any_thread(const struct live *lv);
size_t live_release_frames(struct live *lv);
/* Going live: send the replay's last frames again (see struct live_tail), then forget them. */
void live_send_tail(struct live *lv);
/* Attach a network backend later (a replay going live). */
int live_open_net(struct live *lv, const char *spec, char *err, size_t err_len)
	__attribute__((warn_unused_result));
/*
 * Open it while replaying but keep it parked: the replay's frames stay in the
 * tail, nothing is read. live_unpark_net (going live) drops what queued
 * meanwhile and lets frames through.
 */
int live_park_net(struct live *lv, const char *spec, char *err, size_t err_len)
	__attribute__((warn_unused_result));
void live_unpark_net(struct live *lv);
void live_fini(struct live *lv);

#endif
