/* SPDX-License-Identifier: MIT */
/* session: record a machine live with output commit, or replay a log and go live where it ends. */
#include "hv/rr/session.h"
#include "hv/errmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rr_session {
	struct hv_config cfg;
	struct live lv;
	bool live_ready;
	struct hv_machine *m;
	/* recording */
	struct rr_recorder *rec;
	struct oc *oc;
	int commit_on_log;		/* atomic: the writer thread reads it */
	int frames_at_once;		/* atomic: release frames on the thread that moves the safe step */
	uint64_t written_step;	/* atomic: the local log is written up to here */
	uint64_t acked_step;	/* atomic: the backup acknowledged the log up to here */
	bool has_log;
	bool flush_on_input;
	int (*on_slice)(void *opaque, struct hv_machine *m);
	void *on_slice_opaque;
	bool open_ended_ok;		/* a stop leaves the log without END */
	bool open_ended;		/* ... and this one did, */
	struct hv_snapshot_logpos end_pos;	/* where the log then stopped */
	/* replaying */
	struct rr_player *player;
	struct rr_header h;
};

static int record_apply(void *opaque, struct hv_machine *m, const struct hv_event *ev)
{
	struct rr_session *s = opaque;
	int rc = rr_record_event(s->rec, m, ev);

	/* A frame in goes out to the backup at once: lost with a dying primary, the client must resend it. */
	if (!rc && s->flush_on_input && ev->kind == HV_EV_NET_RX)
		rc = rr_record_flush(s->rec, m);
	return rc ? rc : hv_inject(m, ev);
}

static int record_slice(void *opaque, struct hv_machine *m)
{
	struct rr_session *s = opaque;
	int rc = rr_record_slice(s->rec, m);

	if (!rc && s->on_slice)
		rc = s->on_slice(s->on_slice_opaque, m);
	return rc;
}

static int record_commit(void *opaque, struct hv_machine *m)
{
	struct rr_session *s = opaque;

	return rr_record_flush(s->rec, m);
}

/*
 * Output of step s leaves once the log vouches for s: written here (the
 * recorder's writer thread says so), and, when a backup vouches too, its ack.
 * Both values only grow and each side reads the other's after storing its
 * own, so the last of the two to move releases what both allow.
 */
static void log_written(void *opaque, uint64_t end_step)
{
	struct rr_session *s = opaque;

	__atomic_store_n(&s->written_step, end_step, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->commit_on_log, __ATOMIC_SEQ_CST)) {
		oc_set_safe(s->oc, end_step);
	} else {
		uint64_t acked = __atomic_load_n(&s->acked_step, __ATOMIC_SEQ_CST);
		oc_set_safe(s->oc, acked < end_step ? acked : end_step);
	}
	if (__atomic_load_n(&s->frames_at_once, __ATOMIC_ACQUIRE))
		live_release_frames(&s->lv);
}

static void log_failed(void *opaque, int err)
{
	struct rr_session *s = opaque;

	oc_fail(s->oc, err);
}

/* The live loop and the machine on s->cfg, with dirty pages tracked for the digests. */
static int start_machine(struct rr_session *s, const struct live_opts *lo, bool quiet, char *err,
			 size_t err_len)
{
	int rc = live_init(&s->lv, lo, err, err_len);

	if (rc)
		return rc;
	s->live_ready = true;
	s->lv.mute_console = quiet;
	rc = hv_machine_create(&s->cfg, &live_host_ops, &s->lv, &s->m, err, err_len);
	if (rc)
		return rc;
	rc = hv_track_dirty(s->m);
	if (rc)
		hv_errf(err, err_len, "out of memory");
	return rc;
}

/* The machine a snapshot holds, and the player moved to where that machine was in the log. */
static int resume_machine(struct rr_session *s, const struct rr_session_replay_opts *o,
			  const struct live_opts *lo, char *err, size_t err_len)
{
	struct hv_snapshot_logpos pos;
	struct rr_play_status st = { 0 };
	char why[512];
	int rc = live_init(&s->lv, lo, err, err_len);

	if (rc)
		return rc;
	s->live_ready = true;
	s->lv.mute_console = o->quiet;
	rc = hv_machine_create_from_snapshot(o->from_snapshot, &s->cfg, &live_host_ops, &s->lv, &s->m,
					     &pos, err, err_len);
	if (rc)
		return rc;
	if ((uint64_t)hv_nharts(s->m) != s->h.smp || hv_mem_bytes(s->m) != s->h.mem_bytes) {
		hv_errf(err, err_len, "snapshot %s: a machine of %d harts and %llu bytes, the log's has %u "
			"and %llu", o->from_snapshot, hv_nharts(s->m), (unsigned long long)hv_mem_bytes(s->m),
			s->h.smp, (unsigned long long)s->h.mem_bytes);
		return -EINVAL;
	}
	rc = hv_track_dirty(s->m);
	if (rc) {
		hv_errf(err, err_len, "out of memory");
		return rc;
	}
	rc = rr_player_seek(s->player, &pos, hv_steps(s->m), &st, why, sizeof(why));
	if (rc)
		hv_errf(err, err_len, "snapshot %s: %s", o->from_snapshot, why);
	return rc;
}

