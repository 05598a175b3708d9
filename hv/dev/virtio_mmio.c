/* SPDX-License-Identifier: MIT */
/* virtio-mmio version 2 transport and split virtqueues, hardened against a hostile driver. */

/*
 * Register map (virtio 1.1 section 4.2.2), all 32-bit, offsets from the slot base:
 *   0x000 MagicValue        R   0x74726976 ("virt")
 *   0x004 Version           R   2
 *   0x008 DeviceID          R   1 net, 2 blk
 *   0x00c VendorID          R
 *   0x010 DeviceFeatures    R   32 bits selected by DeviceFeaturesSel
 *   0x014 DeviceFeaturesSel W
 *   0x020 DriverFeatures    W   32 bits selected by DriverFeaturesSel
 *   0x024 DriverFeaturesSel W
 *   0x030 QueueSel          W
 *   0x034 QueueNumMax       R   0 for a queue that does not exist
 *   0x038 QueueNum          W   power of two <= QueueNumMax (section 2.6)
 *   0x044 QueueReady        RW
 *   0x050 QueueNotify       W   queue index; requests complete before the write retires
 *   0x060 InterruptStatus   R   bit 0 used buffer, bit 1 configuration change
 *   0x064 InterruptACK      W   clears the written bits; line level = InterruptStatus != 0
 *   0x070 Status            RW  0 resets the device
 *   0x080 QueueDescLow/High (0x084)     W
 *   0x090 QueueDriverLow/High (0x094)   W   the avail ring
 *   0x0a0 QueueDeviceLow/High (0x0a4)   W   the used ring
 *   0x0ac SHMSel, 0x0b0..0x0bc SHMLen/SHMBase: no shared memory (length ~0)
 *   0x0fc ConfigGeneration  R
 *   0x100+ device configuration, any width
 *
 * Any driver violation of the ring rules (section 2.6) sets DEVICE_NEEDS_RESET
 * (section 2.1.1) and raises a configuration change interrupt; the device then
 * ignores notifies until Status is written with 0.
 */
#include "hv/dev/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_MMIO_MAGIC	0x74726976u
#define VIRTIO_MMIO_VENDOR	0x4d565446u	/* "FTVM" */

static void update_irq(struct virtio_mmio *v)
{
	irq_set(&v->irq, v->int_status != 0);
}

bool virtio_has_feature(const struct virtio_mmio *v, unsigned bit)
{
	return bit < 64 && (v->driver_features >> bit) & 1;
}

bool virtio_mmio_live(const struct virtio_mmio *v)
{
	return (v->status & VIRTIO_STATUS_DRIVER_OK) && !(v->status & VIRTIO_STATUS_NEEDS_RESET);
}

