/* SPDX-License-Identifier: MIT */
/* pair_image: the one digest of the images both sides of a pair must share, carried in Hello. */
#include "pair.h"
#include "hv/rr/rr.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int ft_image_digest(const struct hv_config *cfg, uint8_t out[32], char *err, size_t err_len)
{
	uint8_t buf[RR_HEADER_FIXED_BYTES + RR_HEADER_MAX_BODY + 4];
	struct hv_config c = *cfg;
	struct rr_header h;
	unsigned int len = 0;
	size_t n;
	int rc;

	c.net = c.net ? "tap" : NULL;	/* each host names its own TAP device */
	rc = rr_header_fill(&h, &c, false, RR_DEFAULT_DIGEST_INTERVAL, err, err_len);
	if (rc)
		return rc;
	rc = rr_header_encode(&h, buf, sizeof(buf), &n);
	if (rc) {
		snprintf(err, err_len, "cannot encode the images' identity: %s", strerror(-rc));
		return rc;
	}
	if (!EVP_Digest(buf, n, out, &len, EVP_sha256(), NULL)) {
		snprintf(err, err_len, "sha256 failed");
		return -EIO;
	}
	return 0;
}
