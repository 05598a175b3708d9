// SPDX-License-Identifier: MIT
// ftdisk: writes self-describing blocks to a raw disk and verifies them, possibly in a later boot.
//
// Usage: ftdisk write|verify [-d DEV] [-n BLOCKS] [-g GEN]   (defaults /dev/vda, 1024, see below)
// Block layout (FTDISK_BLOCK_BYTES each, little-endian, header written with the payload):
//   0  u32 magic "FTDK"      4  u32 format version (1)
//   8  u64 block number     16  u64 generation
//  24  u32 crc32(payload)   28  u32 crc32(bytes 0..27)
//  32  payload: splitmix64 stream seeded by (generation, block number)
// write: generation defaults to (generation found in block 0) + 1, or 1 on a fresh disk;
//        writes all blocks, fsync()s, prints "ftdisk: wrote N blocks gen G".
// verify: expects the generation in block 0 (or -g), checks every header, crc and payload,
//        prints "ftdisk: verified N blocks gen G" or the first bad block and exits 1.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#include "crc32.h"

#define __must_check __attribute__((warn_unused_result))

#define FTDISK_BLOCK_BYTES 4096
#define FTDISK_HDR_BYTES 32
#define FTDISK_MAGIC 0x4B445446u /* "FTDK" little-endian */
#define FTDISK_VERSION 1
#define FTDISK_CHUNK_BLOCKS 64