void virtio_mmio_needs_reset(struct virtio_mmio *v)
{
	if (v->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	v->guest_errors++;
	v->status |= VIRTIO_STATUS_NEEDS_RESET;
	v->int_status |= VIRTIO_INT_CONFIG;
	update_irq(v);
}

static void device_reset(struct virtio_mmio *v)
{
	v->driver_features = 0;
	v->device_features_sel = 0;
	v->driver_features_sel = 0;
	v->queue_sel = 0;
	v->status = 0;
	v->int_status = 0;
	memset(v->q, 0, sizeof(v->q));
	if (v->ops->reset)
		v->ops->reset(v);
	update_irq(v);
}

static struct virtq *cur_queue(struct virtio_mmio *v)
{
	if (v->queue_sel >= (uint32_t)v->ops->num_queues)
		return NULL;
	return &v->q[v->queue_sel];
}

/* Section 2.6: sizes, alignments and that each ring lies wholly in RAM. */
static bool queue_valid(const struct virtio_mmio *v, const struct virtq *q)
{
	uint64_t n = q->num;

	if (n == 0 || n > VIRTQ_NUM_MAX || (n & (n - 1)))
		return false;
	if ((q->desc_addr & 15) || (q->avail_addr & 1) || (q->used_addr & 3))
		return false;
	return guest_ram_read_ptr(v->ram, q->desc_addr, VIRTQ_DESC_BYTES * n) &&
	       guest_ram_read_ptr(v->ram, q->avail_addr, 6 + 2 * n) &&
	       guest_ram_read_ptr(v->ram, q->used_addr, 6 + 8 * n);
}

static void queue_ready_write(struct virtio_mmio *v, struct virtq *q, uint32_t val)
{
	if (!(val & 1)) {
		q->ready = 0;
		return;
	}
	if (q->ready)
		return;
	if (!queue_valid(v, q)) {
		virtio_mmio_needs_reset(v);
		return;
	}
	q->last_avail = 0;
	q->used_idx = 0;
	q->pushed = false;
	q->ready = 1;
}

static void status_write(struct virtio_mmio *v, uint32_t val)
{
	uint32_t keep = v->status & VIRTIO_STATUS_NEEDS_RESET;

	if (val == 0) {
		device_reset(v);
		return;
	}
	val &= 0xff & ~VIRTIO_STATUS_NEEDS_RESET;
	/* Section 3.1.1: accept FEATURES_OK only for a subset of ours that includes VERSION_1. */
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(v->status & VIRTIO_STATUS_FEATURES_OK)) {
		if ((v->driver_features & ~v->device_features) ||
		    !virtio_has_feature(v, VIRTIO_F_VERSION_1))
			val &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	v->status = val | keep;
}

static void queue_notify(struct virtio_mmio *v, uint32_t qi)
{
	if (qi >= (uint32_t)v->ops->num_queues || !virtio_mmio_live(v) || !v->q[qi].ready) {
		v->ignored_notifies++;
		return;
	}
	if (v->ops->notify(v, (int)qi) < 0)
		virtio_mmio_needs_reset(v);
}

static int mmio_read(void *opaque, uint64_t off, int size, uint64_t *val)
{
	struct virtio_mmio *v = opaque;
	struct virtq *q;

	if (off >= 0x100) {
		uint64_t coff = off - 0x100, x = 0;
		if (size < 1 || size > 8 || (coff & (size - 1))) {
			v->bad_mmio++;
			return -1;
		}
		for (int i = 0; i < size && coff + i < v->config_len; i++)
			x |= (uint64_t)v->config[coff + i] << (8 * i);
		*val = x;
		return 0;
	}
	if (size != 4 || (off & 3)) {
		v->bad_mmio++;
		return -1;
	}
	q = cur_queue(v);
	switch (off) {
	case 0x000: *val = VIRTIO_MMIO_MAGIC; break;
	case 0x004: *val = 2; break;
	case 0x008: *val = v->ops->device_id; break;
	case 0x00c: *val = VIRTIO_MMIO_VENDOR; break;
	case 0x010:
		*val = v->device_features_sel < 2 ?
		       (uint32_t)(v->device_features >> (32 * v->device_features_sel)) : 0;
		break;
	case 0x034: *val = q ? VIRTQ_NUM_MAX : 0; break;
	case 0x044: *val = q ? q->ready : 0; break;
	case 0x060: *val = v->int_status; break;
	case 0x070: *val = v->status; break;
	case 0x0b0: case 0x0b4: *val = 0xffffffffu; break;
	case 0x0fc: *val = v->config_generation; break;
	default: *val = 0; break;
	}
	return 0;
}

static void set_lo(uint64_t *r, uint32_t val)
{
	*r = (*r & ~0xffffffffULL) | val;
}

static void set_hi(uint64_t *r, uint32_t val)
{
	*r = (*r & 0xffffffffULL) | ((uint64_t)val << 32);
}

static int mmio_write(void *opaque, uint64_t off, int size, uint64_t val64)
{
	struct virtio_mmio *v = opaque;
	uint32_t val = (uint32_t)val64;
	struct virtq *q;

	if (off >= 0x100) {
		/* No writable configuration fields are offered. */
		if (size < 1 || size > 8 || ((off - 0x100) & (size - 1))) {
			v->bad_mmio++;
			return -1;
		}
		return 0;
	}
	if (size != 4 || (off & 3)) {
		v->bad_mmio++;
		return -1;
	}
	q = cur_queue(v);
	/* Queue layout registers are frozen while the queue is enabled (section 4.2.3.2). */
	if (off >= 0x080 && off <= 0x0a4 && (!q || q->ready))
		return 0;
	switch (off) {
	case 0x014: v->device_features_sel = val; break;
	case 0x020:
		if (v->status & VIRTIO_STATUS_FEATURES_OK)
			break;
		if (v->driver_features_sel == 0)
			set_lo(&v->driver_features, val);
		else if (v->driver_features_sel == 1)
			set_hi(&v->driver_features, val);
		break;
	case 0x024: v->driver_features_sel = val; break;
	case 0x030: v->queue_sel = val; break;
	case 0x038:
		if (q && !q->ready)
			q->num = val;
		break;
	case 0x044:
		if (q)
			queue_ready_write(v, q, val);
		break;
	case 0x050: queue_notify(v, val); break;
	case 0x064:
		v->int_status &= ~val;
		update_irq(v);
		break;
	case 0x070: status_write(v, val); break;
	case 0x080: set_lo(&q->desc_addr, val); break;
	case 0x084: set_hi(&q->desc_addr, val); break;
	case 0x090: set_lo(&q->avail_addr, val); break;
	case 0x094: set_hi(&q->avail_addr, val); break;
	case 0x0a0: set_lo(&q->used_addr, val); break;
	case 0x0a4: set_hi(&q->used_addr, val); break;
	default: v->bad_mmio++; break;
	}
	return 0;
}

const struct dev_ops virtio_mmio_ops = {
	.name = "virtio-mmio",
	.read = mmio_read,
	.write = mmio_write,
};

struct virtio_mmio *virtio_mmio_create(const struct guest_ram *ram, const struct irq_line *irq,
				       const struct virtio_device_ops *ops, void *dev,
				       uint64_t device_features)
{
	struct virtio_mmio *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->ram = ram;
	if (irq)
		v->irq = *irq;
	v->ops = ops;
	v->dev = dev;
	v->device_features = device_features | (1ULL << VIRTIO_F_VERSION_1) |
			     (1ULL << VIRTIO_F_INDIRECT_DESC);
	return v;
}

void virtio_mmio_destroy(struct virtio_mmio *v)
{
	if (!v)
		return;
	if (v->ops && v->ops->destroy)
		v->ops->destroy(v);
	free(v);
}

void virtio_mmio_save(const struct virtio_mmio *v, struct le_writer *w)
{
	const uint64_t regs[] = {
		v->ops->device_id, v->device_features, v->driver_features,
		v->device_features_sel, v->driver_features_sel, v->queue_sel,
		v->status, v->int_status, v->config_generation, v->config_len,
	};

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		le_put_u64(w, regs[i]);
	le_put_bytes(w, v->config, v->config_len);
	for (int i = 0; i < v->ops->num_queues; i++) {
		const struct virtq *q = &v->q[i];
		const uint64_t qs[] = { q->num, q->ready, q->desc_addr, q->avail_addr,
					q->used_addr, q->last_avail, q->used_idx, q->pushed };
		for (size_t j = 0; j < sizeof(qs) / sizeof(qs[0]); j++)
			le_put_u64(w, qs[j]);
	}
	if (v->ops->save)
		v->ops->save(v, w);
}

int virtio_mmio_load(struct virtio_mmio *v, struct le_reader *r)
{
	struct virtio_mmio t = *v;
	uint8_t config[VIRTIO_CONFIG_BYTES];
	uint64_t id = le_get_u64(r), dev_features = le_get_u64(r);

	t.driver_features = le_get_u64(r);
	t.device_features_sel = (uint32_t)le_get_u64(r);
	t.driver_features_sel = (uint32_t)le_get_u64(r);
	t.queue_sel = (uint32_t)le_get_u64(r);
	t.status = (uint32_t)le_get_u64(r);
	t.int_status = (uint32_t)le_get_u64(r);
	t.config_generation = (uint32_t)le_get_u64(r);
	uint64_t config_len = le_get_u64(r);
	/* The device as created from the configuration must be the one saved. */
	if (!le_reader_ok(r) || id != v->ops->device_id || dev_features != v->device_features ||
	    config_len != v->config_len || !le_get_bytes(r, config, v->config_len) ||
	    memcmp(config, v->config, v->config_len))
		return -EINVAL;
	for (int i = 0; i < v->ops->num_queues; i++) {
		struct virtq *q = &t.q[i];
		uint64_t ready, pushed;

		q->num = (uint32_t)le_get_u64(r);
		ready = le_get_u64(r);
		q->desc_addr = le_get_u64(r);
		q->avail_addr = le_get_u64(r);
		q->used_addr = le_get_u64(r);
		q->last_avail = (uint16_t)le_get_u64(r);
		q->used_idx = (uint16_t)le_get_u64(r);
		pushed = le_get_u64(r);
		/* QueueNum is checked when the queue is enabled: only a ready queue must be usable. */
		if (!le_reader_ok(r) || ready > 1 || pushed > 1 || (ready && !queue_valid(v, q)))
			return -EINVAL;
		q->ready = (uint32_t)ready;
		q->pushed = pushed;
	}
	if (t.status > 0xff || t.int_status > (VIRTIO_INT_USED | VIRTIO_INT_CONFIG))
		return -EINVAL;
	if (v->ops->load) {
		int rc = v->ops->load(v, r);
		if (rc)
			return rc;
	}
	/* Fields the device part may have changed are not in t: copy back the transport's only. */
	t.dev = v->dev;
	*v = t;
	return 0;
}

static const uint8_t *ring_ptr(const struct virtio_mmio *v, uint64_t gpa, uint64_t len)
{
	return guest_ram_read_ptr(v->ram, gpa, len);
}

/* The used ring is the one ring the device writes. */
static uint8_t *ring_write_ptr(const struct virtio_mmio *v, uint64_t gpa, uint64_t len)
{
	return guest_ram_write_ptr(v->ram, gpa, len);
}

bool virtq_has_avail(const struct virtio_mmio *v, int qi)
{
	const struct virtq *q = &v->q[qi];
	const uint8_t *idx;

	if (!virtio_mmio_live(v) || !q->ready)
		return false;
	idx = ring_ptr(v, q->avail_addr + 2, 2);
	return idx && le16_load(idx) != q->last_avail;
}

struct chain_walk {
	struct virtq_req *req;
	bool seen_write;
};

static int add_seg(struct virtio_mmio *v, struct chain_walk *w, uint64_t addr, uint32_t len,
		   uint16_t flags)
{
	struct virtq_req *req = w->req;
	bool wr = flags & VIRTQ_DESC_F_WRITE;
	uint8_t *p;

	/* Section 2.6.4.2: device-readable descriptors come before device-writable ones. */
	if (!wr && w->seen_write)
		return -EINVAL;
	w->seen_write |= wr;
	if (len == 0)
		return 0;
	/* Only a writer marks pages dirty: virtq_req_for_each does so for writable pieces. */
	p = guest_ram_ptr(v->ram, addr, len);
	if (!p || req->nread + req->nwrite >= VIRTQ_MAX_SEGS)
		return -EINVAL;
	if (req->read_bytes + req->write_bytes + len > VIRTQ_MAX_CHAIN_BYTES)
		return -EINVAL;
	req->seg[req->nread + req->nwrite] = (struct virtq_seg){ .host = p, .gpa = addr, .len = len };
	if (wr) {
		req->nwrite++;
		req->write_bytes += len;
	} else {
		req->nread++;
		req->read_bytes += len;
	}
	return 0;
}

/*
 * Section 2.6.5: follow a chain through the descriptor table and at most one
 * indirect table (2.6.5.3). Loops are caught by counting: a chain cannot be
 * longer than the table it walks.
 */
static int walk_chain(struct virtio_mmio *v, const struct virtq *q, uint16_t head,
		      struct virtq_req *req)
{
	struct chain_walk w = { .req = req };
	uint64_t table = q->desc_addr;
	uint32_t table_num = q->num, idx = head, count = 0;
	bool indirect = false;

	req->ram = v->ram;
	req->head = head;
	req->nread = req->nwrite = 0;
	req->read_bytes = req->write_bytes = 0;
	for (;;) {
		const uint8_t *d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;

		if (idx >= table_num || ++count > table_num)
			return -EINVAL;
		d = ring_ptr(v, table + (uint64_t)idx * VIRTQ_DESC_BYTES, VIRTQ_DESC_BYTES);
		if (!d)
			return -EINVAL;
		addr = le64_load(d);
		len = le32_load(d + 8);
		flags = le16_load(d + 12);
		next = le16_load(d + 14);
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (indirect || (flags & VIRTQ_DESC_F_NEXT) ||
			    !virtio_has_feature(v, VIRTIO_F_INDIRECT_DESC))
				return -EINVAL;
			if (len == 0 || len % VIRTQ_DESC_BYTES ||
			    len / VIRTQ_DESC_BYTES > VIRTQ_MAX_SEGS ||
			    !ring_ptr(v, addr, len))
				return -EINVAL;
			indirect = true;
			table = addr;
			table_num = len / VIRTQ_DESC_BYTES;
			idx = 0;
			count = 0;
			continue;
		}
		if (add_seg(v, &w, addr, len, flags) < 0)
			return -EINVAL;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = next;
	}
}

