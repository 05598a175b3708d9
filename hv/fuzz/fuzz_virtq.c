/* SPDX-License-Identifier: MIT */
/* fuzz_virtq: libFuzzer target driving virtio-blk and virtio-net from a guest RAM and register writes made of the input. */
#include "hv/dev/virtio.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Input: 4 setup bytes, a 1-byte command count, 4 bytes per command, and the
 * rest copied to the start of a 16 KiB guest RAM. The rings sit at fixed
 * places near the start of RAM so that the input's first bytes are
 * descriptors and avail rings:
 *   blk q0   desc 0x000 avail 0x100 used 0x140
 *   net rx   desc 0x200 avail 0x300 used 0x340
 *   net tx   desc 0x400 avail 0x500 used 0x540
 */
#define FZ_RAM_BASE	0x80000000ULL
#define FZ_RAM_BYTES	0x4000u
#define FZ_IMG_BYTES	(64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char img_path[64];
static uint8_t ram_buf[FZ_RAM_BYTES];
static uint8_t frame_buf[2048];

static void noop_irq(void *opaque, int irq, int level)
{
}

static void sink_tx(void *opaque, const uint8_t *frame, size_t len)
{
	volatile uint8_t x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= frame[i];
	(void)x;
}

static void remove_image(void)
{
	unlink(img_path);
}

/* Whatever state the commands left, save then load into a fresh device gives it back. */
static void check_round_trip(struct virtio_mmio *v, struct virtio_mmio *fresh)
{
	struct le_writer a = le_writer_grow(), b = le_writer_grow();
	struct le_reader r;

	virtio_mmio_save(v, &a);
	r = le_reader_init(a.buf, a.len);
	if (a.failed || virtio_mmio_load(fresh, &r) || !le_reader_done(&r))
		abort();
	virtio_mmio_save(fresh, &b);
	if (b.failed || a.len != b.len || memcmp(a.buf, b.buf, a.len))
		abort();
	free(a.buf);
	free(b.buf);
}

static void make_image(void)
{
	int fd;

	if (img_path[0])
		return;
	snprintf(img_path, sizeof(img_path), "/tmp/fuzz_virtq_%d.img", (int)getpid());
	fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, FZ_IMG_BYTES) < 0)
		abort();
	close(fd);
	atexit(remove_image);
}

static void reg_write(struct virtio_mmio *v, uint64_t off, uint32_t val)
{
	(void)virtio_mmio_ops.write(v, off, 4, val);
}

