/* SPDX-License-Identifier: MIT */
/* jit_internal: the translation cache and what the dispatcher (jit.c) and the x86-64 emitter share. */
#ifndef HV_CPU_JIT_INTERNAL_H
#define HV_CPU_JIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hv/cpu/jit.h"
#include "hv/cpu/cpu_internal.h"

/* Longest block, in guest instructions; a block never crosses a guest page. */
#define JIT_MAX_BLOCK_INSNS 64
#define JIT_HASH_BITS 14
#define JIT_CODE_BYTES (32u << 20)
#define JIT_MAX_BLOCKS (1u << 18)
/*
 * Host bytes for one guest instruction with its miss path, at most (the
 * inline FP operations are the largest, about 280), plus a block's exits.
 * A block that still overruns the buffer's end is translated again after
 * a flush.
 */
#define JIT_MAX_INSN_BYTES 320
#define JIT_MAX_BLOCK_BYTES (JIT_MAX_BLOCK_INSNS * JIT_MAX_INSN_BYTES + 256)
/* Load sites with an addend slot (jit_emit_x86.c's emit_tlb_probe) between flushes. */
#define JIT_MAX_SITES (1u << 18)
/* Page copies kept for FENCE.I checks before a flush frees them (64 MiB). */
#define JIT_MAX_SNAPSHOTS 16384

/*
 * A block is keyed by its guest virtual pc and by the host address its page
 * maps to (the code TLB's addend): the code depends on both and on nothing
 * else (no privilege, no satp), so a satp write or SFENCE.VMA leaves it
 * valid and the lookup re-checks the mapping. code == NULL: the first
 * instruction is one the translator leaves to the interpreter.
 */
/* A dropped block's pc: odd, so no lookup matches it. */
#define JIT_DEAD_PC 1ull

struct jit_block {
	uint64_t pc;
	uintptr_t addend;
	const uint8_t *code;
	uint32_t ninsns;
	struct jit_block *next;
};

/*
 * Jump cache: where translated code looks up a target it cannot chain to
 * (jalr, another page) without leaving: (pc, host page addend) -> code.
 */
#define JIT_JC_BITS 12
struct jit_jc_entry {
	uint64_t pc;
	uintptr_t addend;
	const uint8_t *code;
	uint64_t unused;
};

/* The entry trampoline: runs from code until an exit, returns the step count. */
typedef uint64_t (*jit_entry_fn)(struct rv_hart *h, uint64_t steps, uint64_t end,
				 const uint8_t *code, uint8_t **chain_slot);

struct rv_jit {
	uint8_t *buf;		/* RWX code buffer */
	size_t used;		/* bytes in use */
	size_t base_used;	/* the trampoline, epilogue and shared exits: never flushed */
	jit_entry_fn entry;
	const uint8_t *epilogue;	/* returns r12 (steps) */
	const uint8_t *exit_synced;	/* a helper already set h->pc and h->steps */
	const uint8_t *jump_rax;	/* go to guest pc rax through the jump cache, or leave */

	struct jit_block *blocks;
	size_t nblocks;
	struct jit_block *hash[1u << JIT_HASH_BITS];
	uint64_t gen;		/* bumped by every flush: chain slots from before are stale */
	struct jit_jc_entry jc[1u << JIT_JC_BITS];

	/*
	 * One bit per guest RAM page holding translated code: its CPU stores
	 * go the slow way, and hv/mem.h's write accessors check it for device
	 * writes (DMA); either drops the translations as the write happens.
	 */
	uint64_t *code_pages;
	/*
	 * FENCE.I, a second line for writers that bypass hv/mem.h's accessors
	 * (a RAM image loaded into a running machine): it only bumps
	 * fence_gen, and the first lookup in each code page after it compares
	 * the page with the copy taken when it was translated, dropping
	 * everything if it changed.
	 */
	uint8_t **snapshots;	/* per RAM page: its bytes when first translated, or NULL */
	uint32_t *page_gen;	/* per RAM page: the fence_gen it was last checked in */
	uint32_t fence_gen;
	size_t nsnapshots;
	struct guest_ram *ram;	/* its code bitmap is code_pages, its device writes call rv_jit_note_store */
	const uint8_t *ram_host;
	uint64_t ram_base, ram_pages;
	struct rv_hart *harts;
	int nharts;

	uint64_t *sites;	/* per translated load: the host addend it last used */
	size_t nsites;
	bool host_fma;		/* FMA3 usable: mul, div and sqrt can check exactness inline */
	struct rv_jit_stats st;
};

/* jit_emit_x86.c */
/* Emit the trampoline, epilogue and shared exits at j->buf; sets j->used. */
void jit_emit_runtime(struct rv_jit *j);
/* Translate the block at b->pc (host page base page, bytes from the block start on); 0 or -ENOSPC. */
int jit_translate(struct rv_jit *j, struct jit_block *b, const uint8_t *page);
/* Point a chain slot (a jmp rel32) at target. */
void jit_patch_chain(uint8_t *slot, const uint8_t *target);
/* Whether the translator handles insn (32-bit form) inside a block. */
bool jit_insn_supported(uint32_t insn);

/* jit.c: the helpers translated code calls. */
int jit_helper_load(struct rv_hart *h, uint64_t va, uint64_t meta, uint64_t pc, uint64_t steps);
int jit_helper_store(struct rv_hart *h, uint64_t va, uint64_t val, uint64_t meta, uint64_t pc,
		     uint64_t steps);
int jit_helper_fp(struct rv_hart *h, uint64_t insn, uint64_t pc, uint64_t steps);
int jit_helper_csr(struct rv_hart *h, uint64_t insn, uint64_t pc, uint64_t steps);
int jit_helper_amo(struct rv_hart *h, uint64_t insn, uint64_t pc, uint64_t steps);
int jit_helper_fmem(struct rv_hart *h, uint64_t insn, uint64_t raw_len, uint64_t pc,
		    uint64_t steps);

#endif