int virtq_pop(struct virtio_mmio *v, int qi, struct virtq_req *req)
{
	struct virtq *q = &v->q[qi];
	const uint8_t *idxp, *slot;
	uint16_t avail_idx, head;

	if (!virtio_mmio_live(v) || !q->ready)
		return 0;
	idxp = ring_ptr(v, q->avail_addr + 2, 2);
	if (!idxp)
		goto bad;
	avail_idx = le16_load(idxp);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		goto bad;
	slot = ring_ptr(v, q->avail_addr + 4 + 2ULL * (q->last_avail % q->num), 2);
	if (!slot)
		goto bad;
	head = le16_load(slot);
	if (head >= q->num || walk_chain(v, q, head, req) < 0)
		goto bad;
	q->last_avail++;
	return 1;
bad:
	virtio_mmio_needs_reset(v);
	return -EINVAL;
}

void virtq_unpop(struct virtio_mmio *v, int qi)
{
	v->q[qi].last_avail--;
}

int virtq_push(struct virtio_mmio *v, int qi, uint16_t head, uint32_t len)
{
	struct virtq *q = &v->q[qi];
	uint8_t *elem, *idxp;

	elem = ring_write_ptr(v, q->used_addr + 4 + 8ULL * (q->used_idx % q->num), 8);
	idxp = ring_write_ptr(v, q->used_addr + 2, 2);
	if (!elem || !idxp) {
		virtio_mmio_needs_reset(v);
		return -EINVAL;
	}
	le32_store(elem, head);
	le32_store(elem + 4, len);
	q->used_idx++;
	le16_store(idxp, q->used_idx);
	q->pushed = true;
	return 0;
}

