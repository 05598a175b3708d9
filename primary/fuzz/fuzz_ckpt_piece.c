/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ckpt_piece: libFuzzer target for the receiver of a checkpoint sent in
 * pieces (primary/pair_ckpt.c). Any run of payloads either builds the file
 * byte for byte as the accepted pieces said, or is refused with a reason and
 * leaves no file behind; a whole file that is not a checkpoint of the log is
 * refused at take and removed.
 *
 * Input: records of one mode byte, then either a made piece (offset and size
 * as u16, a data length as u8, then the data) or a raw payload (u16 length,
 * then the bytes), or a take. Made pieces reach the paths behind the magic.
 */
#include "primary/pair.h"
#include "hv/le.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHADOW_MAX 65536u

static char dir[] = "/tmp/fuzz_ckpt_piece_XXXXXX";
static char ckpt_path[64];
static uint8_t shadow[SHADOW_MAX];

static void remove_dir(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s.recv", ckpt_path);
	unlink(path);
	unlink(ckpt_path);
	rmdir(dir);
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* A whole file holds exactly what the accepted pieces carried. */
static void check_whole(const struct ft_ckpt_recv *r)
{
	uint8_t buf[4096];
	struct stat sb;
	FILE *f;

	if (stat(r->path, &sb) < 0 || (uint64_t)sb.st_size != r->size)
		abort();
	if (r->size > SHADOW_MAX)
		return;
	f = fopen(r->path, "rb");
	if (!f)
		abort();
	for (uint64_t off = 0; off < r->size;) {
		size_t n = fread(buf, 1, sizeof(buf), f);
		if (!n || memcmp(buf, shadow + off, n))
			abort();
		off += n;
	}
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t piece[FT_CKPT_PIECE_HEADER + 65536];
	static const uint8_t header_sha[32] = { 1 };
	struct ft_ckpt_recv r;
	char why[512];

	if (!ready) {
		if (!mkdtemp(dir))
			abort();
		snprintf(ckpt_path, sizeof(ckpt_path), "%s/log.ckpt", dir);
		atexit(remove_dir);
		ready = true;
	}
	ft_ckpt_recv_init(&r, ckpt_path);
	while (size) {
		uint8_t mode = *data++;
		const uint8_t *payload;
		size_t len;
		size--;
		if (mode % 3 == 2) {
			uint64_t steps = 0;
			why[0] = '\0';
			if (ft_ckpt_recv_take(&r, ckpt_path, header_sha, 0, &steps, why, sizeof(why)) != 0 || !why[0])
				abort();	/* no input here is a checkpoint of that log */
			if (exists(r.path) || exists(ckpt_path) || r.fd >= 0 || r.got || r.whole)
				abort();
			continue;
		}
		if (mode % 3 == 1) {
			/* A made piece: FTVMCKPT, offset, size, data. */
			if (size < 5)
				break;
			uint64_t off = le16_load(data), total = le16_load(data + 2);
			size_t n = data[4];
			data += 5, size -= 5;
			if (n > size)
				n = size;
			memcpy(piece, FT_CKPT_PIECE_MAGIC, 8);
			le64_store(piece + 8, mode & 0x80 ? r.got : off);
			le64_store(piece + 16, mode & 0x40 && r.size ? r.size : total);
			memcpy(piece + FT_CKPT_PIECE_HEADER, data, n);
			data += n, size -= n;
			payload = piece, len = FT_CKPT_PIECE_HEADER + n;
		} else {
			if (size < 2)
				break;
			len = le16_load(data);
			data += 2, size -= 2;
			if (len > size)
				len = size;
			payload = data;
			data += len, size -= len;
		}
		if (!ft_ckpt_is_piece(payload, len))
			continue;	/* the daemon takes it as a log item */

		uint64_t off = le64_load(payload + 8), total = le64_load(payload + 16);
		size_t n = len - FT_CKPT_PIECE_HEADER;
		why[0] = '\0';
		if (ft_ckpt_recv_piece(&r, payload, len, why, sizeof(why)) < 0) {
			if (!why[0] || r.fd >= 0 || r.got || r.whole || exists(r.path))
				abort();	/* refused says why and leaves nothing */
			continue;
		}
		if (r.size != total || r.got != off + n || r.got > r.size)
			abort();
		if (total <= SHADOW_MAX)
			memcpy(shadow + off, payload + FT_CKPT_PIECE_HEADER, n);
		if (r.whole != (r.got == r.size) || (r.whole && r.fd >= 0))
			abort();
		if (r.whole)
			check_whole(&r);
	}
	ft_ckpt_recv_drop(&r);
	if (exists(r.path) || exists(ckpt_path))
		abort();
	return 0;
}