int rr_session_log_position(struct rr_session *s, struct hv_snapshot_logpos *pos, char *err, size_t err_len)
{
	if (s->player) {
		rr_player_position(s->player, pos);
	} else if (s->open_ended) {
		*pos = s->end_pos;
	} else if (s->rec) {
		/* Everything up to this step goes into a chunk first, so the position is in the log. */
		int rc = rr_record_flush(s->rec, s->m);
		if (rc) {
			hv_errf(err, err_len, "log: %s", strerror(-rc));
			return rc;
		}
		rr_recorder_position(s->rec, pos);
	} else {
		return -ENOENT;
	}
	return 0;
}

int rr_session_save_snapshot(struct rr_session *s, const char *path, char *err, size_t err_len)
{
	struct hv_snapshot_logpos pos;
	int rc = rr_session_log_position(s, &pos, err, err_len);

	if (rc && rc != -ENOENT)
		return rc;
	return hv_snapshot_save(s->m, path, rc ? NULL : &pos, err, err_len);
}

/*
 * The machine a snapshot holds, for a recording that continues the log the
 * snapshot was taken in: the snapshot must name this log and stand at its end.
 */
static int check_continuation(struct rr_session *s, const struct rr_session_record_opts *ro,
			      const struct hv_snapshot_logpos *pos, char *err, size_t err_len)
{
	struct rr_player *p = NULL;
	struct rr_header h;
	struct rr_play_status st = { 0 };
	uint64_t end = 0;
	char why[512];
	int rc = rr_player_open(&p, ro->log_path, &h, err, err_len);

	if (rc)
		return rc;
	rc = rr_player_seek(p, pos, hv_steps(s->m), &st, why, sizeof(why));
	if (rc) {
		hv_errf(err, err_len, "snapshot %s: %s", ro->from_snapshot, why);
	} else if (rr_player_rest(p, &end) || end != hv_steps(s->m)) {
		hv_errf(err, err_len, "snapshot %s is at step %" PRIu64 ", but log %s runs on to step %" PRIu64
			": a recording continues only from a snapshot of where its log ends",
			ro->from_snapshot, hv_steps(s->m), ro->log_path, end);
		rc = -EINVAL;
	}
	rr_player_close(p);
	return rc;
}