void virtq_interrupt(struct virtio_mmio *v, int qi)
{
	struct virtq *q = &v->q[qi];
	const uint8_t *flags;

	if (!q->pushed)
		return;
	q->pushed = false;
	/* Section 2.6.7: without EVENT_IDX the driver may suppress interrupts by a flag. */
	flags = ring_ptr(v, q->avail_addr, 2);
	if (flags && (le16_load(flags) & VIRTQ_AVAIL_F_NO_INTERRUPT))
		return;
	v->int_status |= VIRTIO_INT_USED;
	update_irq(v);
}

int virtq_req_for_each(const struct virtq_req *req, bool writable, uint64_t off, uint64_t len,
		       int (*fn)(void *ctx, uint8_t *p, size_t n), void *ctx)
{
	unsigned i = writable ? req->nread : 0;
	unsigned end = writable ? req->nread + req->nwrite : req->nread;

	for (; i < end && len; i++) {
		const struct virtq_seg *s = &req->seg[i];
		uint64_t n;
		int r;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off;
		if (n > len)
			n = len;
		if (writable)
			guest_ram_mark_dirty_range(req->ram, s->gpa + off, n);
		r = fn(ctx, s->host + off, n);
		if (r < 0)
			return r;
		len -= n;
		off = 0;
	}
	return 0;
}

struct copy_ctx {
	uint8_t *buf;
	size_t done;
	bool to_guest;
};

static int copy_piece(void *opaque, uint8_t *p, size_t n)
{
	struct copy_ctx *c = opaque;

	if (c->to_guest)
		memmove(p, c->buf + c->done, n);
	else
		memmove(c->buf + c->done, p, n);
	c->done += n;
	return 0;
}

size_t virtq_req_copy_from(const struct virtq_req *req, uint64_t off, void *dst, size_t len)
{
	struct copy_ctx c = { .buf = dst };

	if (virtq_req_for_each(req, false, off, len, copy_piece, &c) < 0)
		return 0;
	return c.done;
}

size_t virtq_req_copy_to(const struct virtq_req *req, uint64_t off, const void *src, size_t len)
{
	struct copy_ctx c = { .buf = (uint8_t *)(uintptr_t)src, .to_guest = true };

	if (virtq_req_for_each(req, true, off, len, copy_piece, &c) < 0)
		return 0;
	return c.done;
}
