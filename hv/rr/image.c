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
#include <unistd.h>

static int sha256_file(const char *what, const char *path, uint8_t out[32], char *err,
		       size_t err_len)
{
	uint8_t buf[1 << 16];
	unsigned int len = 32;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		hv_errf(err, err_len, "%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx) {
		close(fd);
		return -ENOMEM;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	close(fd);
	if (n < 0) {
		hv_errf(err, err_len, "%s %s: read failed: %s", what, path, strerror(errno));
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
		rc = sha256_file("firmware", cfg->bios, h->fw_sha, err, err_len), h->has_fw = true;
	if (cfg->kernel && !rc)
		rc = sha256_file("kernel", cfg->kernel, h->kernel_sha, err, err_len), h->has_kernel = true;
	if (cfg->initrd && !rc)
		rc = sha256_file("initrd", cfg->initrd, h->initrd_sha, err, err_len), h->has_initrd = true;
	if (cfg->disk && !rc) {
		char path[4096];
		rc = virtio_blk_parse_spec(cfg->disk, path, sizeof(path), NULL, NULL, err, err_len);
		if (!rc)
			rc = sha256_file("disk", path, h->disk_sha, err, err_len), h->has_disk = true;
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
	rc = sha256_file(what, path, got, err, err_len);
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
