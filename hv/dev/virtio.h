/* SPDX-License-Identifier: MIT */
/* virtio internals: the virtio-mmio transport state and split-virtqueue helpers shared by the devices. */
#ifndef HV_VIRTIO_H
#define HV_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/dev/dev.h"
#include "hv/dev/devices.h"
#include "hv/le.h"

/* Device status bits (virtio 1.1 section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

/* Reserved feature bits (section 6). */
#define VIRTIO_F_INDIRECT_DESC		28
#define VIRTIO_F_RING_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32

/* InterruptStatus bits (section 4.2.2). */
#define VIRTIO_INT_USED			0x1
#define VIRTIO_INT_CONFIG		0x2

/* Split virtqueue layout (section 2.6). */
#define VIRTQ_DESC_F_NEXT		1
#define VIRTQ_DESC_F_WRITE		2
#define VIRTQ_DESC_F_INDIRECT		4
#define VIRTQ_AVAIL_F_NO_INTERRUPT	1
#define VIRTQ_DESC_BYTES		16

#define VIRTIO_MAX_QUEUES		2
#define VIRTQ_NUM_MAX			256
/* Bounds on one request: segments (also the indirect table size) and bytes. */
#define VIRTQ_MAX_SEGS			256
#define VIRTQ_MAX_CHAIN_BYTES		(64ULL << 20)
#define VIRTIO_CONFIG_BYTES		64

struct virtq {
	uint32_t num;
	uint32_t ready;
	uint64_t desc_addr;
	uint64_t avail_addr;
	uint64_t used_addr;
	uint16_t last_avail;	/* next avail ring slot the device will read */
	uint16_t used_idx;	/* the device's copy of used->idx */
	bool pushed;		/* used entries added since the last interrupt decision */
};

/* One request popped from a queue; host pointers valid only for the current call. */
struct virtq_seg {
	uint8_t *host;
	uint64_t gpa;		/* where host points, to mark the pages a device writes */
	uint32_t len;
};

struct virtq_req {
	const struct guest_ram *ram;
	uint16_t head;
	unsigned nread;		/* seg[0, nread) is device-readable */
	unsigned nwrite;	/* seg[nread, nread + nwrite) is device-writable */
	uint64_t read_bytes;
	uint64_t write_bytes;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtio_mmio;

/* What a device model plugs into the transport. */
struct virtio_device_ops {
	uint32_t device_id;
	int num_queues;
	/* Buffers were made available on queue q. Return < 0 on a guest violation. */
	int (*notify)(struct virtio_mmio *v, int q);
	/* The driver wrote 0 to Status: forget per-driver state. */
	void (*reset)(struct virtio_mmio *v);
	void (*destroy)(struct virtio_mmio *v);
	/* Device-private guest-visible state (e.g. queued RX frames): save, and load it back. */
	void (*save)(const struct virtio_mmio *v, struct le_writer *w);
	int (*load)(struct virtio_mmio *v, struct le_reader *r);
};

struct virtio_mmio {
	const struct guest_ram *ram;	/* the machine's, shared: its dirty bits are switched on later */
	struct irq_line irq;
	const struct virtio_device_ops *ops;
	void *dev;

	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t int_status;
	uint32_t config_generation;
	uint8_t config[VIRTIO_CONFIG_BYTES];
	uint32_t config_len;
	struct virtq q[VIRTIO_MAX_QUEUES];

	/* Counters; never printed on the guest's behalf. */
	uint64_t guest_errors;		/* violations that set NEEDS_RESET */
	uint64_t bad_mmio;		/* unknown registers or bad access sizes */
	uint64_t ignored_notifies;	/* notifies while not live */
};

struct virtio_mmio *virtio_mmio_create(const struct guest_ram *ram, const struct irq_line *irq,
				       const struct virtio_device_ops *ops, void *dev,
				       uint64_t device_features);

/*
 * Every guest-visible piece of device state (registers, queue cursors,
 * device-private state such as the RX backlog) in a fixed order, through
 * le.h: what snapshots store and the machine digest hashes. Counters are
 * left out. load refuses (-EINVAL, device unchanged) a short record, one
 * saved from another kind of device or configuration, or queues a device
 * could not use (a ring outside RAM, a size that is no power of two).
 */
void virtio_mmio_save(const struct virtio_mmio *v, struct le_writer *w);
int virtio_mmio_load(struct virtio_mmio *v, struct le_reader *r)
	__attribute__((warn_unused_result));

/* DRIVER_OK set and NEEDS_RESET clear: the device may use its queues. */
bool virtio_mmio_live(const struct virtio_mmio *v);
void virtio_mmio_needs_reset(struct virtio_mmio *v);
bool virtio_has_feature(const struct virtio_mmio *v, unsigned bit);

/*
 * Take the next available chain from queue qi into req. Returns 1 when a
 * request was taken, 0 when none is available, or -EINVAL on a guest
 * violation (the device is then in NEEDS_RESET).
 */
int virtq_pop(struct virtio_mmio *v, int qi, struct virtq_req *req)
	__attribute__((warn_unused_result));
/* Give the last popped chain back (it stays available). */
void virtq_unpop(struct virtio_mmio *v, int qi);
/* Whether a chain is available on queue qi now. */
bool virtq_has_avail(const struct virtio_mmio *v, int qi);
/* Return a chain to the driver with len bytes written. */
int virtq_push(struct virtio_mmio *v, int qi, uint16_t head, uint32_t len)
	__attribute__((warn_unused_result));
/* Raise the used-buffer interrupt if chains were pushed and the driver wants it. */
void virtq_interrupt(struct virtio_mmio *v, int qi);

/* Copy between a request's readable (from) or writable (to) bytes at off; return bytes copied. */
size_t virtq_req_copy_from(const struct virtq_req *req, uint64_t off, void *dst, size_t len);
size_t virtq_req_copy_to(const struct virtq_req *req, uint64_t off, const void *src, size_t len);

/*
 * Call fn on each host piece of [off, off+len) of the readable or writable
 * bytes; stops on fn < 0. Writable pieces are marked dirty before fn sees them.
 */
int virtq_req_for_each(const struct virtq_req *req, bool writable, uint64_t off, uint64_t len,
		       int (*fn)(void *ctx, uint8_t *p, size_t n), void *ctx)
	__attribute__((warn_unused_result));

#endif
