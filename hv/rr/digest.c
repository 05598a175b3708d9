/* SPDX-License-Identifier: MIT */
/*
 * digest: a hash over everything the guest can observe, to compare two
 * executions: XXH3-128 (the default) or SHA-256 (logs recorded before the
 * log header named its hash). Nothing here needs collision resistance
 * against an adversary: both sides hash their own execution of one log.
 */
#include "hv/machine_internal.h"
#include "hv/le.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* One digest in progress, with the machine's hash. */
struct hasher {
	enum hv_digest_hash hash;
	EVP_MD_CTX *sha;
	XXH3_state_t *xxh;
};

static bool hasher_init(struct hasher *c, enum hv_digest_hash hash)
{
	memset(c, 0, sizeof(*c));
	c->hash = hash;
	if (hash == HV_DIGEST_XXH3) {
		c->xxh = XXH3_createState();
		return c->xxh && XXH3_128bits_reset(c->xxh) == XXH_OK;
	}
	c->sha = EVP_MD_CTX_new();
	return c->sha && EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL);
}

static void hasher_update(struct hasher *c, const void *p, size_t n)
{
	if (c->xxh)
		XXH3_128bits_update(c->xxh, p, n);
	else
		EVP_DigestUpdate(c->sha, p, n);
}

/* Writes the digest (XXH3-128: its canonical big-endian 16 bytes, then 16 zero bytes) and frees c. */
static void hasher_final(struct hasher *c, uint8_t out[HV_DIGEST_BYTES])
{
	memset(out, 0, HV_DIGEST_BYTES);
	if (c->xxh) {
		XXH128_canonical_t canon;
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(c->xxh));
		memcpy(out, canon.digest, sizeof(canon.digest));
	} else if (c->sha) {
		unsigned int len = HV_DIGEST_BYTES;
		EVP_DigestFinal_ex(c->sha, out, &len);
	}
	XXH3_freeState(c->xxh);
	EVP_MD_CTX_free(c->sha);
	memset(c, 0, sizeof(*c));
}

static void hasher_free(struct hasher *c)
{
	XXH3_freeState(c->xxh);
	EVP_MD_CTX_free(c->sha);
}

void hv_set_digest_hash(struct hv_machine *m, enum hv_digest_hash hash)
{
	m->digest_hash = hash;
}

enum hv_digest_hash hv_get_digest_hash(const struct hv_machine *m)
{
	return m->digest_hash;
}

const char *hv_digest_hash_name(enum hv_digest_hash hash)
{
	switch (hash) {
	case HV_DIGEST_SHA256: return "sha256";
	case HV_DIGEST_XXH3: return "xxh3";
	}
	return NULL;
}

static void put_u64(struct hasher *c, uint64_t v)
{
	uint8_t b[8];

	le64_store(b, v);
	hasher_update(c, b, sizeof(b));
}

/*
 * Everything but RAM: each part exactly as machine_part_save writes it for a
 * snapshot, preceded by its kind, index and length.
 */
static void put_machine(struct hasher *c, const struct hv_machine *m)
{
	struct machine_part_ref parts[MACHINE_MAX_PARTS];
	int n = machine_parts(m, parts);
	struct le_writer w = le_writer_grow();

	for (int i = 0; i < n; i++) {
		w.len = 0;
		machine_part_save(m, parts[i], &w);
		put_u64(c, (uint64_t)parts[i].part << 32 | (uint32_t)parts[i].index);
		put_u64(c, w.len);
		if (!w.failed)
			hasher_update(c, w.buf, w.len);
	}
	free(w.buf);
}

void hv_digest(struct hv_machine *m, uint8_t out[HV_DIGEST_BYTES])
{
	struct hasher c;

	memset(out, 0, HV_DIGEST_BYTES);
	if (!hasher_init(&c, m->digest_hash)) {
		hasher_free(&c);
		return;
	}
	put_machine(&c, m);
	hasher_update(&c, m->ram.host, m->ram.size);
	hasher_final(&c, out);
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
	struct hasher c;

	memset(out, 0, HV_DIGEST_BYTES);
	if (!hasher_init(&c, m->digest_hash)) {
		hasher_free(&c);
		return;
	}
	put_machine(&c, m);
	for (size_t w = 0; m->ram.dirty && w < m->ram.dirty_words; w++) {
		uint64_t bits = m->ram.dirty[w];
		m->ram.dirty[w] = 0;
		while (bits) {
			uint64_t pn = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			put_u64(&c, pn);
			hasher_update(&c, m->ram.host + (pn << GUEST_PAGE_SHIFT), GUEST_PAGE_SIZE);
		}
	}
	for (int h = 0; h < m->nharts; h++)
		rv_hart_flush_tlb(&m->harts[h]);
	hasher_final(&c, out);
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