int rr_session_record_open(struct rr_session **out, const struct hv_config *cfg,
			   const struct live_opts *lo, const struct rr_session_record_opts *ro,
			   char *err, size_t err_len)
{
	struct rr_session *s = calloc(1, sizeof(*s));
	struct live_opts o = *lo;
	struct rr_header h;
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->commit_on_log = ro->commit_on_log;
	s->has_log = ro->log_path != NULL;
	s->on_slice = ro->on_slice;
	s->flush_on_input = ro->flush_on_input;
	s->on_slice_opaque = ro->opaque;
	s->oc = oc_new();
	if (!s->oc) {
		rc = -ENOMEM;
		hv_errf(err, err_len, "out of memory");
		goto fail;
	}
	s->open_ended_ok = ro->open_ended;
	o.hooks = (struct live_hooks){ record_apply, record_slice, record_commit, s };
	o.oc = s->oc;
	struct rr_record_opts rop = {
		.path = ro->log_path, .fsync = ro->fsync, .on_written = log_written,
		.on_error = log_failed, .opaque = s, .extra_consumers = ro->extra_consumers,
		.flush_ms = ro->flush_ms,
	};
	if (ro->from_snapshot) {
		struct hv_snapshot_logpos pos;
		rc = live_init(&s->lv, &o, err, err_len);
		if (rc)
			goto fail;
		s->live_ready = true;
		rc = hv_machine_create_from_snapshot(ro->from_snapshot, cfg, &live_host_ops, &s->lv, &s->m,
						     &pos, err, err_len);
		rc = rc ?: hv_track_dirty(s->m);
		rc = rc ?: check_continuation(s, ro, &pos, err, err_len);
		if (rc)
			goto fail;
		rop.continue_log = true;
		rop.continue_events = pos.events;	/* it stands at the log's end (check_continuation) */
		rop.header_out = &s->h;
		rc = rr_recorder_open_opts(&s->rec, &rop, NULL, err, err_len);
		if (rc)
			goto fail;
		hv_set_digest_hash(s->m, (enum hv_digest_hash)s->h.digest_hash);	/* the continued log's */
	} else {
		/* The images are hashed for the log header while the machine loads them. */
		struct rr_header_job *job;
		char merr[512] = "";
		rc = rr_header_fill_start(&job, &h, cfg, lo->virtual_clock, ro->digest_interval, err, err_len);
		if (rc)
			goto fail;
		int mrc = start_machine(s, &o, false, merr, sizeof(merr));
		rc = rr_header_fill_finish(job, err, err_len);	/* an image's own error first, as before */
		if (!rc && mrc) {
			hv_errf(err, err_len, "%s", merr);
			rc = mrc;
		}
		h.digest_hash = ro->digest_sha256 ? RR_DIGEST_HASH_SHA256 : RR_DIGEST_HASH_XXH3;
		if (!rc)
			hv_set_digest_hash(s->m, (enum hv_digest_hash)h.digest_hash);
		rc = rc ?: rr_recorder_open_opts(&s->rec, &rop, &h, err, err_len);
		if (rc)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	rr_session_close(s);
	return rc;
}

int rr_session_record_after_replay(struct rr_session *s, const struct rr_session_record_opts *ro, char *err,
				   size_t err_len)
{
	struct rr_log_end end;
	int rc;

	if (!s->player || s->rec || !ro->log_path) {
		hv_errf(err, err_len, "only a replay can go on recording its log file");
		return -EINVAL;
	}
	rc = rr_player_log_end(s->player, &end);
	if (rc == -EPIPE) {
		hv_errf(err, err_len, "the log ends with END (the run it records ended): nothing can follow");
		return -EINVAL;
	}
	if (rc || end.end_step != hv_steps(s->m)) {
		hv_errf(err, err_len, "the replay stands at step %" PRIu64 ", not at the end of its log",
			hv_steps(s->m));
		return -EINVAL;
	}
	if (ro->log_bytes_unread < 0 && (uint64_t)-ro->log_bytes_unread > end.bytes) {
		hv_errf(err, err_len, "the log's reader stopped %" PRIu64 " bytes in, and %" PRId64 " more of them "
			"were not the file's", end.bytes, -ro->log_bytes_unread);
		return -EINVAL;
	}
	end.bytes += (uint64_t)ro->log_bytes_unread;
	s->oc = oc_new();
	if (!s->oc) {
		hv_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	struct rr_record_opts rop = {
		.path = ro->log_path, .fsync = ro->fsync, .on_written = log_written, .on_error = log_failed,
		.opaque = s, .extra_consumers = ro->extra_consumers, .flush_ms = ro->flush_ms,
		.continue_log = true, .continue_at = &end,
	};
	rc = rr_recorder_open_opts(&s->rec, &rop, &s->h, err, err_len);
	if (rc) {
		oc_free(s->oc);
		s->oc = NULL;
		return rc;
	}
	s->commit_on_log = ro->commit_on_log;
	s->has_log = true;
	s->on_slice = ro->on_slice;
	s->on_slice_opaque = ro->opaque;
	s->flush_on_input = ro->flush_on_input;
	/* The live loop is idle between runs: from here its inputs are recorded and its outputs held. */
	s->lv.o.hooks = (struct live_hooks){ record_apply, record_slice, record_commit, s };
	s->lv.o.oc = s->oc;
	rr_player_close(s->player);
	s->player = NULL;
	return 0;
}

static enum rr_end_reason end_reason(enum live_end e)
{
	switch (e) {
	case LIVE_END_POWEROFF: return RR_END_POWEROFF;
	case LIVE_END_REBOOT: return RR_END_REBOOT;
	case LIVE_END_FAIL: return RR_END_FAIL;
	default: return RR_END_STOPPED;
	}
}

enum live_end rr_session_end_of(enum rr_end_reason why)
{
	switch (why) {
	case RR_END_REBOOT: return LIVE_END_REBOOT;
	case RR_END_FAIL: return LIVE_END_FAIL;
	case RR_END_POWEROFF: return LIVE_END_POWEROFF;
	default: return LIVE_END_USER;
	}
}

int rr_session_record_run(struct rr_session *s, struct live_result *res)
{
	int rc = live_run(&s->lv, s->m, res);
	int end_rc;

	/* Stopped, not ended: with open_ended the log stays open for a recorder that continues it. */
	if (__atomic_load_n(&s->open_ended_ok, __ATOMIC_SEQ_CST) && (res->end == LIVE_END_LIMIT || res->end == LIVE_END_USER)) {
		s->open_ended = true;
		end_rc = rr_record_finish_open(s->rec, s->m);
		rr_recorder_position(s->rec, &s->end_pos);
	} else {
		end_rc = rr_record_end(s->rec, s->m, end_reason(res->end));
	}

	if (end_rc)
		rc = end_rc;	/* the writer's own error says more than the loop's */
	if (rc)
		res->end = LIVE_END_HOST_ERROR;
	/* The writer has finished: with the log as the judge, all that is safe goes out now. */
	live_release(&s->lv);
	return rc;
}

void rr_session_set_slice_hook(struct rr_session *s, int (*on_slice)(void *opaque, struct hv_machine *m),
			       void *opaque)
{
	s->on_slice = on_slice;
	s->on_slice_opaque = opaque;
}

void rr_session_set_open_ended(struct rr_session *s, bool open_ended)
{
	__atomic_store_n(&s->open_ended_ok, open_ended, __ATOMIC_SEQ_CST);
}

void rr_session_set_safe(struct rr_session *s, uint64_t step)
{
	oc_set_safe(s->oc, step);
}

void rr_session_set_acked(struct rr_session *s, uint64_t step)
{
	uint64_t cur = __atomic_load_n(&s->acked_step, __ATOMIC_SEQ_CST);

	while (step > cur && !__atomic_compare_exchange_n(&s->acked_step, &cur, step, false, __ATOMIC_SEQ_CST,
							  __ATOMIC_SEQ_CST))
		;
	uint64_t written = s->has_log ? __atomic_load_n(&s->written_step, __ATOMIC_SEQ_CST) : UINT64_MAX;
	oc_set_safe(s->oc, step < written ? step : written);
	if (__atomic_load_n(&s->frames_at_once, __ATOMIC_ACQUIRE))
		live_release_frames(&s->lv);
}

int rr_session_release_frames_at_once(struct rr_session *s)
{
	if (!s->rec || !s->live_ready || !live_frames_any_thread(&s->lv))
		return -ENOTSUP;
	__atomic_store_n(&s->frames_at_once, 1, __ATOMIC_RELEASE);
	return 0;
}

void rr_session_fail_output(struct rr_session *s)
{
	oc_fail(s->oc, -EPERM);
}

void rr_session_commit_on_log(struct rr_session *s)
{
	__atomic_store_n(&s->commit_on_log, 1, __ATOMIC_SEQ_CST);
	oc_set_safe(s->oc, s->has_log ? __atomic_load_n(&s->written_step, __ATOMIC_SEQ_CST)
				      : UINT64_MAX);
}

void rr_session_commit_on_ack(struct rr_session *s)
{
	__atomic_store_n(&s->commit_on_log, 0, __ATOMIC_SEQ_CST);
}

uint64_t rr_session_items_written(struct rr_session *s)
{
	return rr_recorder_items_written(s->rec);
}

uint64_t rr_session_written_step(struct rr_session *s)
{
	return __atomic_load_n(&s->written_step, __ATOMIC_SEQ_CST);
}

void rr_session_stop(struct rr_session *s)
{
	live_stop(&s->lv);
}

void rr_session_release(struct rr_session *s)
{
	live_release(&s->lv);
}

void rr_session_output_stats(struct rr_session *s, struct oc_stats *st)
{
	oc_get_stats(s->oc, st);
}

struct rq *rr_session_queue(struct rr_session *s)
{
	return rr_recorder_queue(s->rec);
}

int rr_session_consumer(struct rr_session *s, int i)
{
	return rr_recorder_consumer(s->rec, i);
}

void rr_session_record_stats(struct rr_session *s, struct rr_record_stats *st)
{
	rr_recorder_close(s->rec, st);
	s->rec = NULL;
}

int rr_session_replay_open(struct rr_session **out, const struct rr_session_replay_opts *o,
			   char *err, size_t err_len)
{
	struct rr_session *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	if (o->log_path)
		rc = rr_player_open(&s->player, o->log_path, &s->h, err, err_len);
	else
		rc = rr_player_open_stream(&s->player, o->log_stream, o->log_name, &s->h, err, err_len);
	if (rc)
		goto fail;
	const struct rr_header *h = &s->h;
	s->cfg = (struct hv_config){
		.mem_bytes = h->mem_bytes, .smp = (int)h->smp, .kernel = o->kernel,
		.initrd = h->has_initrd ? o->initrd : NULL,
		.bios = (h->flags & RR_FLAG_NO_FIRMWARE) ? NULL : o->bios ? o->bios : o->default_bios,
		.append = h->append[0] ? h->append : NULL, .disk = o->disk,
		.net = h->net[0] ? h->net : NULL, .cpu = o->cpu,
	};
	struct live_opts lo = { .virtual_clock = h->flags & RR_FLAG_VIRTUAL_CLOCK, .console_fd = -1,
				.digest_out = stderr };
	if (o->from_snapshot) {
		rc = rr_header_check_fields(h, err, err_len);
		rc = rc ?: resume_machine(s, o, &lo, err, err_len);
	} else {
		rc = rr_header_check(h, &s->cfg, err, err_len);
		rc = rc ?: start_machine(s, &lo, o->quiet, err, err_len);
	}
	if (rc)
		goto fail;
	/* The log's hash, for its DIGESTs and for --digest-at, so a replay's digests match its recording's. */
	hv_set_digest_hash(s->m, (enum hv_digest_hash)h->digest_hash);
	s->lv.keep_tail = true;
	*out = s;
	return 0;
fail:
	rr_session_close(s);
	return rc;
}

const struct rr_header *rr_session_header(const struct rr_session *s)
{
	return &s->h;
}

const struct hv_config *rr_session_config(const struct rr_session *s)
{
	return &s->cfg;
}

struct rr_player *rr_session_player(struct rr_session *s)
{
	return s->player;
}

enum rr_play_result rr_session_replay(struct rr_session *s, uint64_t target, struct rr_play_status *st)
{
	return rr_player_run(s->player, s->m, target, st);
}

/* A RARP announcement from the guest's MAC, as QEMU's announce-self sends after a migration. */
void rr_session_announce(struct rr_session *s)
{
	uint8_t f[60] = { 0 }, mac[6];

	if (!s->lv.have_net || hv_net_mac(s->m, mac))
		return;
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x80, f[13] = 0x35;		/* ethertype RARP */
	f[14] = 0x00, f[15] = 0x01;		/* hardware: Ethernet */
	f[16] = 0x08, f[17] = 0x00;		/* protocol: IPv4 */
	f[18] = 6, f[19] = 4;
	f[20] = 0x00, f[21] = 0x03;		/* reverse request */
	memcpy(f + 22, mac, 6);
	memcpy(f + 32, mac, 6);
	for (int i = 0; i < 3; i++)
		det_net_tx(&s->lv.net, f, sizeof(f));
}

static const char *live_net_spec(const struct rr_session *s, const char *net_spec)
{
	return net_spec ? (strcmp(net_spec, "none") ? net_spec : NULL) : s->cfg.net;
}

int rr_session_park_net(struct rr_session *s, const char *net_spec, char *err, size_t err_len)
{
	const char *spec = live_net_spec(s, net_spec);

	if (!s->live_ready || !spec || !s->cfg.net || s->lv.have_net || strncmp(spec, "tap:", 4))
		return 0;
	return live_park_net(&s->lv, spec, err, err_len);
}

int rr_session_attach_live(struct rr_session *s, const char *net_spec, int console_fd, char *err,
			   size_t err_len)
{
	const char *spec = live_net_spec(s, net_spec);
	int rc;

	live_unpark_net(&s->lv);
	if (spec && s->cfg.net && !s->lv.have_net) {
		rc = live_open_net(&s->lv, spec, err, err_len);
		if (rc)
			return rc;
	}
	rr_session_announce(s);
	live_send_tail(&s->lv);
	if (console_fd >= 0)
		det_console_open(&s->lv.console, console_fd);
	s->lv.mute_console = false;
	return 0;
}

int rr_session_run_live(struct rr_session *s, struct live_result *res)
{
	return live_run(&s->lv, s->m, res);
}

int rr_session_go_live(struct rr_session *s, const char *net_spec, int console_fd,
		       struct live_result *res, char *err, size_t err_len)
{
	int rc = rr_session_attach_live(s, net_spec, console_fd, err, err_len);

	return rc ? rc : rr_session_run_live(s, res);
}

struct hv_machine *rr_session_machine(struct rr_session *s)
{
	return s->m;
}

void rr_session_close(struct rr_session *s)
{
	if (!s)
		return;
	if (s->live_ready)
		live_fini(&s->lv);
	hv_machine_destroy(s->m);
	rr_recorder_close(s->rec, NULL);
	rr_player_close(s->player);
	oc_free(s->oc);
	free(s);
}
