/* SPDX-License-Identifier: MIT */
/* pair_image: the one digest of the images both sides of a pair must share, carried in Hello. */
#include "pair.h"
#include "hv/rr/rr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int ft_image_digest(const struct hv_config *cfg, uint8_t out[32], char *err, size_t err_len)
{
	struct hv_config c = *cfg;
	struct rr_header h;
	int rc;

	c.net = c.net ? "tap" : NULL;	/* each host names its own TAP device */
	rc = rr_header_fill(&h, &c, false, RR_DEFAULT_DIGEST_INTERVAL, err, err_len);
	if (rc)
		return rc;
	rc = rr_header_sha256(&h, out);
	if (rc)
		snprintf(err, err_len, "cannot hash the images' identity: %s", strerror(-rc));
	return rc;
}
