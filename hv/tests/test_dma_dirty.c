/* SPDX-License-Identifier: MIT */
/* test_dma_dirty: pages a device writes by DMA reach the incremental digest, so replicas whose disks differ are caught. */

/*
 * Two machines, identical but for one 512-byte block of their disk images.
 * The test plays the guest's virtio-blk driver through the machine's bus: it lays out a queue in RAM and asks for the differing block. No hart
 * ever loads or executes the bytes read. The first hv_digest_dirty after the
 * read must differ between the two (and agree when the disks agree), which
 * holds only if the device marked the pages it wrote: the data buffer, the
 * status byte and the used ring.
 *
 * Why a unit test and not a recorded Linux run: a replay refuses a disk
 * whose sha256 differs from the log header, and flipping the block under a
 * running replay races the guest's read. Here both machines are real (real
 * harts, real virtio-blk on a real file, the real digest); only the driver is
 * the test.
 */
#include "hv/hv.h"
#include "hv/machine_internal.h"
#include "hv/tests/check.h"
#include "hv/tests/elf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM_BASE	0x80000000ull
#define MEM_BYTES	(16ull << 20)
#define RING_PAGE	(RAM_BASE + 0x200000)	/* desc at +0, avail at +0x100, used at +0x200 */
#define HDR_ADDR	(RAM_BASE + 0x201000)
#define DATA_ADDR	(RAM_BASE + 0x300000)	/* a page nothing else touches */
#define STATUS_ADDR	(RAM_BASE + 0x202000)
#define BLK_MMIO	0x10001000ull		/* virtio slot 0: the disk */
#define DISK_BYTES	(64 << 10)
#define ODD_SECTOR	5

/* A one-instruction guest: j . at the entry. */
static int write_elf(const char *path)
{
	static const uint32_t prog[] = { 0x0000006f };

	return test_write_elf(path, prog, 1);
}

/* A disk of a repeating pattern; odd != 0 changes one byte of sector ODD_SECTOR. */
static int write_disk(const char *path, uint8_t odd)
{
	static uint8_t img[DISK_BYTES];
	FILE *f = fopen(path, "wb");

	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7 + 3);
	img[ODD_SECTOR * 512 + 100] ^= odd;
	if (!f)
		return -1;
	if (fwrite(img, sizeof(img), 1, f) != 1) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static struct hv_machine *create(const char *elf, const char *disk)
{
	struct hv_config cfg = { .mem_bytes = MEM_BYTES, .smp = 1, .kernel = elf, .disk = disk };
	struct hv_machine *m;
	char err[256];

	if (hv_machine_create(&cfg, NULL, NULL, &m, err, sizeof(err)) || hv_track_dirty(m)) {
		fprintf(stderr, "test_dma_dirty: cannot create machine: %s\n", err);
		exit(1);
	}
	return m;
}

static void reg_write(struct hv_machine *m, uint64_t off, uint32_t val)
{
	CHECK(bus_mmio_write(&m->bus, BLK_MMIO + off, 4, val) == 0, "mmio write 0x%llx",
	      (unsigned long long)off);
}

static uint32_t reg_read(struct hv_machine *m, uint64_t off)
{
	uint64_t val = 0;

	CHECK(bus_mmio_read(&m->bus, BLK_MMIO + off, 4, &val) == 0, "mmio read 0x%llx",
	      (unsigned long long)off);
	return (uint32_t)val;
}

