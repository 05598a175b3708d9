/* SPDX-License-Identifier: MIT */
/* virtio-net: TX frames go to a callback at QueueNotify; RX frames arrive only from the determinism layer. */

/*
 * Device configuration (virtio 1.1 section 5.1.4), at 0x100 in the mmio slot:
 *   0x00 mac[6]   VIRTIO_NET_F_MAC
 *   0x06 status   le16, VIRTIO_NET_F_STATUS: VIRTIO_NET_S_LINK_UP, never changes
 * Queues (5.1.2): 0 receiveq1, 1 transmitq1; no control queue.
 * Every buffer starts with the 12-byte struct virtio_net_hdr of VERSION_1
 * (5.1.6): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
 * num_buffers. No offloads are offered, so TX headers are ignored and RX
 * headers are zero with num_buffers = 1.
 *
 * A frame that finds no RX buffer waits in a bounded backlog, delivered in
 * order when the driver notifies the RX queue; beyond that it is dropped and
 * counted.
 */
#include "hv/dev/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_ID_NET		1
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_S_LINK_UP	1

#define NET_RXQ			0
#define NET_TXQ			1
#define NET_HDR_BYTES		12
#define NET_MAX_FRAME		65536
#define NET_BACKLOG		64

enum { NET_NO_BUFFER = 0, NET_DELIVERED = 1, NET_TOO_BIG = 2 };

struct net_frame {
	uint8_t *data;
	size_t len;
};

struct virtio_net {
	void (*tx)(void *opaque, const uint8_t *frame, size_t len);
	void *opaque;
	struct net_frame backlog[NET_BACKLOG];
	unsigned backlog_head, backlog_count;
	uint8_t *tx_buf;	/* scratch for gathering one frame */

	uint64_t tx_frames, tx_dropped;
	uint64_t rx_frames, rx_dropped, rx_too_big;
};

/*
 * Returns NET_DELIVERED, NET_NO_BUFFER, NET_TOO_BIG (the frame does not fit the
 * next buffer, which stays available), or < 0 on a guest violation.
 */
static int net_deliver(struct virtio_mmio *v, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = v->dev;
	static const uint8_t hdr[NET_HDR_BYTES] = { [10] = 1 };	/* num_buffers = 1, LE */
	struct virtq_req req;
	int r = virtq_pop(v, NET_RXQ, &req);

	if (r <= 0)
		return r;
	if (req.write_bytes < NET_HDR_BYTES + len) {
		virtq_unpop(v, NET_RXQ);
		n->rx_too_big++;
		return NET_TOO_BIG;
	}
	virtq_req_copy_to(&req, 0, hdr, NET_HDR_BYTES);
	virtq_req_copy_to(&req, NET_HDR_BYTES, frame, len);
	if (virtq_push(v, NET_RXQ, req.head, (uint32_t)(NET_HDR_BYTES + len)) < 0)
		return -EINVAL;
	n->rx_frames++;
	return NET_DELIVERED;
}

static void backlog_drop_all(struct virtio_net *n)
{
	while (n->backlog_count) {
		free(n->backlog[n->backlog_head].data);
		n->backlog_head = (n->backlog_head + 1) % NET_BACKLOG;
		n->backlog_count--;
	}
	n->backlog_head = 0;
}

/* Deliver backlogged frames in order while buffers last. */
static int net_flush_backlog(struct virtio_mmio *v)
{
	struct virtio_net *n = v->dev;
	int ret = 0;

	while (n->backlog_count) {
		struct net_frame *f = &n->backlog[n->backlog_head];
		int r = net_deliver(v, f->data, f->len);

		if (r < 0 || r == NET_NO_BUFFER) {
			ret = r;
			break;
		}
		if (r == NET_TOO_BIG)
			n->rx_dropped++;
		free(f->data);
		f->data = NULL;
		n->backlog_head = (n->backlog_head + 1) % NET_BACKLOG;
		n->backlog_count--;
	}
	virtq_interrupt(v, NET_RXQ);
	return ret;
}

static void net_tx_one(struct virtio_mmio *v, const struct virtq_req *req)
{
	struct virtio_net *n = v->dev;
	uint64_t len;

	if (req->read_bytes < NET_HDR_BYTES || req->read_bytes - NET_HDR_BYTES > NET_MAX_FRAME) {
		n->tx_dropped++;
		return;
	}
	len = req->read_bytes - NET_HDR_BYTES;
	virtq_req_copy_from(req, NET_HDR_BYTES, n->tx_buf, len);
	n->tx_frames++;
	if (n->tx)
		n->tx(n->opaque, n->tx_buf, len);
}

static int net_notify(struct virtio_mmio *v, int qi)
{
	struct virtq_req req;
	int ret = 0;

	if (qi == NET_RXQ)
		return net_flush_backlog(v);
	for (uint32_t i = 0; i < v->q[qi].num; i++) {
		int r = virtq_pop(v, qi, &req);

		if (r <= 0) {
			ret = r;
			break;
		}
		net_tx_one(v, &req);
		if (virtq_push(v, qi, req.head, 0) < 0) {
			ret = -EINVAL;
			break;
		}
	}
	virtq_interrupt(v, qi);
	return ret;
}

