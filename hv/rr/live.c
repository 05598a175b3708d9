/* SPDX-License-Identifier: MIT */
/* live: the host loop around hv_run: slices, host input, idle sleeps, guest clock. */
#include "hv/rr/live.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Steps between looks at the host (~3 ms of guest execution). */
#define LIVE_SLICE_STEPS 1000000ULL
/*
 * While output waits for the log, look for its release this often (10-40 us
 * of guest execution): the release waits for the slice that runs when the
 * backup's ack arrives, and 20000 steps made that most of the hold.
 */
#define LIVE_COMMIT_SLICE_STEPS 4000ULL
#define LIVE_MAX_POLLFDS 64

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void write_console(const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* host console gone: the guest keeps running */
		buf += n;
		len -= n;
	}
}

/* Output commit: hold it, and end the slice soon so its chunk can close. */
static bool hold(struct live *lv, enum oc_kind kind, const uint8_t *buf, size_t len)
{
	if (!lv->o.oc)
		return false;
	if (oc_hold(lv->o.oc, kind, buf, len) == 0 && lv->m)
		hv_yield(lv->m);
	return true;
}

static void console_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct live *lv = opaque;

	if (lv->mute_console || hold(lv, OC_CONSOLE, buf, len))
		return;
	write_console(buf, len);
}

static void keep_tail(struct live_tail *t, const uint8_t *frame, size_t len)
{
	uint8_t *copy = malloc(len);

	if (!copy)
		return;
	memcpy(copy, frame, len);
	free(t->frame[t->next]);
	t->frame[t->next] = copy;
	t->len[t->next] = len;
	t->next = (t->next + 1) % LIVE_TAIL_FRAMES;
	if (t->count < LIVE_TAIL_FRAMES)
		t->count++;
}

static void drop_tail(struct live_tail *t)
{
	for (unsigned i = 0; i < LIVE_TAIL_FRAMES; i++) {
		free(t->frame[i]);
		t->frame[i] = NULL;
	}
	t->count = t->next = 0;
}

void live_send_tail(struct live *lv)
{
	struct live_tail *t = &lv->tail;

	if (lv->have_net && !lv->net_parked)
		for (unsigned i = 0; i < t->count; i++) {
			unsigned k = (t->next + LIVE_TAIL_FRAMES - t->count + i) % LIVE_TAIL_FRAMES;
			det_net_tx(&lv->net, t->frame[k], t->len[k]);
		}
	drop_tail(t);
	lv->keep_tail = false;
}

static void net_tx(void *opaque, const uint8_t *frame, size_t len)
{
	struct live *lv = opaque;

	if (!lv->have_net || lv->net_parked) {
		if (lv->keep_tail)
			keep_tail(&lv->tail, frame, len);
		return;
	}
	if (hold(lv, OC_NET, frame, len))
		return;
	det_net_tx(&lv->net, frame, len);
}

static void emit(void *opaque, enum oc_kind kind, const uint8_t *data, size_t len)
{
	struct live *lv = opaque;

	if (kind == OC_CONSOLE && !lv->mute_console)
		write_console(data, len);
	else if (kind == OC_NET && lv->have_net && !lv->net_parked)
		det_net_tx(&lv->net, data, len);
}

bool live_signalled(void)
{
	return stop_signal != 0;
}

void live_stop(struct live *lv)
{
	lv->stop_requested = 1;
	if (lv->o.oc)
		oc_set_safe(lv->o.oc, 0);	/* only to wake a poll on its fd */
}

void live_release(struct live *lv)
{
	if (lv->o.oc)
		oc_release(lv->o.oc, emit, lv);
}

bool live_frames_any_thread(const struct live *lv)
{
	return lv->o.oc && lv->have_net && !lv->net_parked && det_net_tx_any_thread(&lv->net);
}

size_t live_release_frames(struct live *lv)
{
	return live_frames_any_thread(lv) ? oc_release_frames(lv->o.oc, emit, lv) : 0;
}

const struct hv_host_ops live_host_ops = {
	.console_out = console_out,
	.net_tx = net_tx,
};

static int apply(void *opaque, const struct hv_event *ev)
{
	struct live *lv = opaque;

	if (lv->o.hooks.apply)
		return lv->o.hooks.apply(lv->o.hooks.opaque, lv->m, ev);
	return hv_inject(lv->m, ev);
}

