/* SPDX-License-Identifier: MIT */
/* digest: a SHA-256 over everything the guest can observe, to compare two executions. */
#include "hv/machine_internal.h"
#include "hv/le.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void put_u64(EVP_MD_CTX *ctx, uint64_t v)
{
	uint8_t b[8];

	le64_store(b, v);
	EVP_DigestUpdate(ctx, b, sizeof(b));
}

/*
 * Everything but RAM: each part exactly as machine_part_save writes it for a
 * snapshot, preceded by its kind, index and length.
 */
static void put_machine(EVP_MD_CTX *ctx, const struct hv_machine *m)
{
	struct machine_part_ref parts[MACHINE_MAX_PARTS];
	int n = machine_parts(m, parts);
	struct le_writer w = le_writer_grow();

	for (int i = 0; i < n; i++) {
		w.len = 0;
		machine_part_save(m, parts[i], &w);
		put_u64(ctx, (uint64_t)parts[i].part << 32 | (uint32_t)parts[i].index);
		put_u64(ctx, w.len);
		if (!w.failed)
			EVP_DigestUpdate(ctx, w.buf, w.len);
	}
	free(w.buf);
}

void hv_digest(struct hv_machine *m, uint8_t out[HV_DIGEST_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = HV_DIGEST_BYTES;

	memset(out, 0, HV_DIGEST_BYTES);
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	put_machine(ctx, m);
	EVP_DigestUpdate(ctx, m->ram.host, m->ram.size);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}

int hv_track_dirty(struct hv_machine *m)
{
	size_t words = (m->ram.size >> GUEST_PAGE_SHIFT) / 64 + 1;

	if (m->ram.dirty)
		return 0;
	m->ram.dirty = calloc(words, sizeof(uint64_t));
	if (!m->ram.dirty)
		return -ENOMEM;
	m->ram.dirty_words = words;
	/* Cached write translations would skip marking: start with none. */
	for (int h = 0; h < m->nharts; h++)
		rv_hart_flush_tlb(&m->harts[h]);
	return 0;
}

void hv_digest_dirty(struct hv_machine *m, uint8_t out[HV_DIGEST_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = HV_DIGEST_BYTES;

	memset(out, 0, HV_DIGEST_BYTES);
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	put_machine(ctx, m);
	for (size_t w = 0; m->ram.dirty && w < m->ram.dirty_words; w++) {
		uint64_t bits = m->ram.dirty[w];
		m->ram.dirty[w] = 0;
		while (bits) {
			uint64_t pn = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			put_u64(ctx, pn);
			EVP_DigestUpdate(ctx, m->ram.host + (pn << GUEST_PAGE_SHIFT),
					 GUEST_PAGE_SIZE);
		}
	}
	for (int h = 0; h < m->nharts; h++)
		rv_hart_flush_tlb(&m->harts[h]);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}

/* FNV-1a: fast, and collisions here only delay detection to the next full digest. */
uint64_t hv_check(const struct hv_machine *m)
{
	uint8_t state[RV_HART_SAVE_BYTES];
	uint64_t x = 0xcbf29ce484222325ULL;

	for (int h = 0; h < m->nharts; h++) {
		struct le_writer w = le_writer_fixed(state, sizeof(state));
		rv_hart_save(&m->harts[h], &w);
		for (size_t i = 0; i < w.len && i < sizeof(state); i++)
			x = (x ^ state[i]) * 0x100000001b3ULL;
	}
	return x ^ m->steps;
}

uint64_t hv_hart_pc(const struct hv_machine *m, int hart)
{
	return hart >= 0 && hart < m->nharts ? m->harts[hart].pc : 0;
}

void hv_hart_regs(const struct hv_machine *m, int hart, uint64_t x[32], uint64_t *pc)
{
	memcpy(x, m->harts[hart].x, sizeof(m->harts[hart].x));
	*pc = m->harts[hart].pc;
}

int hv_nharts(const struct hv_machine *m)
{
	return m->nharts;
}

uint32_t hv_hart_insn(const struct hv_machine *m, int hart, uint64_t va)
{
	uint32_t insn = 0;

	if (hart >= 0 && hart < m->nharts)
		rv_hart_peek_insn(&m->harts[hart], va, &insn);
	return insn;
}

void hv_perturb(struct hv_machine *m, int reg, int bit)
{
	if (reg > 0 && reg < 32)
		m->harts[0].x[reg] ^= 1ULL << (bit & 63);
}
