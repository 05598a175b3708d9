/* SPDX-License-Identifier: MIT */
/* mmu: Sv39/Sv48 translation, the TLBs, and the slow paths of guest memory access (privileged spec 4.3-4.4). */
#include "hv/cpu/cpu_internal.h"
#include "hv/cpu/jit.h"

#include <string.h>

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_PPN_MASK ((1ull << 44) - 1)
#define PAGE_MASK ((uint64_t)RV_PAGE_SIZE - 1)

static const int page_fault_cause[] = {
	[RV_ACC_FETCH] = RV_EXC_INSN_PAGE, [RV_ACC_LOAD] = RV_EXC_LOAD_PAGE,
	[RV_ACC_STORE] = RV_EXC_STORE_PAGE,
};
static const int access_fault_cause[] = {
	[RV_ACC_FETCH] = RV_EXC_INSN_ACCESS, [RV_ACC_LOAD] = RV_EXC_LOAD_ACCESS,
	[RV_ACC_STORE] = RV_EXC_STORE_ACCESS,
};

void rv_tlb_flush(struct rv_hart *h)
{
	memset(h->tlb_read, 0, sizeof(h->tlb_read));
	memset(h->tlb_write, 0, sizeof(h->tlb_write));
	memset(h->tlb_code, 0, sizeof(h->tlb_code));
}

/* Page walk of 4.3.2, with A/D updated by hardware (the PTE must lie in RAM). */
static int mmu_translate(struct rv_hart *h, uint64_t va, enum rv_access acc, uint64_t *pa)
{
	int priv = h->priv;
	uint64_t mode = h->satp >> 60;

	if (acc != RV_ACC_FETCH && (h->mstatus & MSTATUS_MPRV))
		priv = (h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
	if (priv == RV_PRIV_M || mode == 0) {
		*pa = va;
		return 0;
	}

	int levels = mode == 9 ? 4 : 3;
	int va_bits = RV_PAGE_SHIFT + 9 * levels;
	if ((uint64_t)((int64_t)(va << (64 - va_bits)) >> (64 - va_bits)) != va)
		return page_fault_cause[acc];

	uint64_t table = (h->satp & PTE_PPN_MASK) << RV_PAGE_SHIFT;
	for (int i = levels - 1; i >= 0; i--) {
		int shift = RV_PAGE_SHIFT + 9 * i;
		uint64_t pte_pa = table + ((va >> shift) & 511) * 8;
		uint8_t *p = guest_ram_ptr(h->ram, pte_pa, 8);
		uint64_t pte;

		if (!p)
			return access_fault_cause[acc];
		memcpy(&pte, p, 8);
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte >> 54))
			return page_fault_cause[acc];
		uint64_t ppn = (pte >> 10) & PTE_PPN_MASK;
		if (!(pte & (PTE_R | PTE_X))) {
			if (i == 0)
				return page_fault_cause[acc];
			table = ppn << RV_PAGE_SHIFT;
			continue;
		}

		if (priv == RV_PRIV_U) {
			if (!(pte & PTE_U))
				return page_fault_cause[acc];
		} else if (pte & PTE_U) {
			if (acc == RV_ACC_FETCH || !(h->mstatus & MSTATUS_SUM))
				return page_fault_cause[acc];
		}
		bool ok;
		if (acc == RV_ACC_FETCH)
			ok = pte & PTE_X;
		else if (acc == RV_ACC_LOAD)
			ok = (pte & PTE_R) || ((h->mstatus & MSTATUS_MXR) && (pte & PTE_X));
		else
			ok = pte & PTE_W;
		if (!ok)
			return page_fault_cause[acc];
		if (ppn & ((1ull << (9 * i)) - 1))
			return page_fault_cause[acc];

		uint64_t want = PTE_A | (acc == RV_ACC_STORE ? PTE_D : 0);
		if ((pte & want) != want) {
			pte |= want;
			memcpy(p, &pte, 8);
			guest_ram_mark_dirty(h->ram, pte_pa);
		}
		uint64_t off_mask = (1ull << shift) - 1;
		*pa = ((ppn << RV_PAGE_SHIFT) & ~off_mask) | (va & off_mask);
		return 0;
	}
	return page_fault_cause[acc];
}

void rv_hart_flush_tlb(struct rv_hart *h)
{
	rv_tlb_flush(h);
}

bool rv_hart_peek_insn(const struct rv_hart *h, uint64_t va, uint32_t *insn)
{
	const struct rv_tlb_entry *e = &h->tlb_code[RV_TLB_INDEX(va)];
	uint64_t off = va & PAGE_MASK;
	uint32_t v = 0;

	/* Only through a cached translation or with none at all: peeking must not set A bits. */
	if (e->vpn_tag == (va >> RV_PAGE_SHIFT) + rv_tlb_code_tag(h)) {
		memcpy(&v, (const void *)(uintptr_t)(va + e->host_addend), off <= RV_PAGE_SIZE - 4 ? 4 : 2);
	} else if (h->priv == RV_PRIV_M || !(h->satp >> 60)) {
		const void *p = guest_ram_ptr(h->ram, va, 4);
		if (!p)
			return false;
		memcpy(&v, p, 4);
	} else {
		return false;
	}
	*insn = (v & 3) == 3 ? v : (v & 0xffff);
	return true;
}

/* Only whole RAM pages enter a TLB: MMIO must see every access. */
static void tlb_fill(struct rv_tlb_entry *tlb, const struct guest_ram *ram, uint64_t va,
		     uint64_t pa, uint64_t tag)
{
	uint8_t *host = guest_ram_ptr(ram, pa & ~PAGE_MASK, RV_PAGE_SIZE);

	if (!host)
		return;
	struct rv_tlb_entry *e = &tlb[RV_TLB_INDEX(va)];
	e->vpn_tag = (va >> RV_PAGE_SHIFT) + tag;
	e->host_addend = (uintptr_t)host - (uintptr_t)(va & ~PAGE_MASK);
}

