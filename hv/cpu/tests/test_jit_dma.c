/* SPDX-License-Identifier: MIT */
/* test_jit_dma: code a virtio-blk read writes over translated code runs new at once, no FENCE.I, as under the interpreter. */

/*
 * A real machine (real harts, the translator or the interpreter, a real
 * virtio-blk on a real file); the test plays the guest's driver through the
 * bus, as test_dma_dirty does. The guest calls a function at FN_ADDR
 * in a loop; the function first returns 1. Then a disk read lands a new
 * function (returning 2) on that page by DMA, and the guest, with no
 * FENCE.I, must get 2 on its next calls. Under --cpu jit the old function
 * was translated and its block ran many times before the read: only the
 * device write's hook into the translator (hv/mem.h) makes the new code run.
 */
#include "hv/hv.h"
#include "hv/machine_internal.h"
#include "hv/cpu/jit.h"
#include "hv/tests/check.h"
#include "hv/tests/elf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM_BASE	0x80000000ull
#define MEM_BYTES	(16ull << 20)
/*
 * The called function's page, and the function off its start: neither its
 * code TLB entry nor its jump cache slot is the loop's, so calls reach the
 * old block straight through the jump cache until the DMA drops it.
 */
#define FN_PAGE		(RAM_BASE + 0x301000)
#define FN_OFF		0x100
#define FN_ADDR		(FN_PAGE + FN_OFF)
#define RING_PAGE	(RAM_BASE + 0x200000)	/* desc at +0, avail at +0x100, used at +0x200 */
#define HDR_ADDR	(RAM_BASE + 0x201000)
#define STATUS_ADDR	(RAM_BASE + 0x202000)
#define BLK_MMIO	0x10001000ull		/* virtio slot 0: the disk */
#define DISK_BYTES	(64 << 10)
#define FN_SECTOR	5

#define LI_A0(v)	(0x00000513u | (uint32_t)(v) << 20)	/* addi a0, x0, v */
#define RET		0x00008067u				/* jalr x0, 0(ra) */

/* loop: auipc t0, 0x301 (t0 = FN_PAGE); jalr ra, FN_OFF(t0); j loop */
static int write_elf(const char *path)
{
	static const uint32_t prog[] = { 0x00301297, 0x000280e7 | FN_OFF << 20, 0xff9ff06f };

	return test_write_elf(path, prog, sizeof(prog) / 4);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)(v >> (8 * b));
}

