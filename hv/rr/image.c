/* SPDX-License-Identifier: MIT */
/* image: what a log was recorded on (config and image digests), and the check before replay. */
#include "hv/rr/rr.h"
#include "hv/dev/devices.h"
#include "hv/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A read-only image (firmware, kernel, initrd) is hashed once per process: a
 * pair daemon needs its digest for the Hello (ft_image_digest) and again for
 * its log's header or for replay's check. An entry holds the file's identity
 * (device, inode, size, mtime, ctime) as fstat gave it both before and after
 * the read, and serves only an open whose fstat gives the same again: a file
 * rewritten or replaced since is read again. A disk, which the guest writes, is
 * always read.
 */
struct image_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

#define HASHED_MAX 8
static struct {
	struct image_id id;
	uint8_t sha[32];
} hashed[HASHED_MAX];
static unsigned int nhashed;
static pthread_mutex_t hashed_lock = PTHREAD_MUTEX_INITIALIZER;

static bool image_id_of(int fd, struct image_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	*id = (struct image_id){ st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim };
	return true;
}

static bool image_id_eq(const struct image_id *a, const struct image_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static bool hashed_get(const struct image_id *id, uint8_t out[32])
{
	bool hit = false;

	pthread_mutex_lock(&hashed_lock);
	for (unsigned int i = 0; i < nhashed && i < HASHED_MAX && !hit; i++)
		if (image_id_eq(&hashed[i].id, id)) {
			memcpy(out, hashed[i].sha, 32);
			hit = true;
		}
	pthread_mutex_unlock(&hashed_lock);
	return hit;
}

static void hashed_put(const struct image_id *id, const uint8_t sha[32])
{
	pthread_mutex_lock(&hashed_lock);
	unsigned int i = nhashed++ % HASHED_MAX;	/* the oldest goes when all are taken */
	hashed[i].id = *id;
	memcpy(hashed[i].sha, sha, 32);
	pthread_mutex_unlock(&hashed_lock);
}

static int sha256_file(const char *what, const char *path, bool read_only, uint8_t out[32], char *err,
		       size_t err_len)
{
	uint8_t buf[1 << 16];
	unsigned int len = 32;
	struct image_id before, after;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		hv_errf(err, err_len, "%s %s: %s", what, path, strerror(-rc));
		return rc;
	}
	bool keep = read_only && image_id_of(fd, &before);
	if (keep && hashed_get(&before, out)) {
		close(fd);
		return 0;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx) {
		close(fd);
		return -ENOMEM;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	rc = n < 0 ? -errno : 0;
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	if (!rc && keep && image_id_of(fd, &after) && image_id_eq(&before, &after))
		hashed_put(&after, out);
	close(fd);
	if (rc) {
		hv_errf(err, err_len, "%s %s: read failed: %s", what, path, strerror(-rc));
		return -EIO;
	}
	return 0;
}

int rr_header_fill(struct rr_header *h, const struct hv_config *cfg, bool virtual_clock,
		   uint64_t digest_interval, char *err, size_t err_len)
{
	int rc = 0;

	memset(h, 0, sizeof(*h));
	h->mem_bytes = cfg->mem_bytes;
	h->smp = (uint32_t)cfg->smp;
	h->flags = (virtual_clock ? RR_FLAG_VIRTUAL_CLOCK : 0) | (cfg->bios ? 0 : RR_FLAG_NO_FIRMWARE);
	h->digest_interval = digest_interval;
	if (cfg->append && strlen(cfg->append) > RR_APPEND_MAX) {
		hv_errf(err, err_len, "kernel command line longer than %d bytes", RR_APPEND_MAX);
		return -EINVAL;
	}
	if (cfg->net && strlen(cfg->net) > RR_NET_MAX) {
		hv_errf(err, err_len, "--net longer than %d bytes", RR_NET_MAX);
		return -EINVAL;
	}
	snprintf(h->append, sizeof(h->append), "%s", cfg->append ? cfg->append : "");
	snprintf(h->net, sizeof(h->net), "%s", cfg->net ? cfg->net : "");
	if (cfg->bios && !rc)
		rc = sha256_file("firmware", cfg->bios, true, h->fw_sha, err, err_len), h->has_fw = true;
	if (cfg->kernel && !rc)
		rc = sha256_file("kernel", cfg->kernel, true, h->kernel_sha, err, err_len), h->has_kernel = true;
	if (cfg->initrd && !rc)
		rc = sha256_file("initrd", cfg->initrd, true, h->initrd_sha, err, err_len), h->has_initrd = true;
	if (cfg->disk && !rc) {
		char path[4096];
		rc = virtio_blk_parse_spec(cfg->disk, path, sizeof(path), NULL, NULL, err, err_len);
		if (!rc)
			rc = sha256_file("disk", path, false, h->disk_sha, err, err_len), h->has_disk = true;
	}
	return rc;
}

/* rr_header_fill on a thread of its own: the same header, hashed while the caller loads the machine. */
struct rr_header_job {
	pthread_t thread;
	bool started;
	struct rr_header *h;
	struct hv_config cfg;
	bool virtual_clock;
	uint64_t digest_interval;
	int rc;
	char err[512];
};

static void *header_job_run(void *arg)
{
	struct rr_header_job *j = arg;

	pthread_setname_np(pthread_self(), "ftvm-hash");
	j->rc = rr_header_fill(j->h, &j->cfg, j->virtual_clock, j->digest_interval, j->err, sizeof(j->err));
	return NULL;
}

int rr_header_fill_start(struct rr_header_job **out, struct rr_header *h, const struct hv_config *cfg,
			 bool virtual_clock, uint64_t digest_interval, char *err, size_t err_len)
{
	struct rr_header_job *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (!j) {
		hv_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	*j = (struct rr_header_job){ .h = h, .cfg = *cfg, .virtual_clock = virtual_clock,
				     .digest_interval = digest_interval };
	/* Without a second thread the header is filled here: slower to start, nothing else differs. */
	if (pthread_create(&j->thread, NULL, header_job_run, j))
		header_job_run(j);
	else
		j->started = true;
	*out = j;
	return 0;
}

int rr_header_fill_finish(struct rr_header_job *j, char *err, size_t err_len)
{
	int rc;

	if (j->started)
		pthread_join(j->thread, NULL);
	rc = j->rc;
	if (rc)
		hv_errf(err, err_len, "%s", j->err);
	free(j);
	return rc;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int check_one(const char *what, const char *spec, bool recorded, const uint8_t *want,
		     char *err, size_t err_len)
{
	char path[4096], got_hex[65], want_hex[65];
	uint8_t got[32];
	int rc;

	if (!recorded && !spec)
		return 0;
	if (!recorded) {
		hv_errf(err, err_len, "%s %s given, but the log was recorded without one", what, spec);
		return -EINVAL;
	}
	if (!spec) {
		hv_errf(err, err_len, "the log was recorded with a %s: give it (--%s FILE)", what,
			!strcmp(what, "firmware") ? "bios" : what);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s", spec);
	if (!strcmp(what, "disk")) {
		rc = virtio_blk_parse_spec(spec, path, sizeof(path), NULL, NULL, err, err_len);
		if (rc)
			return rc;
	}
	rc = sha256_file(what, path, strcmp(what, "disk") != 0, got, err, err_len);
	if (rc)
		return rc;
	if (memcmp(got, want, 32)) {
		hex(got_hex, got, 32);
		hex(want_hex, want, 32);
		hv_errf(err, err_len, "%s %s differs from the one the log was recorded with "
			"(sha256 %s here, %s in the log)%s", what, path, got_hex, want_hex,
			!strcmp(what, "disk")
			? ". A recording changes its disk unless made with --disk FILE,snapshot: replay "
			  "from a copy of the image taken before recording (cp --sparse=always), and give "
			  "it as --disk COPY,snapshot to keep that copy pristine for the next replay"
			: ". Give the file the log was recorded with");
		return -EINVAL;
	}
	return 0;
}

/* The values a log's header gives the machine, refused by their header field's name, not a flag's. */
static int check_fields(const struct rr_header *h, char *err, size_t err_len)
{
	if (h->smp < 1 || h->smp > HV_MAX_HARTS) {
		hv_errf(err, err_len, "header field harts (smp) is %" PRIu32 ": a machine has 1 to %d harts",
			h->smp, HV_MAX_HARTS);
		return -EINVAL;
	}
	if (h->mem_bytes < HV_MIN_MEM_BYTES || h->mem_bytes > HV_MAX_MEM_BYTES || h->mem_bytes % 4096) {
		hv_errf(err, err_len, "header field memory (mem_bytes) is %" PRIu64 ": between 16M and 64G, "
			"a multiple of 4K", h->mem_bytes);
		return -EINVAL;
	}
	return 0;
}

int rr_header_check_fields(const struct rr_header *h, char *err, size_t err_len)
{
	return check_fields(h, err, err_len);
}

int rr_header_check(const struct rr_header *h, const struct hv_config *cfg, char *err,
		    size_t err_len)
{
	int rc;

	rc = check_fields(h, err, err_len);
	rc = rc ?: check_one("firmware", cfg->bios, h->has_fw, h->fw_sha, err, err_len);
	rc = rc ?: check_one("kernel", cfg->kernel, h->has_kernel, h->kernel_sha, err, err_len);
	rc = rc ?: check_one("initrd", cfg->initrd, h->has_initrd, h->initrd_sha, err, err_len);
	rc = rc ?: check_one("disk", cfg->disk, h->has_disk, h->disk_sha, err, err_len);
	return rc;
}