int rv_mmu_code_page(struct rv_hart *h, uint64_t va, uintptr_t *addend)
{
	struct rv_tlb_entry *e = &h->tlb_code[RV_TLB_INDEX(va)];
	uint64_t pa;
	int rc;

	if (e->vpn_tag == (va >> RV_PAGE_SHIFT) + rv_tlb_code_tag(h)) {
		*addend = e->host_addend;
		return 0;
	}
	rc = mmu_translate(h, va, RV_ACC_FETCH, &pa);
	if (rc)
		return rc;
	if (!guest_ram_ptr(h->ram, pa & ~PAGE_MASK, RV_PAGE_SIZE))
		return RV_EXC_INSN_ACCESS;
	tlb_fill(h->tlb_code, h->ram, va, pa, rv_tlb_code_tag(h));
	*addend = e->host_addend;
	return 0;
}

static int mmio_access(struct rv_hart *h, uint64_t pa, int size, enum rv_access acc,
		       uint64_t *val)
{
	if (pa & (uint64_t)(size - 1)) {
		/* Devices see only naturally aligned accesses. */
		uint64_t v = acc == RV_ACC_STORE ? *val : 0;
		for (int i = 0; i < size; i++) {
			uint64_t b = (v >> (8 * i)) & 0xff;
			int rc = mmio_access(h, pa + i, 1, acc, &b);
			if (rc)
				return rc;
			if (acc == RV_ACC_LOAD)
				v |= (b & 0xff) << (8 * i);
		}
		*val = v;
		return 0;
	}
	if (acc == RV_ACC_LOAD) {
		if (bus_mmio_read(h->bus, pa, size, val))
			return RV_EXC_LOAD_ACCESS;
		return 0;
	}
	if (bus_mmio_write(h->bus, pa, size, *val))
		return RV_EXC_STORE_ACCESS;
	return 0;
}

/* An access that stays inside one page. */
static int access_in_page(struct rv_hart *h, uint64_t va, int size, enum rv_access acc,
			  uint64_t *val)
{
	uint64_t pa;
	int rc = mmu_translate(h, va, acc, &pa);

	if (rc)
		return rc;
	uint8_t *host = guest_ram_ptr(h->ram, pa, size);
	if (!host)
		return mmio_access(h, pa, size, acc, val);
	if (acc == RV_ACC_LOAD) {
		uint64_t v = 0;
		memcpy(&v, host, size);
		*val = v;
		tlb_fill(h->tlb_read, h->ram, va, pa, rv_tlb_data_tag(h));
	} else {
		memcpy(host, val, size);
		/* Marked here, once per write-TLB fill: the digest flushes tlb_write when it clears the bits. */
		guest_ram_mark_dirty(h->ram, pa);
		/* Pages with translated code stay out of tlb_write until this drops them. */
		if (unlikely(h->jit != NULL))
			rv_jit_note_store(h->jit, pa);
		tlb_fill(h->tlb_write, h->ram, va, pa, rv_tlb_data_tag(h));
	}
	return 0;
}

int rv_mmu_load(struct rv_hart *h, uint64_t va, int size, uint64_t *val, uint64_t *tval)
{
	*tval = va;
	if ((va & PAGE_MASK) + size <= RV_PAGE_SIZE)
		return access_in_page(h, va, size, RV_ACC_LOAD, val);

	/* Misaligned across a page: performed byte-wise (tval names the faulting part). */
	uint64_t v = 0;
	for (int i = 0; i < size; i++) {
		uint64_t b;
		int rc = access_in_page(h, va + i, 1, RV_ACC_LOAD, &b);
		if (rc) {
			*tval = va + i;
			return rc;
		}
		v |= (b & 0xff) << (8 * i);
	}
	*val = v;
	return 0;
}

int rv_mmu_store(struct rv_hart *h, uint64_t va, int size, uint64_t val, uint64_t *tval)
{
	uint64_t pa;
	int rc;

	*tval = va;
	if ((va & PAGE_MASK) + size <= RV_PAGE_SIZE)
		return access_in_page(h, va, size, RV_ACC_STORE, &val);

	/* Both pages must be writable before any byte is written. */
	uint64_t second = (va + size - 1) & ~PAGE_MASK;
	rc = mmu_translate(h, va, RV_ACC_STORE, &pa);
	if (rc)
		return rc;
	rc = mmu_translate(h, second, RV_ACC_STORE, &pa);
	if (rc) {
		*tval = second;
		return rc;
	}
	for (int i = 0; i < size; i++) {
		uint64_t b = (val >> (8 * i)) & 0xff;
		rc = access_in_page(h, va + i, 1, RV_ACC_STORE, &b);
		if (rc) {
			*tval = va + i;
			return rc;
		}
	}
	return 0;
}

int rv_mmu_ram_ptr(struct rv_hart *h, uint64_t va, int size, enum rv_access acc, uint64_t *pa,
		   void **host)
{
	int rc = mmu_translate(h, va, acc, pa);

	if (rc)
		return rc;
	*host = guest_ram_ptr(h->ram, *pa, size);
	if (!*host)
		return access_fault_cause[acc];
	if (acc == RV_ACC_STORE) {
		guest_ram_mark_dirty(h->ram, *pa);
		if (unlikely(h->jit != NULL))
			rv_jit_note_store(h->jit, *pa);
	}
	return 0;
}