/* Sector FN_SECTOR holds the new function: li a0, 2; ret. */
static int write_disk(const char *path)
{
	static uint8_t img[DISK_BYTES];
	FILE *f = fopen(path, "wb");

	put32(img + FN_SECTOR * 512 + FN_OFF, LI_A0(2));
	put32(img + FN_SECTOR * 512 + FN_OFF + 4, RET);
	if (!f)
		return -1;
	if (fwrite(img, sizeof(img), 1, f) != 1) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static struct hv_machine *create(const char *elf, const char *disk, enum hv_cpu_mode cpu)
{
	struct hv_config cfg = { .mem_bytes = MEM_BYTES, .smp = 1, .kernel = elf, .disk = disk,
				 .cpu = cpu };
	struct hv_machine *m;
	char err[256];

	if (hv_machine_create(&cfg, NULL, NULL, &m, err, sizeof(err))) {
		fprintf(stderr, "test_jit_dma: cannot create machine: %s\n", err);
		exit(1);
	}
	/* The old function, in place before the first instruction runs (nothing translated yet). */
	put32(guest_ram_ptr(&m->ram, FN_ADDR, 4), LI_A0(1));
	put32(guest_ram_ptr(&m->ram, FN_ADDR + 4, 4), RET);
	return m;
}

static void reg_write(struct hv_machine *m, uint64_t off, uint32_t val)
{
	CHECK(bus_mmio_write(&m->bus, BLK_MMIO + off, 4, val) == 0, "mmio write 0x%llx",
	      (unsigned long long)off);
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
	put32(d + 8, len);
	d[12] = (uint8_t)flags;
	d[13] = (uint8_t)(flags >> 8);
	d[14] = (uint8_t)next;
	d[15] = (uint8_t)(next >> 8);
}

/* The driver (virtio 1.1 sections 3.1.1, 4.2.3): read sector FN_SECTOR to the function's page start. */
static void read_fn_sector(struct hv_machine *m)
{
	uint8_t *hdr = guest_ram_ptr(&m->ram, HDR_ADDR, 16);

	reg_write(m, 0x070, 0);
	reg_write(m, 0x070, 0x3);		/* ACKNOWLEDGE | DRIVER */
	reg_write(m, 0x024, 1);
	reg_write(m, 0x020, 1);			/* VIRTIO_F_VERSION_1 (bit 32) */
	reg_write(m, 0x070, 0xb);		/* | FEATURES_OK */
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
	hdr[8] = FN_SECTOR;
	put_desc(m, 0, HDR_ADDR, 16, 1, 1);
	put_desc(m, 1, FN_PAGE, 512, 1 | 2, 2);
	put_desc(m, 2, STATUS_ADDR, 1, 2, 0);
	put16(m, RING_PAGE + 0x100 + 4, 0);	/* avail ring[0] = head 0 */
	put16(m, RING_PAGE + 0x100 + 2, 1);	/* avail idx = 1 */
	reg_write(m, 0x050, 0);			/* QueueNotify: completes before it returns */
	CHECK_EQ(*guest_ram_ptr(&m->ram, STATUS_ADDR, 1), 0, "request status VIRTIO_BLK_S_OK");
}

static uint64_t run_a0(struct hv_machine *m, uint64_t steps)
{
	struct hv_stop_info info;

	CHECK(hv_run(m, steps, &info) == 0, "hv_run");
	return m->harts[0].x[10];
}

static void one(const char *elf, const char *disk, enum hv_cpu_mode cpu, const char *name)
{
	struct hv_machine *m = create(elf, disk, cpu);
	struct rv_jit_stats before = { 0 }, after = { 0 };

	uint64_t a0 = run_a0(m, 10000);
	CHECK(a0 == 1, "%s: the old function returns 1 (a0 %llu)", name, (unsigned long long)a0);
	if (m->jit)
		rv_jit_get_stats(m->jit, &before);
	read_fn_sector(m);
	a0 = run_a0(m, 10000);
	CHECK(a0 == 2, "%s: after the DMA the new function returns 2, no FENCE.I (a0 %llu)", name,
	      (unsigned long long)a0);
	if (m->jit) {
		rv_jit_get_stats(m->jit, &after);
		CHECK(before.blocks_translated >= 2 && before.interp_steps < 1000,
		      "%s: the loop and the old function ran translated (%llu of 10000 steps interpreted)",
		      name, (unsigned long long)before.interp_steps);
		CHECK(after.page_drops > before.page_drops, "%s: the DMA dropped the page's translations",
		      name);
		CHECK(after.blocks_translated > before.blocks_translated,
		      "%s: the new function was translated", name);
	}
	hv_machine_destroy(m);
}

int main(void)
{
	char elf[] = "/tmp/test_jit_dma_elf_XXXXXX";
	char disk[] = "/tmp/test_jit_dma_disk_XXXXXX";
	int fds[2] = { mkstemp(elf), mkstemp(disk) };

	for (int i = 0; i < 2; i++)
		if (fds[i] < 0 || close(fds[i])) {
			fprintf(stderr, "test_jit_dma: mkstemp failed\n");
			return 1;
		}
	if (write_elf(elf) || write_disk(disk)) {
		fprintf(stderr, "test_jit_dma: cannot write test files\n");
		return 1;
	}
	one(elf, disk, HV_CPU_INTERP, "interp");
	if (rv_jit_supported())
		one(elf, disk, HV_CPU_JIT, "jit");
	unlink(elf);
	unlink(disk);
	return check_done("test_jit_dma");
}