int live_init(struct live *lv, const struct live_opts *o, char *err, size_t err_len)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int rc;

	memset(lv, 0, sizeof(*lv));
	lv->o = *o;
	det_clock_init(&lv->clock, o->virtual_clock);
	rc = det_console_open(&lv->console, o->console_fd);
	if (rc)
		return rc;
	if (o->net_spec) {
		rc = live_open_net(lv, o->net_spec, err, err_len);
		if (rc) {
			det_console_close(&lv->console);
			return rc;
		}
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int live_open_net(struct live *lv, const char *spec, char *err, size_t err_len)
{
	int rc = det_net_open(&lv->net, spec, err, err_len);

	if (!rc)
		lv->have_net = true;
	return rc;
}

int live_park_net(struct live *lv, const char *spec, char *err, size_t err_len)
{
	int rc = live_open_net(lv, spec, err, err_len);

	if (!rc)
		lv->net_parked = true;
	return rc;
}

void live_unpark_net(struct live *lv)
{
	if (!lv->net_parked)
		return;
	det_net_discard_pending(&lv->net);
	lv->net_parked = false;
}

void live_fini(struct live *lv)
{
	drop_tail(&lv->tail);
	det_console_close(&lv->console);
	if (lv->have_net)
		det_net_close(&lv->net);
}

/* Poll the host for up to timeout_ms and take in whatever arrived. */
static void poll_host(struct live *lv, int timeout_ms)
{
	struct pollfd pfds[LIVE_MAX_POLLFDS];
	int n = 0, ncons, nnet = 0;

	ncons = det_console_pollfd(&lv->console, &pfds[0]);
	n += ncons;
	if (lv->o.oc)
		pfds[n++] = (struct pollfd){ .fd = oc_fd(lv->o.oc), .events = POLLIN };
	if (lv->have_net) {
		nnet = det_net_pollfds(&lv->net, pfds + n, LIVE_MAX_POLLFDS - n, &timeout_ms);
		n += nnet;
	}
	if (n == 0 && timeout_ms < 0)
		timeout_ms = 1000;
	if (poll(pfds, n, timeout_ms) < 0 && errno != EINTR)
		return;
	if (ncons && (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)))
		det_console_read(&lv->console);
	if (nnet)
		det_net_dispatch(&lv->net, pfds + n - nnet, nnet);
	live_release(lv);
}

/*
 * After a slice: seal the outputs it made, close the chunk they wait on, emit
 * what the log covers; with too much held, wait for the log (counted).
 */
static int commit_outputs(struct live *lv, struct hv_machine *m, struct live_result *res)
{
	struct oc *oc = lv->o.oc;
	int rc;

	if (!oc)
		return 0;
	oc_seal(oc, hv_steps(m));
	/* Close the chunk once for each slice that made output, not on every slice it waits. */
	if (oc_waiting(oc) && oc_last_sealed(oc) > lv->commit_flushed && lv->o.hooks.commit) {
		rc = lv->o.hooks.commit(lv->o.hooks.opaque, m);
		if (rc)
			return rc;
		lv->commit_flushed = hv_steps(m);
	}
	live_release(lv);
	if (oc_over_limit(oc)) {
		res->commit_waits++;
		while (oc_over_limit(oc) && !oc_failed(oc) && !stop_signal && !lv->stop_requested) {
			struct pollfd p = { .fd = oc_fd(oc), .events = POLLIN };
			if (poll(&p, 1, 100) < 0 && errno != EINTR)
				return -errno;
			live_release(lv);
		}
	}
	/* Output failed on purpose by a side told to stop (fenced): that is its stop, not a host error. */
	return lv->stop_requested ? 0 : oc_failed(oc);
}

static int deliver_inputs(struct live *lv, struct hv_machine *m, bool idle)
{
	uint64_t now = hv_steps(m);
	int rc;

	while (lv->next_input < lv->o.ninputs) {
		const struct live_input *in = &lv->o.inputs[lv->next_input];
		if (in->step > now && !idle)
			break;
		det_console_push(&lv->console, in->data, in->len);
		lv->next_input++;
		idle = false;	/* one scripted input per idle wake-up */
	}
	rc = det_console_flush(&lv->console, m, apply, lv);
	if (!rc && lv->have_net)
		rc = det_net_flush(&lv->net, m, apply, lv);
	if (!rc)
		rc = det_clock_tick(&lv->clock, m, apply, lv);
	return rc;
}