static void setup(struct virtio_mmio *v, uint64_t features, uint32_t ring_base, int nq,
		  const uint32_t *num)
{
	reg_write(v, 0x070, 1);
	reg_write(v, 0x070, 3);
	reg_write(v, 0x024, 0);
	reg_write(v, 0x020, (uint32_t)features);
	reg_write(v, 0x024, 1);
	reg_write(v, 0x020, (uint32_t)(features >> 32));
	reg_write(v, 0x070, 0xb);
	for (int q = 0; q < nq; q++) {
		uint64_t base = FZ_RAM_BASE + ring_base + 0x200u * q;
		reg_write(v, 0x030, q);
		reg_write(v, 0x038, num[q]);
		reg_write(v, 0x080, (uint32_t)base);
		reg_write(v, 0x084, (uint32_t)(base >> 32));
		reg_write(v, 0x090, (uint32_t)(base + 0x100));
		reg_write(v, 0x094, (uint32_t)(base >> 32));
		reg_write(v, 0x0a0, (uint32_t)(base + 0x140));
		reg_write(v, 0x0a4, (uint32_t)(base >> 32));
		reg_write(v, 0x044, 1);
	}
	reg_write(v, 0x070, 0xf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct guest_ram ram = { .host = ram_buf, .base = FZ_RAM_BASE, .size = FZ_RAM_BYTES };
	struct irq_line irq = { .set = noop_irq };
	struct virtio_mmio *blk, *net;
	size_t ncmd, pos;
	char err[128];
	uint64_t val;

	if (size < 5)
		return 0;
	make_image();
	ncmd = data[4];
	pos = 5 + 4 * ncmd;
	if (pos > size)
		return 0;
	memset(ram_buf, 0, sizeof(ram_buf));
	memcpy(ram_buf, data + pos, size - pos < FZ_RAM_BYTES ? size - pos : FZ_RAM_BYTES);

	blk = virtio_blk_create(&ram, &irq, img_path, err, sizeof(err));
	net = virtio_net_create(&ram, &irq, mac, sink_tx, NULL);
	if (!blk || !net)
		abort();

	/* Setup byte 0: feature extras; bytes 1-3: queue sizes, mostly valid powers of two. */
	uint64_t f = 1ULL << VIRTIO_F_VERSION_1;
	if (data[0] & 1)
		f |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	if (data[0] & 2)
		f |= 1ULL << 9;
	uint32_t nb[1] = { data[1] & 0x80 ? data[1] : 1u << (data[1] % 5) };
	uint32_t nn[2] = { 1u << (data[2] % 5), data[3] & 0x80 ? data[3] : 1u << (data[3] % 5) };
	setup(blk, f, 0x000, 1, nb);
	setup(net, f | (1ULL << 5) | (1ULL << 16), 0x200, 2, nn);

	for (size_t i = 0; i < ncmd; i++) {
		const uint8_t *c = data + 5 + 4 * i;
		struct virtio_mmio *v = c[0] & 0x80 ? net : blk;
		uint16_t arg = (uint16_t)(c[2] | c[3] << 8);

		switch (c[0] & 7) {
		case 0:
			reg_write(v, 0x050, c[1] & 1);
			break;
		case 1:
			for (size_t j = 0; j < sizeof(frame_buf); j++)
				frame_buf[j] = (uint8_t)(j ^ c[1]);
			(void)virtio_net_receive(net, frame_buf, arg % sizeof(frame_buf));
			(void)virtio_net_rx_ready(net);
			break;
		case 2:
			reg_write(v, (uint64_t)(c[1] & 0x3f) * 4, arg | (uint32_t)c[1] << 16);
			break;
		case 3:
			(void)virtio_mmio_ops.read(v, c[1], 1 << (c[2] & 3), &val);
			break;
		case 4:
			reg_write(v, 0x064, 3);
			break;
		case 5:
			ram_buf[arg % FZ_RAM_BYTES] = c[1];
			break;
		case 6: {
			/* Publish head c[1] on a queue the way a driver would. */
			uint64_t avail = 0x100 + (c[0] & 0x80 ? 0x200u + 0x200u * (c[2] & 1) : 0);
			uint16_t idx;
			memcpy(&idx, ram_buf + avail + 2, 2);
			ram_buf[avail + 4 + 2 * (idx % 16)] = c[1];
			ram_buf[avail + 5 + 2 * (idx % 16)] = 0;
			idx++;
			memcpy(ram_buf + avail + 2, &idx, 2);
			reg_write(v, 0x050, c[0] & 0x80 ? c[2] & 1 : 0);
			break;
		}
		case 7:
			(void)virtio_mmio_ops.write(v, 0x100 + c[1], 1 << (c[2] & 3), arg);
			break;
		}
	}
	struct virtio_mmio *blk2 = virtio_blk_create(&ram, &irq, img_path, err, sizeof(err));
	struct virtio_mmio *net2 = virtio_net_create(&ram, &irq, mac, sink_tx, NULL);
	if (!blk2 || !net2)
		abort();
	check_round_trip(blk, blk2);
	check_round_trip(net, net2);
	virtio_mmio_destroy(blk2);
	virtio_mmio_destroy(net2);
	virtio_mmio_destroy(blk);
	virtio_mmio_destroy(net);
	return 0;
}
