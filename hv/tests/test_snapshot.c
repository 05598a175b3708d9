/* SPDX-License-Identifier: MIT */
/* test_snapshot: a small machine saved and loaded runs on identically; every flipped byte and every truncation is refused. */
#include "hv/hv.h"
#include "hv/crc32c.h"
#include "hv/le.h"
#include "hv/snapshot.h"
#include "hv/tests/check.h"
#include "hv/tests/elf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_BASE	0x80000000ull
#define MEM_BYTES	(16ull << 20)
#define DISK_BYTES	(64 << 10)

static uint32_t jal(int32_t off, unsigned rd)
{
	uint32_t u = (uint32_t)off;

	return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
	       ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

/*
 * A counter stored to one RAM page in a loop, with a timer interrupt armed
 * so that the CLINT, mip and the trap path carry state across the save:
 *   t0 = 0x80100000; t1 = 0; mtvec = handler; mtimecmp[0] = 3000; mie.MTIE, mstatus.MIE
 *   loop: t1++; sd t1, 0(t0); j loop
 *   handler: t2++; sd t2, 8(t0); mtimecmp[0] += 500; mret
 */
static size_t build_program(uint32_t *p)
{
	size_t n = 0;

	p[n++] = 0x00100297;			/* 0  auipc t0, 0x100 */
	p[n++] = 0x00000313;			/* 4  li t1, 0 */
	p[n++] = 0x00000397;			/* 8  auipc t2, 0 */
	p[n++] = 0x04038393;			/* 12 addi t2, t2, 64  (handler at 72) */
	p[n++] = 0x30539073;			/* 16 csrw mtvec, t2 */
	p[n++] = 0x00000393;			/* 20 li t2, 0 */
	p[n++] = 0x02004e37;			/* 24 lui t3, 0x2004 (mtimecmp[0]) */
	p[n++] = 0x00001eb7 | (3u << 12);	/* 28 lui t4, 0x3 -> 12288 */
	p[n++] = 0x01de3023;			/* 32 sd t4, 0(t3) */
	p[n++] = 0x08000e93;			/* 36 li t4, 128 (MTIE) */
	p[n++] = 0x304e9073;			/* 40 csrw mie, t4 */
	p[n++] = 0x30046073;			/* 44 csrsi mstatus, 8 (MIE) */
	p[n++] = 0x00130313;			/* 48 loop: addi t1, t1, 1 */
	p[n++] = 0x0062b023;			/* 52 sd t1, 0(t0) */
	p[n++] = jal(-8, 0);			/* 56 j loop */
	p[n++] = 0x00000013;			/* 60 nop */
	p[n++] = 0x00000013;			/* 64 nop */
	p[n++] = 0x00000013;			/* 68 nop */
	p[n++] = 0x00138393;			/* 72 handler: addi t2, t2, 1 */
	p[n++] = 0x0072b423;			/* 76 sd t2, 8(t0) */
	p[n++] = 0x000e3e83;			/* 80 ld t4, 0(t3) */
	p[n++] = 0x1f4e8e93;			/* 84 addi t4, t4, 500 */
	p[n++] = 0x01de3023;			/* 88 sd t4, 0(t3) */
	p[n++] = 0x30200073;			/* 92 mret */
	return n;
}

static int write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen,
		      const void *c, size_t clen)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	if ((alen && fwrite(a, alen, 1, f) != 1) || (blen && fwrite(b, blen, 1, f) != 1) ||
	    (clen && fwrite(c, clen, 1, f) != 1)) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static int write_elf(const char *path)
{
	uint32_t prog[64];

	return test_write_elf(path, prog, build_program(prog));
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;

	if (!f || fstat(fileno(f), &st) || !(buf = malloc((size_t)st.st_size + 1)) ||
	    fread(buf, (size_t)st.st_size, 1, f) != 1) {
		fprintf(stderr, "test_snapshot: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*len = (size_t)st.st_size;
	return buf;
}

static void run(struct hv_machine *m, uint64_t until)
{
	struct hv_stop_info info;

	while (hv_steps(m) < until) {
		CHECK(hv_run(m, until - hv_steps(m), &info) == 0, "hv_run");
		if (info.why != HV_STOP_BUDGET) {
			CHECK(0, "unexpected stop %d at %llu", info.why, (unsigned long long)hv_steps(m));
			break;
		}
	}
}

static void digest_hex(struct hv_machine *m, char out[2 * HV_DIGEST_BYTES + 1])
{
	uint8_t d[HV_DIGEST_BYTES];

	hv_digest(m, d);
	for (int i = 0; i < HV_DIGEST_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static char elf[] = "/tmp/test_snapshot_elf_XXXXXX";
static char disk[] = "/tmp/test_snapshot_disk_XXXXXX";
static char snap[] = "/tmp/test_snapshot_snap_XXXXXX";

static struct hv_config config(void)
{
	return (struct hv_config){ .mem_bytes = MEM_BYTES, .smp = 2, .kernel = elf, .disk = disk,
				   .net = "user" };
}

/* Saved at N, loaded in a fresh machine: the same digest at N and after another stretch. */
static void test_round_trip(void)
{
	struct hv_config cfg = config();
	struct hv_machine *a, *b;
	char err[512], da[2 * HV_DIGEST_BYTES + 1], db[2 * HV_DIGEST_BYTES + 1];
	struct hv_snapshot_info info;

	CHECK(hv_machine_create(&cfg, NULL, NULL, &a, err, sizeof(err)) == 0, "create: %s", err);
	CHECK(hv_track_dirty(a) == 0, "dirty tracking");
	run(a, 500003);
	CHECK(hv_snapshot_save(a, snap, NULL, err, sizeof(err)) == 0, "save: %s", err);
	CHECK(hv_snapshot_info(snap, &info, err, sizeof(err)) == 0, "info: %s", err);
	CHECK_EQ(info.steps, 500003, "steps in the snapshot");
	uint64_t peek_steps;
	struct hv_snapshot_logpos peek_pos;
	CHECK(hv_snapshot_peek(snap, &peek_steps, &peek_pos, err, sizeof(err)) == 0 && peek_steps == 500003 &&
	      !peek_pos.valid, "peek without a log position: %s", err);
	CHECK_EQ(info.smp, 2, "harts");
	CHECK(info.has_disk && info.has_net && info.disk_bytes == DISK_BYTES, "devices");
	CHECK(info.ram_pages > 0 && info.ram_pages < 16, "only non-zero pages stored (%llu)",
	      (unsigned long long)info.ram_pages);

	struct hv_config from = { .disk = disk, .net = "user" };	/* no kernel: RAM comes from the file */
	CHECK(hv_machine_create_from_snapshot(snap, &from, NULL, NULL, &b, NULL, err, sizeof(err)) == 0,
	      "load: %s", err);
	if (!b)
		return;
	CHECK_EQ(hv_steps(b), 500003, "steps after load");
	digest_hex(a, da);
	digest_hex(b, db);
	CHECK(!strcmp(da, db), "digest at the save: %s vs %s", da, db);
	/* The pages written since the last digest came along: the next incremental digest agrees. */
	uint8_t ia[HV_DIGEST_BYTES], ib[HV_DIGEST_BYTES];
	hv_digest_dirty(a, ia);
	hv_digest_dirty(b, ib);
	CHECK(!memcmp(ia, ib, sizeof(ia)), "incremental digest after the load");
	run(a, 2000000);
	run(b, 2000000);
	digest_hex(a, da);
	digest_hex(b, db);
	CHECK(!strcmp(da, db), "digest 1.9M steps later: %s vs %s", da, db);
	uint64_t xa[32], xb[32], pca, pcb;
	hv_hart_regs(a, 0, xa, &pca);
	hv_hart_regs(b, 0, xb, &pcb);
	CHECK(xa[7] > 10 && xa[7] == xb[7] && pca == pcb, "timer handler ran as often in both (%llu, %llu)",
	      (unsigned long long)xa[7], (unsigned long long)xb[7]);
	hv_machine_destroy(a);
	hv_machine_destroy(b);

	/* The host side must match what was saved. */
	from.net = NULL;
	CHECK(hv_machine_create_from_snapshot(snap, &from, NULL, NULL, &b, NULL, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "--net"), "a snapshot with virtio-net needs --net: %s", err);
	from.net = "user";
	from.disk = NULL;
	CHECK(hv_machine_create_from_snapshot(snap, &from, NULL, NULL, &b, NULL, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "--disk"), "a snapshot with a disk needs --disk: %s", err);
	from.disk = disk;
	FILE *f = fopen(disk, "r+b");
	CHECK(f && fseek(f, 4096, SEEK_SET) == 0 && fputc('x', f) != EOF && fclose(f) == 0, "change disk");
	CHECK(hv_machine_create_from_snapshot(snap, &from, NULL, NULL, &b, NULL, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "differs"), "a changed disk is refused: %s", err);
	CHECK(b == NULL, "nothing returned on error");
}

/* Every single flipped byte, and every truncation, is refused with a message naming the file. */
static void test_damage(void)
{
	struct hv_config cfg = { .disk = NULL, .net = "user" };
	struct hv_config mk = config();
	struct hv_machine *m;
	char err[512];
	size_t len;
	uint8_t *buf;
	unsigned long refused = 0, total = 0;

	mk.disk = NULL;
	CHECK(hv_machine_create(&mk, NULL, NULL, &m, err, sizeof(err)) == 0, "create: %s", err);
	CHECK(hv_track_dirty(m) == 0, "dirty tracking");
	run(m, 50000);
	struct hv_snapshot_logpos pos = { .valid = true, .events = 3, .chunk_seq = 1, .last_event_step = 40000,
					  .last_event_kind = 3, .chunk_events = 2 };
	memset(pos.header_sha256, 0xab, sizeof(pos.header_sha256));
	CHECK(hv_snapshot_save(m, snap, &pos, err, sizeof(err)) == 0, "save: %s", err);
	hv_machine_destroy(m);
	buf = read_all(snap, &len);
	struct hv_snapshot_info info;
	CHECK(hv_snapshot_info(snap, &info, err, sizeof(err)) == 0 && info.has_dirty && info.has_logpos &&
	      info.logpos.valid && info.logpos.events == 3 && info.logpos.chunk_seq == 1 &&
	      info.logpos.last_event_step == 40000 && info.logpos.last_event_kind == 3 && info.logpos.chunk_events == 2 &&
	      !memcmp(info.logpos.header_sha256, pos.header_sha256, 32),
	      "dirty pages and the log position saved: %s", err);
	uint64_t peek_steps;
	struct hv_snapshot_logpos peek;
	CHECK(hv_snapshot_peek(snap, &peek_steps, &peek, err, sizeof(err)) == 0 && peek_steps == 50000 &&
	      !memcmp(&peek, &info.logpos, sizeof(peek)), "peek finds the log position: %s", err);
	{
		/* A damaged log position is refused; damaged RAM is beyond what peek reads. */
		FILE *f = fopen(snap, "r+b");
		const uint8_t *hit = memmem(buf, len, pos.header_sha256, 32);
		long at = hit ? (long)(hit - buf) : -1;
		CHECK(f && at > 0 && fseek(f, at, SEEK_SET) == 0 && fputc(0xac, f) != EOF && fclose(f) == 0,
		      "damage the log position");
		CHECK(hv_snapshot_peek(snap, &peek_steps, &peek, err, sizeof(err)) < 0 && strstr(err, "log position"),
		      "peek refuses a damaged log position: %s", err);
	}

	CHECK(hv_snapshot_load_buffer(buf, len, &cfg, MEM_BYTES, NULL, NULL, &m, err, sizeof(err)) == 0,
	      "the undamaged snapshot loads: %s", err);
	hv_machine_destroy(m);
	for (size_t i = 0; i < len; i++) {
		for (int k = 0; k < 2; k++) {
			uint8_t flip = k ? 0xff : (uint8_t)(1u << (i % 8));
			buf[i] ^= flip;
			err[0] = '\0';
			m = NULL;
			int rc = hv_snapshot_load_buffer(buf, len, &cfg, MEM_BYTES, NULL, NULL, &m, err,
							 sizeof(err));
			total++;
			if (rc < 0 && !m && strstr(err, "snapshot"))
				refused++;
			else if (rc == 0)
				CHECK(0, "byte %zu ^ 0x%02x accepted", i, flip);
			hv_machine_destroy(m);
			buf[i] ^= flip;
		}
	}
	CHECK_EQ(refused, total, "flipped bytes refused with a message");
	refused = 0;
	for (size_t cut = 0; cut < len; cut++) {
		err[0] = '\0';
		m = NULL;
		int rc = hv_snapshot_load_buffer(buf, cut, &cfg, MEM_BYTES, NULL, NULL, &m, err, sizeof(err));
		if (rc < 0 && !m && strstr(err, "snapshot"))
			refused++;
		else
			CHECK(0, "truncation to %zu bytes not refused: %s", cut, err);
		hv_machine_destroy(m);
	}
	CHECK_EQ(refused, len, "truncations refused");
	/* Trailing bytes too. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	CHECK(hv_snapshot_load_buffer(longer, len + 1, &cfg, MEM_BYTES, NULL, NULL, &m, err, sizeof(err)) ==
	      -EINVAL && strstr(err, "after the end"), "trailing byte refused: %s", err);
	{
		/* A config whose step is not the core's, checksums made right: the machine would resume elsewhere. */
		uint8_t *sec = buf + 32, *body = sec + 16;
		uint64_t clen = le64_load(sec + 8);
		CHECK(le32_load(sec) == 1 && 20 + clen <= len - 32 && le64_load(body + 56) == 50000,
		      "the config comes first and holds the step");
		le64_store(body + 56, 49999);
		le32_store(body + clen, crc32c(crc32c(0, sec, 16), body, clen));
		CHECK(hv_snapshot_load_buffer(buf, len, &cfg, MEM_BYTES, NULL, NULL, &m, err, sizeof(err)) < 0 &&
		      !m && strstr(err, "core section is at step 50000, the config at 49999"),
		      "a config step other than the core's refused: %s", err);
		le64_store(body + 56, 50000);
		le32_store(body + clen, crc32c(crc32c(0, sec, 16), body, clen));
	}
	printf("test_snapshot: %zu-byte snapshot, %lu flips and %zu truncations refused\n", len, total, len);
	free(longer);
	free(buf);
}

int main(int argc, char **argv)
{
	static uint8_t img[DISK_BYTES];
	int fds[3] = { mkstemp(elf), mkstemp(disk), mkstemp(snap) };

	for (int i = 0; i < 3; i++)
		if (fds[i] < 0 || close(fds[i])) {
			fprintf(stderr, "test_snapshot: mkstemp failed\n");
			return 1;
		}
	unlink(snap);
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 13 + 1);
	if (write_elf(elf) || write_file(disk, img, sizeof(img), NULL, 0, NULL, 0)) {
		fprintf(stderr, "test_snapshot: cannot write test files\n");
		return 1;
	}
	/* --write-seed FILE: a small valid snapshot (virtio-net, no disk) for the fuzzer's corpus. */
	if (argc == 3 && !strcmp(argv[1], "--write-seed")) {
		struct hv_config mk = config();
		struct hv_machine *m;
		char err[512];
		mk.disk = NULL;
		int rc = hv_machine_create(&mk, NULL, NULL, &m, err, sizeof(err));
		if (!rc) {
			run(m, 20000);
			rc = hv_snapshot_save(m, argv[2], NULL, err, sizeof(err));
			hv_machine_destroy(m);
		}
		if (rc)
			fprintf(stderr, "test_snapshot: %s\n", err);
		unlink(elf);
		unlink(disk);
		return rc ? 1 : 0;
	}
	test_round_trip();
	test_damage();
	unlink(elf);
	unlink(disk);
	unlink(snap);
	return check_done("test_snapshot");
}
