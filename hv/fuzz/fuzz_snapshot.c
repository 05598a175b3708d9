/* SPDX-License-Identifier: MIT */
/*
 * fuzz_snapshot: libFuzzer target for the snapshot decoder: any bytes are
 * refused or make a machine that runs and saves; hv_snapshot_peek reads the
 * same bytes without reading out of bounds, and agrees on a snapshot the
 * decoder took.
 */
#include "hv/hv.h"
#include "hv/crc32c.h"
#include "hv/le.h"
#include "hv/snapshot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Half the inputs get their checksums made right (header, then each section
 * as the lengths say), so that mutations reach the section decoders instead
 * of stopping at the first CRC.
 */
static void fix_crcs(uint8_t *b, size_t len)
{
	size_t off = 32;

	if (len < 32)
		return;
	le32_store(b + 28, crc32c(0, b, 28));
	while (len - off >= 20) {
		uint64_t n = le64_load(b + off + 8);
		if (n > len - off - 20)
			return;
		le32_store(b + off + 16 + n, crc32c(0, b + off, 16 + n));
		off += 20 + n;
	}
}

/* 0 and *steps when peek takes the bytes; -1 when it refuses them (saying why). */
static int peek(const uint8_t *b, size_t len, uint64_t *steps)
{
	struct hv_snapshot_logpos pos;
	char path[64], err[512] = "";
	int fd = memfd_create("fuzz_snapshot", 0), rc;

	if (fd < 0 || (len && write(fd, b, len) != (ssize_t)len))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = hv_snapshot_peek(path, steps, &pos, err, sizeof(err));
	close(fd);
	if (rc && !err[0])
		abort();
	return rc ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* virtio-net needs no host file; a snapshot with a disk is refused before the machine exists. */
	struct hv_config cfg = { .net = "user" };
	struct hv_machine *m = NULL;
	struct hv_stop_info info;
	char err[512], path[64];

	uint8_t *copy = malloc(size ? size : 1);
	int rc;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (size && (data[size - 1] & 1))
		fix_crcs(copy, size);
	err[0] = '\0';
	rc = hv_snapshot_load_buffer(copy, size, &cfg, 16ULL << 20, NULL, NULL, &m, err, sizeof(err));
	uint64_t peek_steps = 0;
	int peek_rc = peek(copy, size, &peek_steps);
	free(copy);
	if (!rc && (peek_rc || peek_steps != hv_steps(m)))
		abort();	/* a snapshot the decoder took, peek must read alike */
	if (rc) {
		if (m || !err[0])
			abort();	/* an error returns nothing and says why */
		return 0;
	}
	/* Whatever state was accepted must be safe to run, digest and save again. */
	if (hv_run(m, 2000, &info))
		abort();
	uint8_t d[HV_DIGEST_BYTES];
	hv_digest(m, d);
	snprintf(path, sizeof(path), "/tmp/fuzz_snapshot.%d", (int)getpid());
	if (hv_snapshot_save(m, path, NULL, err, sizeof(err)))
		abort();
	unlink(path);
	hv_machine_destroy(m);
	return 0;
}