struct ftdisk_hdr {
	uint32_t magic, version;
	uint64_t block, gen;
	uint32_t payload_crc, hdr_crc;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void fill_payload(uint8_t *p, uint64_t block, uint64_t gen)
{
	uint64_t s = gen * 0xD1B54A32D192ED03ull ^ block * 0x9E3779B97F4A7C15ull;

	for (size_t off = 0; off < FTDISK_BLOCK_BYTES - FTDISK_HDR_BYTES; off += 8) {
		uint64_t z = (s += 0x9E3779B97F4A7C15ull);

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		put64(p + off, z ^ (z >> 31));
	}
}

static void make_block(uint8_t *b, uint64_t block, uint64_t gen)
{
	uint8_t *payload = b + FTDISK_HDR_BYTES;

	fill_payload(payload, block, gen);
	put32(b, FTDISK_MAGIC);
	put32(b + 4, FTDISK_VERSION);
	put64(b + 8, block);
	put64(b + 16, gen);
	put32(b + 24, domt_crc32(0, payload, FTDISK_BLOCK_BYTES - FTDISK_HDR_BYTES));
	put32(b + 28, domt_crc32(0, b, 28));
}

/* Returns NULL if the header is intact, else what is wrong with it. */
static const char *parse_hdr(const uint8_t *b, struct ftdisk_hdr *h)
{
	h->magic = get32(b);
	h->version = get32(b + 4);
	h->block = get64(b + 8);
	h->gen = get64(b + 16);
	h->payload_crc = get32(b + 24);
	h->hdr_crc = get32(b + 28);
	if (h->magic != FTDISK_MAGIC)
		return "bad magic";
	if (h->hdr_crc != domt_crc32(0, b, 28))
		return "bad header crc";
	if (h->version != FTDISK_VERSION)
		return "unknown format version";
	return NULL;
}

static int __must_check pio(int fd, uint8_t *buf, size_t len, off_t off, int do_write)
{
	while (len) {
		ssize_t n = do_write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int disk_write(int fd, uint64_t n_blocks, uint64_t gen, int have_gen)
{
	static uint8_t buf[FTDISK_CHUNK_BLOCKS * FTDISK_BLOCK_BYTES];
	struct ftdisk_hdr h;
	int err;

	if (!have_gen) {
		err = pio(fd, buf, FTDISK_BLOCK_BYTES, 0, 0);
		gen = (!err && !parse_hdr(buf, &h)) ? h.gen + 1 : 1;
	}
	for (uint64_t blk = 0; blk < n_blocks; blk += FTDISK_CHUNK_BLOCKS) {
		uint64_t n = n_blocks - blk < FTDISK_CHUNK_BLOCKS ? n_blocks - blk : FTDISK_CHUNK_BLOCKS;

		for (uint64_t i = 0; i < n; i++)
			make_block(buf + i * FTDISK_BLOCK_BYTES, blk + i, gen);
		err = pio(fd, buf, n * FTDISK_BLOCK_BYTES, (off_t)(blk * FTDISK_BLOCK_BYTES), 1);
		if (err) {
			printf("ftdisk: write at block %" PRIu64 ": %s\n", blk, strerror(-err));
			return 1;
		}
	}
	if (fsync(fd) < 0) {
		printf("ftdisk: fsync: %s\n", strerror(errno));
		return 1;
	}
	printf("ftdisk: wrote %" PRIu64 " blocks gen %" PRIu64 "\n", n_blocks, gen);
	return 0;
}

static int disk_verify(int fd, uint64_t n_blocks, uint64_t gen, int have_gen)
{
	static uint8_t buf[FTDISK_CHUNK_BLOCKS * FTDISK_BLOCK_BYTES];
	static uint8_t want[FTDISK_BLOCK_BYTES - FTDISK_HDR_BYTES];
	struct ftdisk_hdr h;
	int err;

	/* Drop cached blocks so a verify in the same boot reads the device. */
	ioctl(fd, BLKFLSBUF, 0);
	for (uint64_t blk = 0; blk < n_blocks; blk += FTDISK_CHUNK_BLOCKS) {
		uint64_t n = n_blocks - blk < FTDISK_CHUNK_BLOCKS ? n_blocks - blk : FTDISK_CHUNK_BLOCKS;

		err = pio(fd, buf, n * FTDISK_BLOCK_BYTES, (off_t)(blk * FTDISK_BLOCK_BYTES), 0);
		if (err) {
			printf("ftdisk: read at block %" PRIu64 ": %s\n", blk, strerror(-err));
			return 1;
		}
		for (uint64_t i = 0; i < n; i++) {
			const uint8_t *b = buf + i * FTDISK_BLOCK_BYTES;
			const char *bad = parse_hdr(b, &h);

			if (!bad && !have_gen) {
				gen = h.gen;
				have_gen = 1;
			}
			if (!bad && h.block != blk + i)
				bad = "wrong block number";
			else if (!bad && h.gen != gen)
				bad = "wrong generation";
			else if (!bad && h.payload_crc != domt_crc32(0, b + FTDISK_HDR_BYTES, sizeof(want)))
				bad = "bad payload crc";
			if (!bad) {
				fill_payload(want, blk + i, gen);
				if (memcmp(want, b + FTDISK_HDR_BYTES, sizeof(want)))
					bad = "payload differs from the pattern";
			}
			if (bad) {
				printf("ftdisk: bad block %" PRIu64 ": %s (found block %" PRIu64
				       " gen %" PRIu64 ", want gen %" PRIu64 ")\n",
				       blk + i, bad, h.block, h.gen, gen);
				return 1;
			}
		}
	}
	printf("ftdisk: verified %" PRIu64 " blocks gen %" PRIu64 "\n", n_blocks, gen);
	return 0;
}

static int __must_check parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return (*s == '\0' || *end || errno || *s == '-') ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/vda";
	uint64_t n_blocks = 1024, gen = 0;
	int have_gen = 0, opt, fd, rc;
	off_t dev_bytes;

	while ((opt = getopt(argc, argv, "d:n:g:")) != -1) {
		switch (opt) {
		case 'd':
			dev = optarg;
			break;
		case 'n':
			if (parse_u64(optarg, &n_blocks) || n_blocks == 0)
				goto usage;
			break;
		case 'g':
			if (parse_u64(optarg, &gen))
				goto usage;
			have_gen = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "write") && strcmp(argv[optind], "verify")))
		goto usage;

	fd = open(dev, (argv[optind][0] == 'w' ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		printf("ftdisk: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	dev_bytes = lseek(fd, 0, SEEK_END);
	if (dev_bytes < 0 || (uint64_t)dev_bytes / FTDISK_BLOCK_BYTES < n_blocks) {
		printf("ftdisk: %s holds %lld bytes, fewer than %" PRIu64 " blocks\n", dev,
		       (long long)dev_bytes, n_blocks);
		close(fd);
		return 1;
	}
	if (argv[optind][0] == 'w')
		rc = disk_write(fd, n_blocks, gen, have_gen);
	else
		rc = disk_verify(fd, n_blocks, gen, have_gen);
	close(fd);
	return rc;
usage:
	fprintf(stderr, "usage: ftdisk write|verify [-d DEV] [-n BLOCKS] [-g GEN]\n");
	return 2;
}
