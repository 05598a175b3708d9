/* SPDX-License-Identifier: MIT */
/* test_rr_image: the images' digests in a log header follow the files, though each is hashed once per process. */
#include "hv/rr/rr.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_BYTES (300u << 10)

static char dir[] = "/tmp/ftvm-test-image.XXXXXX";

/* IMAGE_BYTES of a pattern seeded by c, written over path in place (same inode) or as a new file. */
static void write_image(const char *path, uint8_t c, bool in_place)
{
	static uint8_t buf[IMAGE_BYTES];
	int fd = open(path, O_WRONLY | O_CREAT | (in_place ? 0 : O_TRUNC), 0644);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(c + i * 7 + (i >> 12));
	CHECK(fd >= 0 && pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf), "writing %s", path);
	close(fd);
}

static void sha_of(uint8_t c, uint8_t out[32])
{
	static uint8_t buf[IMAGE_BYTES];
	unsigned int len = 32;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(c + i * 7 + (i >> 12));
	EVP_Digest(buf, sizeof(buf), out, &len, EVP_sha256(), NULL);
}

/* Sets path's mtime to sec seconds (its ctime moves to now: the file was changed). */
static void set_mtime(const char *path, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0, "utimensat %s", path);
}

static int fill(struct rr_header *h, const struct hv_config *cfg)
{
	char err[512] = "";
	int rc = rr_header_fill(h, cfg, false, RR_DEFAULT_DIGEST_INTERVAL, err, sizeof(err));

	CHECK(rc == 0, "rr_header_fill: %s", err);
	return rc;
}

int main(void)
{
	char kernel[64], initrd[64], disk[64], other[64], err[512];
	struct hv_config cfg = { .mem_bytes = 64u << 20, .smp = 1 };
	struct rr_header h;
	uint8_t want[32];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(kernel, sizeof(kernel), "%s/kernel", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(disk, sizeof(disk), "%s/disk", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	cfg.kernel = kernel;
	cfg.initrd = initrd;

	/* Each file's own digest; a second fill in the same process gives the same. */
	write_image(kernel, 1, false);
	write_image(initrd, 2, false);
	for (int round = 0; round < 2; round++) {
		memset(&h, 0, sizeof(h));
		if (fill(&h, &cfg))
			break;
		sha_of(1, want);
		CHECK(h.has_kernel && !memcmp(h.kernel_sha, want, 32), "round %d: kernel digest", round);
		sha_of(2, want);
		CHECK(h.has_initrd && !memcmp(h.initrd_sha, want, 32), "round %d: initrd digest", round);
	}

	/* Rewritten in place, same size, a later mtime: the new contents' digest, and replay's check refuses. */
	struct rr_header old = h;
	write_image(kernel, 3, true);
	set_mtime(kernel, 2000000000);
	if (!fill(&h, &cfg)) {
		sha_of(3, want);
		CHECK(!memcmp(h.kernel_sha, want, 32), "kernel rewritten in place: its new digest");
	}
	CHECK(rr_header_check(&old, &cfg, err, sizeof(err)) == -EINVAL && strstr(err, "kernel"),
	      "replay on the rewritten kernel must be refused, naming it: '%s'", err);
	CHECK(rr_header_check(&h, &cfg, err, sizeof(err)) == 0, "replay on the same images: '%s'", err);

	/* Replaced by another file (a new inode) of the same size: its digest. */
	write_image(other, 4, false);
	CHECK(rename(other, initrd) == 0, "rename");
	if (!fill(&h, &cfg)) {
		sha_of(4, want);
		CHECK(!memcmp(h.initrd_sha, want, 32), "initrd replaced: the new file's digest");
	}

	/* A disk (never kept: the guest writes it) has its own digest too. */
	cfg.disk = disk;
	write_image(disk, 5, false);
	if (!fill(&h, &cfg)) {
		sha_of(5, want);
		CHECK(h.has_disk && !memcmp(h.disk_sha, want, 32), "disk digest");
	}

	unlink(kernel);
	unlink(initrd);
	unlink(disk);
	rmdir(dir);
	return check_done("test_rr_image");
}
