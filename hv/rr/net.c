/* SPDX-License-Identifier: MIT */
/*
 * net: received frames as a source of non-determinism. The host side takes frames from the network
 * backend; they go to and come from the log as NET_RX events.
 */
#include "hv/rr/det.h"
#include "hv/host/net_backend.h"
#include "hv/rr/rr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void on_frame(void *opaque, const uint8_t *frame, size_t len)
{
	struct det_net *n = opaque;

	if (n->discarding) {
		n->discarded++;
		return;
	}
	if (n->count == DET_NET_QUEUE) {
		n->dropped++;	/* as a full NIC ring would; TCP recovers */
		return;
	}
	uint8_t *copy = malloc(len);
	if (!copy) {
		n->dropped++;
		return;
	}
	memcpy(copy, frame, len);
	n->q[(n->head + n->count) % DET_NET_QUEUE] = (struct det_net_frame){ copy, len };
	n->count++;
}

int det_net_open(struct det_net *n, const char *spec, char *err, size_t err_len)
{
	memset(n, 0, sizeof(*n));
	return net_backend_open(spec, on_frame, n, &n->backend, err, err_len);
}

void det_net_close(struct det_net *n)
{
	while (n->count) {
		free(n->q[n->head].data);
		n->head = (n->head + 1) % DET_NET_QUEUE;
		n->count--;
	}
	if (n->backend)
		net_backend_close(n->backend);
	n->backend = NULL;
}

void det_net_tx(struct det_net *n, const uint8_t *frame, size_t len)
{
	if (n->backend)
		(void)net_backend_send(n->backend, frame, len);
}

bool det_net_tx_any_thread(const struct det_net *n)
{
	return n->backend && net_backend_send_any_thread(n->backend);
}

int det_net_pollfds(struct det_net *n, struct pollfd *pfds, int max, int *timeout_ms)
{
	return n->backend ? net_backend_pollfds(n->backend, pfds, max, timeout_ms) : 0;
}

void det_net_dispatch(struct det_net *n, struct pollfd *pfds, int count)
{
	if (n->backend)
		net_backend_dispatch(n->backend, pfds, count);
}

/* Bounded, so a flood arriving as fast as we read cannot hold the caller here. */
#define DISCARD_ROUNDS 64

void det_net_discard_pending(struct det_net *n)
{
	struct pollfd pfds[8];

	n->discarding = true;
	for (int round = 0; round < DISCARD_ROUNDS; round++) {
		int timeout_ms = 0, c = det_net_pollfds(n, pfds, 8, &timeout_ms);
		if (c <= 0 || poll(pfds, (nfds_t)c, 0) <= 0)
			break;
		det_net_dispatch(n, pfds, c);
	}
	n->discarding = false;
	while (n->count) {
		free(n->q[n->head].data);
		n->head = (n->head + 1) % DET_NET_QUEUE;
		n->count--;
		n->discarded++;
	}
}

int det_net_flush(struct det_net *n, struct hv_machine *m, det_apply_fn apply, void *opaque)
{
	while (n->count && hv_net_rx_ready(m)) {
		struct det_net_frame *f = &n->q[n->head];
		struct hv_event ev = { .kind = HV_EV_NET_RX, .step = hv_steps(m),
				       .data = f->data, .len = f->len };
		int rc = apply(opaque, &ev);
		free(f->data);
		n->head = (n->head + 1) % DET_NET_QUEUE;
		n->count--;
		if (rc < 0 && rc != -ENOSPC)
			return rc;
		n->delivered++;
	}
	return 0;
}

/* The log form. */
int rr_net_save(const struct hv_event *in, struct rr_event *out)
{
	if (in->len < RR_NET_FRAME_MIN || in->len > RR_NET_FRAME_MAX)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = RR_NET_RX;
	out->step = in->step;
	out->data = in->data;
	out->len = in->len;
	return 0;
}

int rr_net_load(const struct rr_event *in, struct hv_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = HV_EV_NET_RX;
	out->step = in->step;
	out->data = in->data;
	out->len = in->len;
	return 0;
}
