/* SPDX-License-Identifier: MIT */
/* test_virtio: plays the driver against virtio-blk and virtio-net over a malloc'ed guest RAM, including a hostile driver. */
#include "hv/dev/virtio.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_BASE	0x80000000ULL
#define RAM_BYTES	(1u << 20)
#define DATA		(RAM_BASE + 0x10000)
#define INDIRECT	(RAM_BASE + 0x8000)
#define IMG_SECTORS	128

static struct guest_ram ram;
static int irq_level;
static const struct irq_line irq = { .set = NULL };
static struct irq_line line;

struct drv_queue {
	int qi;
	uint32_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx;
	uint16_t used_seen;
};

static void irq_cb(void *opaque, int n, int level)
{
	irq_level = level;
}

static uint8_t *gp(uint64_t gpa)
{
	return ram.host + (gpa - RAM_BASE);
}

static uint32_t rd(struct virtio_mmio *v, uint64_t off)
{
	uint64_t val = 0;
	CHECK(virtio_mmio_ops.read(v, off, 4, &val) == 0);
	return (uint32_t)val;
}

static uint64_t rdcfg(struct virtio_mmio *v, uint64_t off, int size)
{
	uint64_t val = 0;
	CHECK(virtio_mmio_ops.read(v, 0x100 + off, size, &val) == 0);
	return val;
}

static void wr(struct virtio_mmio *v, uint64_t off, uint32_t val)
{
	CHECK(virtio_mmio_ops.write(v, off, 4, val) == 0);
}

static uint64_t dev_features(struct virtio_mmio *v)
{
	wr(v, 0x014, 0);
	uint64_t lo = rd(v, 0x010);
	wr(v, 0x014, 1);
	return lo | (uint64_t)rd(v, 0x010) << 32;
}

static void set_driver_features(struct virtio_mmio *v, uint64_t f)
{
	wr(v, 0x024, 0);
	wr(v, 0x020, (uint32_t)f);
	wr(v, 0x024, 1);
	wr(v, 0x020, (uint32_t)(f >> 32));
}