/*
 * 0 when the frame was delivered or backlogged; -ENOSPC when it was dropped
 * (backlog full, or larger than the guest's buffer), which is counted and
 * deterministic, so callers treat it as a normal outcome.
 */
int virtio_net_receive(struct virtio_mmio *v, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = v->dev;
	struct net_frame *f;

	if (len > NET_MAX_FRAME) {
		n->rx_dropped++;
		return -ENOSPC;
	}
	/* Buffers posted while notifies were ignored (before DRIVER_OK) drain the backlog here. */
	if (n->backlog_count && net_flush_backlog(v) < 0)
		virtio_mmio_needs_reset(v);
	if (n->backlog_count == 0) {
		int r = net_deliver(v, frame, len);

		virtq_interrupt(v, NET_RXQ);
		if (r < 0)
			virtio_mmio_needs_reset(v);
		if (r == NET_DELIVERED)
			return 0;
		if (r == NET_TOO_BIG) {
			n->rx_dropped++;
			return -ENOSPC;
		}
	}
	if (n->backlog_count == NET_BACKLOG) {
		n->rx_dropped++;
		return -ENOSPC;
	}
	f = &n->backlog[(n->backlog_head + n->backlog_count) % NET_BACKLOG];
	f->data = malloc(len ? len : 1);
	if (!f->data) {
		n->rx_dropped++;
		return -ENOSPC;
	}
	memcpy(f->data, frame, len);
	f->len = len;
	n->backlog_count++;
	return 0;
}

int virtio_net_rx_ready(const struct virtio_mmio *v)
{
	/* With a backlog this still says 1 when a buffer is free: receiving then drains it. */
	return virtq_has_avail(v, NET_RXQ);
}

/* The backlog is guest-visible future input: count, then each frame's length and bytes. */
static void net_save(const struct virtio_mmio *v, struct le_writer *w)
{
	const struct virtio_net *n = v->dev;

	le_put_u32(w, n->backlog_count);
	for (unsigned i = 0; i < n->backlog_count; i++) {
		const struct net_frame *f = &n->backlog[(n->backlog_head + i) % NET_BACKLOG];

		le_put_u32(w, (uint32_t)f->len);
		le_put_bytes(w, f->data, f->len);
	}
}

static int net_load(struct virtio_mmio *v, struct le_reader *r)
{
	struct virtio_net *n = v->dev;
	struct net_frame frames[NET_BACKLOG] = { 0 };
	uint32_t count = le_get_u32(r);
	int rc = 0;

	if (!le_reader_ok(r) || count > NET_BACKLOG)
		return -EINVAL;
	for (uint32_t i = 0; i < count && !rc; i++) {
		uint32_t len = le_get_u32(r);

		if (!le_reader_ok(r) || len > NET_MAX_FRAME || len > le_reader_left(r)) {
			rc = -EINVAL;
		} else if (!(frames[i].data = malloc(len ? len : 1))) {
			rc = -ENOMEM;
		} else {
			frames[i].len = len;
			le_get_bytes(r, frames[i].data, len);
		}
	}
	if (rc) {
		for (uint32_t i = 0; i < count; i++)
			free(frames[i].data);
		return rc;
	}
	backlog_drop_all(n);
	memcpy(n->backlog, frames, sizeof(frames));
	n->backlog_head = 0;
	n->backlog_count = count;
	return 0;
}

static void net_reset(struct virtio_mmio *v)
{
	backlog_drop_all(v->dev);
}

static void net_destroy(struct virtio_mmio *v)
{
	struct virtio_net *n = v->dev;

	backlog_drop_all(n);
	free(n->tx_buf);
	free(n);
}

static const struct virtio_device_ops net_ops = {
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.notify = net_notify,
	.reset = net_reset,
	.destroy = net_destroy,
	.save = net_save,
	.load = net_load,
};

struct virtio_mmio *virtio_net_create(const struct guest_ram *ram, const struct irq_line *irq,
				      const uint8_t mac[6],
				      void (*tx)(void *opaque, const uint8_t *frame, size_t len),
				      void *opaque)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct virtio_mmio *v;

	if (!n)
		return NULL;
	n->tx = tx;
	n->opaque = opaque;
	n->tx_buf = malloc(NET_MAX_FRAME);
	if (!n->tx_buf)
		goto fail;
	v = virtio_mmio_create(ram, irq, &net_ops, n,
			       (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS));
	if (!v)
		goto fail;
	memcpy(v->config, mac, 6);
	v->config[6] = VIRTIO_NET_S_LINK_UP;
	v->config[7] = 0;
	v->config_len = 8;
	return v;
fail:
	free(n->tx_buf);
	free(n);
	return NULL;
}