static void put16(struct hv_machine *m, uint64_t gpa, uint16_t v)
{
	uint8_t *p = guest_ram_ptr(&m->ram, gpa, 2);
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_desc(struct hv_machine *m, int i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = guest_ram_ptr(&m->ram, RING_PAGE + 16ull * i, 16);

	for (int b = 0; b < 8; b++)
		d[b] = (uint8_t)(addr >> (8 * b));
	for (int b = 0; b < 4; b++)
		d[8 + b] = (uint8_t)(len >> (8 * b));
	d[12] = (uint8_t)flags;
	d[13] = (uint8_t)(flags >> 8);
	d[14] = (uint8_t)next;
	d[15] = (uint8_t)(next >> 8);
}

/*
 * The driver's side (virtio 1.1 sections 3.1.1 and 4.2.3): negotiate
 * VERSION_1, set up queue 0 of 8 entries, and read sector ODD_SECTOR.
 * The ring layout is written straight into RAM, as a guest's stores would
 * be, identically on both machines.
 */
static void read_odd_sector(struct hv_machine *m)
{
	uint8_t *hdr = guest_ram_ptr(&m->ram, HDR_ADDR, 16);

	reg_write(m, 0x070, 0);
	reg_write(m, 0x070, 0x3);		/* ACKNOWLEDGE | DRIVER */
	reg_write(m, 0x024, 1);
	reg_write(m, 0x020, 1);			/* VIRTIO_F_VERSION_1 (bit 32) */
	reg_write(m, 0x070, 0xb);		/* | FEATURES_OK */
	CHECK(reg_read(m, 0x070) & 0x8, "FEATURES_OK accepted");
	reg_write(m, 0x030, 0);
	reg_write(m, 0x038, 8);
	reg_write(m, 0x080, (uint32_t)RING_PAGE);
	reg_write(m, 0x084, (uint32_t)(RING_PAGE >> 32));
	reg_write(m, 0x090, (uint32_t)(RING_PAGE + 0x100));
	reg_write(m, 0x094, (uint32_t)((RING_PAGE + 0x100) >> 32));
	reg_write(m, 0x0a0, (uint32_t)(RING_PAGE + 0x200));
	reg_write(m, 0x0a4, (uint32_t)((RING_PAGE + 0x200) >> 32));
	reg_write(m, 0x044, 1);
	reg_write(m, 0x070, 0xf);		/* | DRIVER_OK */

	memset(hdr, 0, 16);			/* type IN, sector below */
	hdr[8] = ODD_SECTOR;
	put_desc(m, 0, HDR_ADDR, 16, 1, 1);
	put_desc(m, 1, DATA_ADDR, 512, 1 | 2, 2);
	put_desc(m, 2, STATUS_ADDR, 1, 2, 0);
	put16(m, RING_PAGE + 0x100 + 4, 0);	/* avail ring[0] = head 0 */
	put16(m, RING_PAGE + 0x100 + 2, 1);	/* avail idx = 1 */
	reg_write(m, 0x050, 0);			/* QueueNotify: completes before it returns */
	CHECK_EQ(*guest_ram_ptr(&m->ram, STATUS_ADDR, 1), 0, "request status VIRTIO_BLK_S_OK");
	CHECK_EQ(*guest_ram_ptr(&m->ram, RING_PAGE + 0x202, 1), 1, "used idx");
}

static void run(struct hv_machine *m, uint64_t steps)
{
	struct hv_stop_info info;

	CHECK(hv_run(m, steps, &info) == 0, "hv_run");
}

int main(void)
{
	char elf[] = "/tmp/test_dma_dirty_elf_XXXXXX";
	char disk_a[] = "/tmp/test_dma_dirty_a_XXXXXX";
	char disk_b[] = "/tmp/test_dma_dirty_b_XXXXXX";
	int fds[3] = { mkstemp(elf), mkstemp(disk_a), mkstemp(disk_b) };
	uint8_t da[HV_DIGEST_BYTES], db[HV_DIGEST_BYTES], dc[HV_DIGEST_BYTES];

	for (int i = 0; i < 3; i++)
		if (fds[i] < 0 || close(fds[i])) {
			fprintf(stderr, "test_dma_dirty: mkstemp failed\n");
			return 1;
		}
	if (write_elf(elf) || write_disk(disk_a, 0) || write_disk(disk_b, 0x40)) {
		fprintf(stderr, "test_dma_dirty: cannot write test files\n");
		return 1;
	}

	struct hv_machine *a = create(elf, disk_a);
	struct hv_machine *b = create(elf, disk_b);
	struct hv_machine *c = create(elf, disk_a);	/* control: same disk as a */

	/* Before the read the disks differ but nothing of them is in RAM. */
	run(a, 1000);
	run(b, 1000);
	run(c, 1000);
	hv_digest_dirty(a, da);
	hv_digest_dirty(b, db);
	hv_digest_dirty(c, dc);
	CHECK(memcmp(da, db, sizeof(da)) == 0, "digests agree before the differing block is read");
	CHECK(memcmp(da, dc, sizeof(da)) == 0, "control digest agrees");

	read_odd_sector(a);
	read_odd_sector(b);
	read_odd_sector(c);
	CHECK_EQ(*guest_ram_ptr(&a->ram, DATA_ADDR + 100, 1) ^ *guest_ram_ptr(&b->ram, DATA_ADDR + 100, 1),
		 0x40, "the read brought the differing byte into RAM");
	run(a, 1000);
	run(b, 1000);
	run(c, 1000);
	hv_digest_dirty(a, da);
	hv_digest_dirty(b, db);
	hv_digest_dirty(c, dc);
	CHECK(memcmp(da, db, sizeof(da)) != 0,
	      "the next incremental digest catches the block read by DMA");
	CHECK(memcmp(da, dc, sizeof(da)) == 0, "identical disks still give identical digests");

	/* The pages were forgotten after that digest: a later one agrees again only if nothing else differs. */
	hv_digest_dirty(a, da);
	hv_digest_dirty(c, dc);
	CHECK(memcmp(da, dc, sizeof(da)) == 0, "control agrees on the following digest");

	hv_machine_destroy(a);
	hv_machine_destroy(b);
	hv_machine_destroy(c);
	unlink(elf);
	unlink(disk_a);
	unlink(disk_b);
	return check_done("test_dma_dirty");
}