/* Section 3.1.1 up to FEATURES_OK; returns whether the device accepted. */
static int negotiate(struct virtio_mmio *v, uint64_t f)
{
	wr(v, 0x070, 0);
	wr(v, 0x070, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(v, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	set_driver_features(v, f);
	wr(v, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return !!(rd(v, 0x070) & VIRTIO_STATUS_FEATURES_OK);
}

static void queue_setup(struct virtio_mmio *v, struct drv_queue *q, int qi, uint32_t num,
			uint64_t base)
{
	*q = (struct drv_queue){ .qi = qi, .num = num, .desc = base, .avail = base + 0x1000,
				 .used = base + 0x2000 };
	memset(gp(base), 0, 0x3000);
	wr(v, 0x030, qi);
	CHECK(rd(v, 0x034) == VIRTQ_NUM_MAX);
	wr(v, 0x038, num);
	wr(v, 0x080, (uint32_t)q->desc);
	wr(v, 0x084, (uint32_t)(q->desc >> 32));
	wr(v, 0x090, (uint32_t)q->avail);
	wr(v, 0x094, (uint32_t)(q->avail >> 32));
	wr(v, 0x0a0, (uint32_t)q->used);
	wr(v, 0x0a4, (uint32_t)(q->used >> 32));
	wr(v, 0x044, 1);
}

static void driver_ok(struct virtio_mmio *v)
{
	wr(v, 0x070, rd(v, 0x070) | VIRTIO_STATUS_DRIVER_OK);
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = gp(table + 16ULL * i);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void avail_add(struct drv_queue *q, uint16_t head)
{
	memcpy(gp(q->avail + 4 + 2 * (q->avail_idx % q->num)), &head, 2);
	q->avail_idx++;
	memcpy(gp(q->avail + 2), &q->avail_idx, 2);
}

static void kick(struct virtio_mmio *v, struct drv_queue *q, uint16_t head)
{
	avail_add(q, head);
	wr(v, 0x050, q->qi);
}

static uint16_t used_idx(const struct drv_queue *q)
{
	uint16_t i;
	memcpy(&i, gp(q->used + 2), 2);
	return i;
}

/* Next used element; fails if there is none. */
static void used_pop(struct drv_queue *q, uint32_t *id, uint32_t *len)
{
	CHECK(used_idx(q) != q->used_seen);
	uint8_t *e = gp(q->used + 4 + 8 * (q->used_seen % q->num));
	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
	q->used_seen++;
}

static void ack_irq(struct virtio_mmio *v)
{
	wr(v, 0x064, rd(v, 0x060));
	CHECK(irq_level == 0);
}

static char img_path[] = "/tmp/test_virtio_XXXXXX";

static void remove_image(void)
{
	unlink(img_path);
}

static void make_image(void)
{
	int fd = mkstemp(img_path);
	CHECK(fd >= 0);
	atexit(remove_image);
	for (int s = 0; s < IMG_SECTORS; s++) {
		uint8_t sec[512];
		for (int i = 0; i < 512; i++)
			sec[i] = (uint8_t)(s * 7 + i);
		CHECK(write(fd, sec, 512) == 512);
	}
	close(fd);
}

static struct virtio_mmio *blk_live_spec(struct drv_queue *q, uint64_t extra_features, const char *spec)
{
	char err[256];
	struct virtio_mmio *v = virtio_blk_create(&ram, &line, spec, err, sizeof(err));
	CHECK(v);
	CHECK(negotiate(v, (1ULL << VIRTIO_F_VERSION_1) | extra_features));
	queue_setup(v, q, 0, 8, RAM_BASE + 0x1000);
	driver_ok(v);
	return v;
}

static struct virtio_mmio *blk_live(struct drv_queue *q, uint64_t extra_features)
{
	return blk_live_spec(q, extra_features, img_path);
}

/* A blk request as header | data... | status with direct descriptors from slot 0. */
static void blk_req(uint32_t type, uint64_t sector, uint64_t data, uint32_t data_len, bool data_write)
{
	uint8_t *h = gp(DATA);
	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	*gp(DATA + 16) = 0xee;
	set_desc(RAM_BASE + 0x1000, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	if (data_len) {
		set_desc(RAM_BASE + 0x1000, 1, data, data_len,
			 VIRTQ_DESC_F_NEXT | (data_write ? VIRTQ_DESC_F_WRITE : 0), 2);
		set_desc(RAM_BASE + 0x1000, 2, DATA + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	} else {
		set_desc(RAM_BASE + 0x1000, 1, DATA + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	}
}

static void test_blk(void)
{
	struct drv_queue q;
	char err[256];
	uint32_t id, len;
	uint8_t buf[1024];

	struct virtio_mmio *v = virtio_blk_create(&ram, &line, img_path, err, sizeof(err));
	CHECK(v);
	CHECK(rd(v, 0x000) == 0x74726976);
	CHECK(rd(v, 0x004) == 2);
	CHECK(rd(v, 0x008) == 2);
	uint64_t f = dev_features(v);
	CHECK(f & (1ULL << VIRTIO_F_VERSION_1));
	CHECK(f & (1ULL << VIRTIO_F_INDIRECT_DESC));
	CHECK(f & (1ULL << 2) && f & (1ULL << 6) && f & (1ULL << 9));
	CHECK(!(f & (1ULL << 5)));
	CHECK(rdcfg(v, 0, 8) == IMG_SECTORS);
	CHECK(rdcfg(v, 0, 4) == IMG_SECTORS && rdcfg(v, 4, 4) == 0);
	CHECK(rdcfg(v, 0x14, 4) == 512);
	CHECK(rdcfg(v, 0x0c, 4) >= 1);

	/* Feature negotiation: no VERSION_1, or a bit we do not offer, is refused. */
	CHECK(!negotiate(v, 1ULL << 9));
	CHECK(!negotiate(v, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 0)));
	CHECK(negotiate(v, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 9) | (1ULL << VIRTIO_F_INDIRECT_DESC)));
	queue_setup(v, &q, 0, 8, RAM_BASE + 0x1000);
	CHECK(rd(v, 0x044) == 1);

	/* Before DRIVER_OK a notify does nothing. */
	blk_req(0, 3, DATA + 0x1000, 1024, true);
	kick(v, &q, 0);
	CHECK(used_idx(&q) == 0);
	CHECK(v->ignored_notifies == 1);
	driver_ok(v);
	wr(v, 0x050, 0);
	used_pop(&q, &id, &len);
	CHECK(id == 0 && len == 1025);
	CHECK(*gp(DATA + 16) == 0);
	int fd = open(img_path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && pread(fd, buf, 1024, 3 * 512) == 1024);
	CHECK(memcmp(buf, gp(DATA + 0x1000), 1024) == 0);
	CHECK(gp(DATA + 0x1000)[0] == (uint8_t)(3 * 7));
	CHECK(irq_level == 1 && rd(v, 0x060) == VIRTIO_INT_USED);
	ack_irq(v);

	/* Write via an indirect table, header split in two, data in two pieces. */
	uint8_t *h = gp(DATA);
	uint32_t type = 1;
	uint64_t sector = 5;
	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	for (int i = 0; i < 1024; i++)
		gp(DATA + 0x2000)[i] = (uint8_t)(0xa5 ^ i);
	set_desc(INDIRECT, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(INDIRECT, 1, DATA + 8, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(INDIRECT, 2, DATA + 0x2000, 100, VIRTQ_DESC_F_NEXT, 3);
	set_desc(INDIRECT, 3, DATA + 0x2000 + 100, 924, VIRTQ_DESC_F_NEXT, 4);
	set_desc(INDIRECT, 4, DATA + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(q.desc, 3, INDIRECT, 5 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	*gp(DATA + 16) = 0xee;
	kick(v, &q, 3);
	used_pop(&q, &id, &len);
	CHECK(id == 3 && len == 1);
	CHECK(*gp(DATA + 16) == 0);
	CHECK(pread(fd, buf, 1024, 5 * 512) == 1024);
	close(fd);
	CHECK(memcmp(buf, gp(DATA + 0x2000), 1024) == 0);
	ack_irq(v);

	/* Flush, GET_ID, out of range, unsupported. */
	blk_req(4, 0, 0, 0, false);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(len == 1 && *gp(DATA + 16) == 0);

	blk_req(8, 0, DATA + 0x3000, 20, true);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(len == 21 && *gp(DATA + 16) == 0);
	CHECK(memcmp(gp(DATA + 0x3000), "ftvm", 4) == 0);

	blk_req(0, IMG_SECTORS - 1, DATA + 0x1000, 1024, true);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 1);

	blk_req(0, 0, DATA + 0x1000, 100, true);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 1);

	blk_req(77, 0, 0, 0, false);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 2);
	CHECK(irq_level == 1);
	ack_irq(v);

	/* VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt but not the completion. */
	uint16_t fl = VIRTQ_AVAIL_F_NO_INTERRUPT;
	memcpy(gp(q.avail), &fl, 2);
	blk_req(4, 0, 0, 0, false);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(irq_level == 0 && rd(v, 0x060) == 0);
	CHECK(v->guest_errors == 0);
	CHECK(!(rd(v, 0x070) & VIRTIO_STATUS_NEEDS_RESET));

	/* Reset clears queues and status. */
	wr(v, 0x070, 0);
	CHECK(rd(v, 0x070) == 0 && rd(v, 0x044) == 0);
	virtio_mmio_destroy(v);
}

static void test_blk_readonly(void)
{
	struct drv_queue q;
	uint32_t id, len;
	uint8_t before[512], after[512];
	int fd = open(img_path, O_RDONLY | O_CLOEXEC);

	char spec[sizeof(img_path) + 16], err[256];
	CHECK(pread(fd, before, 512, 0) == 512);
	CHECK(chmod(img_path, 0444) == 0);
	/* A disk the guest could not write is refused unless it is asked for read-only. */
	CHECK(!virtio_blk_create(&ram, &line, img_path, err, sizeof(err)));
	CHECK(strstr(err, "not writable"));
	snprintf(spec, sizeof(spec), "%s,ro", img_path);
	struct virtio_mmio *v = blk_live_spec(&q, 1ULL << 5, spec);
	CHECK(dev_features(v) & (1ULL << 5));
	memset(gp(DATA + 0x1000), 0x5a, 512);
	blk_req(1, 0, DATA + 0x1000, 512, false);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 1);
	CHECK(pread(fd, after, 512, 0) == 512);
	CHECK(memcmp(before, after, 512) == 0);
	blk_req(0, 1, DATA + 0x1000, 512, true);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 0);
	virtio_mmio_destroy(v);
	close(fd);
	CHECK(chmod(img_path, 0644) == 0);
}

/* ",snapshot": the guest reads its own writes back, the image file stays as it was. */
static void test_blk_snapshot(void)
{
	struct drv_queue q;
	uint32_t id, len;
	uint8_t before[512], after[512];
	char spec[sizeof(img_path) + 16];
	int fd = open(img_path, O_RDONLY | O_CLOEXEC);

	CHECK(pread(fd, before, 512, 512) == 512);
	CHECK(chmod(img_path, 0444) == 0);	/* a snapshot needs no write permission */
	snprintf(spec, sizeof(spec), "%s,snapshot", img_path);
	struct virtio_mmio *v = blk_live_spec(&q, 0, spec);
	CHECK(!(dev_features(v) & (1ULL << 5)));
	memset(gp(DATA + 0x1000), 0x5a, 512);
	blk_req(1, 1, DATA + 0x1000, 512, false);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 0);
	memset(gp(DATA + 0x1000), 0, 512);
	blk_req(0, 1, DATA + 0x1000, 512, true);
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 0);
	CHECK(*gp(DATA + 0x1000) == 0x5a && *gp(DATA + 0x1000 + 511) == 0x5a);
	blk_req(4, 0, 0, 0, false);	/* FLUSH: nothing to sync, and fine */
	kick(v, &q, 0);
	used_pop(&q, &id, &len);
	CHECK(*gp(DATA + 16) == 0);
	virtio_mmio_destroy(v);
	CHECK(pread(fd, after, 512, 512) == 512);
	CHECK(memcmp(before, after, 512) == 0);
	close(fd);
	CHECK(chmod(img_path, 0644) == 0);
}

/* Each hostile setup must end in NEEDS_RESET with a config interrupt, and no further processing. */
static void expect_needs_reset(struct virtio_mmio *v, struct drv_queue *q)
{
	CHECK(rd(v, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(rd(v, 0x060) & VIRTIO_INT_CONFIG);
	CHECK(irq_level == 1);
	CHECK(v->guest_errors == 1);
	if (q) {
		uint16_t before = used_idx(q);
		blk_req(4, 0, 0, 0, false);
		kick(v, q, 0);
		CHECK(used_idx(q) == before);
	}
	/* Writing 0 to Status recovers the device. */
	wr(v, 0x070, 0);
	CHECK(rd(v, 0x070) == 0 && irq_level == 0);
	virtio_mmio_destroy(v);
}

static void test_hostile_blk(void)
{
	struct drv_queue q;
	struct virtio_mmio *v;
	uint64_t t = RAM_BASE + 0x1000;

	/* Descriptor loop. */
	v = blk_live(&q, 0);
	set_desc(t, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(t, 1, DATA + 32, 16, VIRTQ_DESC_F_NEXT, 0);
	kick(v, &q, 0);
	CHECK(used_idx(&q) == 0);
	expect_needs_reset(v, &q);

	/* Self loop in a descriptor with WRITE so the readable-order rule is not what trips. */
	v = blk_live(&q, 0);
	set_desc(t, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(t, 1, DATA + 32, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Buffer straddling the end of RAM. */
	v = blk_live(&q, 0);
	blk_req(0, 0, RAM_BASE + RAM_BYTES - 10, 512, true);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Buffer below RAM. */
	v = blk_live(&q, 0);
	blk_req(0, 0, 0x1000, 512, true);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Huge length. */
	v = blk_live(&q, 0);
	blk_req(0, 0, DATA, 0xffffffffu, true);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Head index beyond the queue. */
	v = blk_live(&q, 0);
	blk_req(4, 0, 0, 0, false);
	kick(v, &q, 9);
	expect_needs_reset(v, &q);

	/* Avail index claims more than a queue's worth. */
	v = blk_live(&q, 0);
	q.avail_idx = 100;
	kick(v, &q, 0);
	expect_needs_reset(v, NULL);

	/* Readable descriptor after a writable one. */
	v = blk_live(&q, 0);
	set_desc(t, 0, DATA + 16, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(t, 1, DATA, 16, 0, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Malformed request: no status byte. */
	v = blk_live(&q, 0);
	set_desc(t, 0, DATA, 16, 0, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Indirect inside indirect. */
	v = blk_live(&q, 1ULL << VIRTIO_F_INDIRECT_DESC);
	set_desc(INDIRECT, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(INDIRECT, 1, INDIRECT, 32, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(t, 0, INDIRECT, 32, VIRTQ_DESC_F_INDIRECT, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Total length beyond the bound, from overlapping in-RAM segments. */
	v = blk_live(&q, 1ULL << VIRTIO_F_INDIRECT_DESC);
	set_desc(INDIRECT, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	for (unsigned i = 1; i < 255; i++)
		set_desc(INDIRECT, i, RAM_BASE + 0x40000, 0x80000,
			 VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, (uint16_t)(i + 1));
	set_desc(INDIRECT, 255, DATA + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(t, 0, INDIRECT, 256 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Indirect without the feature, with a bad table length, with a loop. */
	v = blk_live(&q, 0);
	set_desc(t, 0, INDIRECT, 32, VIRTQ_DESC_F_INDIRECT, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);
	v = blk_live(&q, 1ULL << VIRTIO_F_INDIRECT_DESC);
	set_desc(t, 0, INDIRECT, 33, VIRTQ_DESC_F_INDIRECT, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);
	v = blk_live(&q, 1ULL << VIRTIO_F_INDIRECT_DESC);
	set_desc(t, 0, INDIRECT, 16 * 4096, VIRTQ_DESC_F_INDIRECT, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);
	v = blk_live(&q, 1ULL << VIRTIO_F_INDIRECT_DESC);
	set_desc(INDIRECT, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(INDIRECT, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	set_desc(t, 0, INDIRECT, 32, VIRTQ_DESC_F_INDIRECT, 0);
	kick(v, &q, 0);
	expect_needs_reset(v, &q);

	/* Bad queue sizes and ring addresses are refused at QueueReady. */
	static const uint32_t bad_num[] = { 0, 3, 100, 512 };
	for (unsigned i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		char err[256];
		v = virtio_blk_create(&ram, &line, img_path, err, sizeof(err));
		CHECK(v && negotiate(v, 1ULL << VIRTIO_F_VERSION_1));
		queue_setup(v, &q, 0, bad_num[i], RAM_BASE + 0x1000);
		CHECK(rd(v, 0x044) == 0);
		expect_needs_reset(v, NULL);
	}
	static const uint64_t bad_ring[] = { 0x1000, RAM_BASE + RAM_BYTES - 0x800, RAM_BASE + 8 };
	for (unsigned i = 0; i < sizeof(bad_ring) / sizeof(bad_ring[0]); i++) {
		char err[256];
		v = virtio_blk_create(&ram, &line, img_path, err, sizeof(err));
		CHECK(v && negotiate(v, 1ULL << VIRTIO_F_VERSION_1));
		wr(v, 0x030, 0);
		wr(v, 0x038, 256);
		wr(v, 0x080, (uint32_t)bad_ring[i]);
		wr(v, 0x084, (uint32_t)(bad_ring[i] >> 32));
		wr(v, 0x090, (uint32_t)(RAM_BASE + 0x2000));
		wr(v, 0x094, (uint32_t)(RAM_BASE >> 32));
		wr(v, 0x0a0, (uint32_t)(RAM_BASE + 0x3000));
		wr(v, 0x0a4, (uint32_t)(RAM_BASE >> 32));
		wr(v, 0x044, 1);
		CHECK(rd(v, 0x044) == 0);
		expect_needs_reset(v, NULL);
	}

	/* Wrong access sizes fault rather than act. */
	char err[256];
	uint64_t val;
	v = virtio_blk_create(&ram, &line, img_path, err, sizeof(err));
	CHECK(v);
	CHECK(virtio_mmio_ops.read(v, 0x070, 1, &val) == -1);
	CHECK(virtio_mmio_ops.write(v, 0x072, 4, 1) == -1);
	CHECK(virtio_mmio_ops.read(v, 0x100 + 3, 2, &val) == -1);
	CHECK(rdcfg(v, 0x1000, 4) == 0);
	virtio_mmio_destroy(v);
}

struct tx_log {
	uint8_t frame[2048];
	size_t len;
	int calls;
};

static void tx_cb(void *opaque, const uint8_t *frame, size_t len)
{
	struct tx_log *t = opaque;
	CHECK(len <= sizeof(t->frame));
	memcpy(t->frame, frame, len);
	t->len = len;
	t->calls++;
}

static void post_rx(struct drv_queue *q, uint16_t slot, uint64_t buf, uint32_t len)
{
	set_desc(q->desc, slot, buf, len, VIRTQ_DESC_F_WRITE, 0);
	avail_add(q, slot);
}

static void test_net(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct tx_log log = { .calls = 0 };
	struct drv_queue rxq, txq;
	uint32_t id, len;
	uint8_t frame[1514];

	struct virtio_mmio *v = virtio_net_create(&ram, &line, mac, tx_cb, &log);
	CHECK(v);
	CHECK(rd(v, 0x008) == 1);
	uint64_t f = dev_features(v);
	CHECK(f & (1ULL << 5) && f & (1ULL << 16) && f & (1ULL << VIRTIO_F_VERSION_1));
	for (int i = 0; i < 6; i++)
		CHECK(rdcfg(v, i, 1) == mac[i]);
	CHECK(rdcfg(v, 6, 2) == 1);
	CHECK(virtio_net_rx_ready(v) == 0);

	/* A frame before DRIVER_OK waits in the backlog; a reset (Status 0) drops it. */
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 3);
	CHECK(virtio_net_receive(v, frame + 5, 60) == 0);
	CHECK(negotiate(v, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5) | (1ULL << 16)));
	queue_setup(v, &rxq, 0, 16, RAM_BASE + 0x1000);
	queue_setup(v, &txq, 1, 16, RAM_BASE + 0x4000);
	wr(v, 0x030, 2);
	CHECK(rd(v, 0x034) == 0);
	CHECK(virtio_net_receive(v, frame, 60) == 0);
	driver_ok(v);

	/* TX: header and frame over three descriptors; the callback sees only the frame. */
	memset(gp(DATA), 0, 12);
	memcpy(gp(DATA + 0x100), frame, 1000);
	memcpy(gp(DATA + 0x800), frame + 1000, 514);
	set_desc(txq.desc, 0, DATA, 12, VIRTQ_DESC_F_NEXT, 1);
	set_desc(txq.desc, 1, DATA + 0x100, 1000, VIRTQ_DESC_F_NEXT, 2);
	set_desc(txq.desc, 2, DATA + 0x800, 514, 0, 0);
	kick(v, &txq, 0);
	CHECK(log.calls == 1 && log.len == 1514 && memcmp(log.frame, frame, 1514) == 0);
	used_pop(&txq, &id, &len);
	CHECK(id == 0 && len == 0);
	CHECK(irq_level == 1);
	ack_irq(v);

	/* RX: posting buffers and notifying delivers the backlog, in order. */
	CHECK(virtio_net_receive(v, frame + 1, 70) == 0);
	CHECK(virtio_net_rx_ready(v) == 0);
	post_rx(&rxq, 0, DATA + 0x4000, 1526);
	post_rx(&rxq, 1, DATA + 0x5000, 1526);
	post_rx(&rxq, 2, DATA + 0x6000, 1526);
	CHECK(virtio_net_rx_ready(v) == 1);
	wr(v, 0x050, 0);
	used_pop(&rxq, &id, &len);
	CHECK(id == 0 && len == 12 + 60);
	uint16_t nb;
	memcpy(&nb, gp(DATA + 0x4000 + 10), 2);
	CHECK(nb == 1 && gp(DATA + 0x4000)[0] == 0);
	CHECK(memcmp(gp(DATA + 0x4000 + 12), frame, 60) == 0);
	used_pop(&rxq, &id, &len);
	CHECK(id == 1 && len == 12 + 70);
	CHECK(memcmp(gp(DATA + 0x5000 + 12), frame + 1, 70) == 0);
	CHECK(irq_level == 1);
	ack_irq(v);
	CHECK(virtio_net_rx_ready(v) == 1);

	/* Direct delivery when a buffer is free. */
	CHECK(virtio_net_receive(v, frame, 1514) == 0);
	used_pop(&rxq, &id, &len);
	CHECK(id == 2 && len == 12 + 1514);
	CHECK(memcmp(gp(DATA + 0x6000 + 12), frame, 1514) == 0);
	CHECK(irq_level == 1);
	ack_irq(v);
	CHECK(virtio_net_rx_ready(v) == 0);

	/* A frame bigger than the next buffer is dropped, the buffer kept. */
	post_rx(&rxq, 3, DATA + 0x7000, 100);
	wr(v, 0x050, 0);
	CHECK(virtio_net_receive(v, frame, 1514) == -ENOSPC);
	CHECK(virtio_net_rx_ready(v) == 1);
	CHECK(virtio_net_receive(v, frame, 88) == 0);
	used_pop(&rxq, &id, &len);
	CHECK(id == 3 && len == 100);
	ack_irq(v);

	/* Buffers posted while notifies are ignored: the next receive drains the backlog first. */
	wr(v, 0x070, rd(v, 0x070) & ~VIRTIO_STATUS_DRIVER_OK);
	CHECK(virtio_net_receive(v, frame + 2, 61) == 0);
	post_rx(&rxq, 4, DATA + 0x7800, 1526);
	post_rx(&rxq, 5, DATA + 0x7000, 1526);
	wr(v, 0x050, 0);
	CHECK(used_idx(&rxq) == rxq.used_seen);
	driver_ok(v);
	CHECK(virtio_net_rx_ready(v) == 1);
	CHECK(virtio_net_receive(v, frame + 3, 62) == 0);
	used_pop(&rxq, &id, &len);
	CHECK(id == 4 && len == 12 + 61 && memcmp(gp(DATA + 0x7800 + 12), frame + 2, 61) == 0);
	used_pop(&rxq, &id, &len);
	CHECK(id == 5 && len == 12 + 62 && memcmp(gp(DATA + 0x7000 + 12), frame + 3, 62) == 0);
	ack_irq(v);

	/* The backlog is bounded: beyond it frames are dropped and counted. */
	for (int i = 0; i < 64; i++)
		CHECK(virtio_net_receive(v, frame, 60 + i) == 0);
	CHECK(virtio_net_receive(v, frame, 60) == -ENOSPC);
	for (int i = 0; i < 10; i++)
		post_rx(&rxq, (uint16_t)(6 + i), DATA + 0x8000 + 0x800 * i, 1526);
	wr(v, 0x050, 0);
	for (int i = 0; i < 10; i++) {
		used_pop(&rxq, &id, &len);
		CHECK(id == (uint32_t)(6 + i) && len == 12 + 60 + (uint32_t)i);
	}
	CHECK(used_idx(&rxq) == rxq.used_seen);
	CHECK(v->guest_errors == 0);

	/* A hostile TX chain (loop) puts the device in NEEDS_RESET; RX then queues. */
	set_desc(txq.desc, 0, DATA, 12, VIRTQ_DESC_F_NEXT, 1);
	set_desc(txq.desc, 1, DATA, 12, VIRTQ_DESC_F_NEXT, 0);
	kick(v, &txq, 0);
	CHECK(rd(v, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(rd(v, 0x060) & VIRTIO_INT_CONFIG);
	CHECK(log.calls == 1);
	CHECK(virtio_net_rx_ready(v) == 0);
	wr(v, 0x070, 0);
	CHECK(irq_level == 0);
	virtio_mmio_destroy(v);

	/* Destroy with frames still in the backlog frees them (ASan checks). */
	v = virtio_net_create(&ram, &irq, mac, NULL, NULL);
	CHECK(v);
	CHECK(virtio_net_receive(v, frame, 100) == 0);
	CHECK(virtio_net_receive(v, frame, 65537) == -ENOSPC);
	virtio_mmio_destroy(v);
}

static uint64_t digest(const struct virtio_mmio *v)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct le_writer w = le_writer_grow();

	virtio_mmio_save(v, &w);
	CHECK(!w.failed);
	for (size_t i = 0; i < w.len; i++)
		h = (h ^ w.buf[i]) * 0x100000001b3ULL;
	free(w.buf);
	return h;
}

/* What save writes, load reads back into a fresh device; every truncation is refused and changes nothing. */
static void test_save_load(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 }, other_mac[6] = { 2, 0, 0, 0, 0, 2 };
	uint8_t frame[64] = { 1, 2, 3 };
	struct virtio_mmio *a = virtio_net_create(&ram, &irq, mac, NULL, NULL);
	struct virtio_mmio *b = virtio_net_create(&ram, &irq, mac, NULL, NULL);
	struct virtio_mmio *c = virtio_net_create(&ram, &irq, other_mac, NULL, NULL);
	struct le_writer w = le_writer_grow();
	struct le_reader r;

	CHECK(a && b && c);
	CHECK(virtio_net_receive(a, frame, 60) == 0);
	frame[0] = 9;
	CHECK(virtio_net_receive(a, frame, 33) == 0);
	wr(a, 0x030, 1);
	virtio_mmio_save(a, &w);
	CHECK(!w.failed && w.len > 0);
	uint64_t before = digest(b);
	for (size_t cut = 0; cut < w.len; cut++) {
		r = le_reader_init(w.buf, cut);
		CHECK(virtio_mmio_load(b, &r) == -EINVAL);
		CHECK(digest(b) == before);
	}
	r = le_reader_init(w.buf, w.len);
	CHECK(virtio_mmio_load(c, &r) == -EINVAL);	/* another MAC: another device */
	r = le_reader_init(w.buf, w.len);
	CHECK(virtio_mmio_load(b, &r) == 0 && le_reader_done(&r));
	CHECK(digest(a) == digest(b));
	free(w.buf);
	virtio_mmio_destroy(a);
	virtio_mmio_destroy(b);
	virtio_mmio_destroy(c);
}

/* Two devices fed the same inputs digest equal; a differing backlog byte or register shows. */
static void test_digest(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	uint8_t frame[64] = { 1, 2, 3 };
	struct virtio_mmio *a = virtio_net_create(&ram, &irq, mac, NULL, NULL);
	struct virtio_mmio *b = virtio_net_create(&ram, &irq, mac, NULL, NULL);

	CHECK(a && b);
	CHECK(digest(a) == digest(b));
	CHECK(virtio_net_receive(a, frame, 60) == 0);
	CHECK(digest(a) != digest(b));
	frame[59] ^= 1;
	CHECK(virtio_net_receive(b, frame, 60) == 0);
	CHECK(digest(a) != digest(b));
	virtio_mmio_destroy(b);
	frame[59] ^= 1;
	b = virtio_net_create(&ram, &irq, mac, NULL, NULL);
	CHECK(b && virtio_net_receive(b, frame, 60) == 0);
	CHECK(digest(a) == digest(b));
	wr(a, 0x030, 1);
	CHECK(digest(a) != digest(b));
	virtio_mmio_destroy(a);
	virtio_mmio_destroy(b);
}

int main(void)
{
	ram.base = RAM_BASE;
	ram.size = RAM_BYTES;
	ram.host = calloc(1, RAM_BYTES);
	CHECK(ram.host);
	line = (struct irq_line){ .set = irq_cb, .opaque = NULL, .irq = 1 };
	make_image();

	test_blk();
	test_blk_readonly();
	test_blk_snapshot();
	test_hostile_blk();
	test_net();
	test_digest();
	test_save_load();

	free(ram.host);
	return check_done("test_virtio");
}
