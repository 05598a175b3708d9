/* SPDX-License-Identifier: MIT */
/* digest: a SHA-256 over everything the guest can observe, to compare two executions. */
#include "machine_internal.h"
#include "virtio.h"

#include <openssl/evp.h>
#include <string.h>

static void put_bytes(void *ctx, const void *p, size_t n)
{
	EVP_DigestUpdate(ctx, p, n);
}

static void put_u64(EVP_MD_CTX *ctx, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	EVP_DigestUpdate(ctx, b, sizeof(b));
}

void hv_digest(struct hv_machine *m, uint8_t out[HV_DIGEST_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t state[RV_HART_SAVE_MAX];
	unsigned int len = HV_DIGEST_BYTES;

	memset(out, 0, HV_DIGEST_BYTES);
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	put_u64(ctx, m->icount);
	put_u64(ctx, m->clock.anchor_mtime);
	put_u64(ctx, m->clock.rate_q32);
	put_u64(ctx, m->clock_icount);
	for (int h = 0; h < m->nharts; h++) {
		size_t n = rv_hart_save(&m->harts[h], state, sizeof(state));
		put_u64(ctx, n);
		EVP_DigestUpdate(ctx, state, n);
	}
	if (m->blk)
		virtio_mmio_digest(m->blk, put_bytes, ctx);
	if (m->net)
		virtio_mmio_digest(m->net, put_bytes, ctx);
	EVP_DigestUpdate(ctx, m->ram.host, m->ram.size);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}
