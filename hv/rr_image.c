/* SPDX-License-Identifier: MIT */
/* rr_image: what a log was recorded on (config and image digests), and the check before replay. */
#include "rr.h"
#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
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
	if (cfg->disk && !rc)
		rc = sha256_file("disk", cfg->disk, h->disk_sha, err, err_len), h->has_disk = true;
	return rc;
}

static int check_one(const char *what, const char *path, bool recorded, const uint8_t *want,
		     char *err, size_t err_len)
{
	uint8_t got[32];
	int rc;

	if (!recorded && !path)
		return 0;
	if (!recorded) {
		hv_errf(err, err_len, "%s %s given, but the log was recorded without one", what, path);
		return -EINVAL;
	}
	if (!path) {
		hv_errf(err, err_len, "the log was recorded with a %s: give it (--%s FILE)", what,
			!strcmp(what, "firmware") ? "bios" : what);
		return -EINVAL;
	}
	rc = sha256_file(what, path, got, err, err_len);
	if (rc)
		return rc;
	if (memcmp(got, want, 32)) {
		hv_errf(err, err_len, "%s %s differs from the one the log was recorded with "
			"(sha256 %02x%02x%02x%02x... here, %02x%02x%02x%02x... in the log)",
			what, path, got[0], got[1], got[2], got[3], want[0], want[1], want[2], want[3]);
		return -EINVAL;
	}
	return 0;
}

int rr_header_check(const struct rr_header *h, const struct hv_config *cfg, char *err,
		    size_t err_len)
{
	int rc;

	rc = check_one("firmware", cfg->bios, h->has_fw, h->fw_sha, err, err_len);
	rc = rc ?: check_one("kernel", cfg->kernel, h->has_kernel, h->kernel_sha, err, err_len);
	rc = rc ?: check_one("initrd", cfg->initrd, h->has_initrd, h->initrd_sha, err, err_len);
	rc = rc ?: check_one("disk", cfg->disk, h->has_disk, h->disk_sha, err, err_len);
	return rc;
}