static uint64_t slice_budget(const struct live *lv, uint64_t now)
{
	uint64_t end = now + LIVE_SLICE_STEPS;

	if (lv->o.oc && oc_holding(lv->o.oc))
		end = now + LIVE_COMMIT_SLICE_STEPS;

	if (lv->next_input < lv->o.ninputs && lv->o.inputs[lv->next_input].step < end)
		end = lv->o.inputs[lv->next_input].step;
	if (lv->next_digest < lv->o.ndigest && lv->o.digest_at[lv->next_digest] < end)
		end = lv->o.digest_at[lv->next_digest];
	if (lv->o.max_steps && lv->o.max_steps < end)
		end = lv->o.max_steps;
	return end > now ? end - now : 0;
}

static void emit_digests(struct live *lv, struct hv_machine *m)
{
	while (lv->next_digest < lv->o.ndigest && lv->o.digest_at[lv->next_digest] <= hv_steps(m)) {
		uint8_t d[HV_DIGEST_BYTES];
		hv_digest(m, d);
		fprintf(lv->o.digest_out, "digest %llu ", (unsigned long long)hv_steps(m));
		for (int i = 0; i < HV_DIGEST_BYTES; i++)
			fprintf(lv->o.digest_out, "%02x", d[i]);
		fprintf(lv->o.digest_out, "\n");
		fflush(lv->o.digest_out);
		lv->next_digest++;
	}
}

int live_run(struct live *lv, struct hv_machine *m, struct live_result *res)
{
	double t0 = now_s();
	int rc = 0;

	memset(res, 0, sizeof(*res));
	lv->m = m;
	det_clock_sync(&lv->clock, m);
	uint64_t mtime0 = hv_mtime(m);
	for (;;) {
		struct hv_stop_info info;

		if (!lv->o.virtual_clock)
			poll_host(lv, 0);
		rc = deliver_inputs(lv, m, false);
		if (rc)
			goto host_error;
		if (lv->console.quit || stop_signal || lv->stop_requested) {
			res->end = LIVE_END_USER;
			break;
		}
		emit_digests(lv, m);
		if (lv->o.max_steps && hv_steps(m) >= lv->o.max_steps) {
			res->end = LIVE_END_LIMIT;
			break;
		}
		rc = hv_run(m, slice_budget(lv, hv_steps(m)), &info);
		if (rc)
			goto host_error;
		emit_digests(lv, m);
		if (lv->o.hooks.slice) {
			rc = lv->o.hooks.slice(lv->o.hooks.opaque, m);
			if (rc)
				goto host_error;
		}
		rc = commit_outputs(lv, m, res);
		if (rc)
			goto host_error;
		if (info.why == HV_STOP_POWEROFF) {
			res->end = LIVE_END_POWEROFF;
			break;
		}
		if (info.why == HV_STOP_REBOOT) {
			res->end = LIVE_END_REBOOT;
			break;
		}
		if (info.why == HV_STOP_FAIL) {
			res->end = LIVE_END_FAIL;
			res->fail_code = info.fail_code;
			break;
		}
		if (info.why == HV_STOP_HOST_ERROR) {
			rc = -EIO;
			goto host_error;
		}
		if (info.why != HV_STOP_IDLE)
			continue;

		/* A scripted input waits for its step unless nothing else could ever wake the guest. */
		bool scripted = lv->next_input < lv->o.ninputs;
		bool forever = info.idle_until_mtime == UINT64_MAX;
		if (lv->o.virtual_clock) {
			if (forever && !scripted) {
				res->end = LIVE_END_STUCK;
				break;
			}
		} else {
			double w0 = now_s();
			int timeout = det_clock_idle_timeout_ms(&lv->clock, m, info.idle_until_mtime);
			if (scripted && forever)
				timeout = 0;
			poll_host(lv, timeout);
			res->idle_s += now_s() - w0;
		}
		if (scripted && forever) {
			rc = deliver_inputs(lv, m, true);
			if (rc)
				goto host_error;
			continue;
		}
		rc = det_clock_wake(&lv->clock, m, info.idle_until_mtime, apply, lv);
		if (rc)
			goto host_error;
	}
	goto out;
host_error:
	res->end = LIVE_END_HOST_ERROR;
	fprintf(stderr, "ftvm: host error at step %llu: %s\n",
		(unsigned long long)hv_steps(m), strerror(-rc));
out:
	res->step = hv_steps(m);
	res->wall_s = now_s() - t0;
	res->guest_s = (double)(hv_mtime(m) - mtime0) / HV_MTIME_HZ;
	res->clock_events = lv->clock.events;
	res->console_bytes = lv->console.bytes;
	if (lv->have_net) {
		res->net_frames_in = lv->net.delivered;
		res->net_frames_dropped = lv->net.dropped;
	}
	return rc;
}
