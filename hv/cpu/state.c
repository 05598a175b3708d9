/* SPDX-License-Identifier: MIT */
/* state: a hart's architectural state saved and loaded through le.h, for snapshots and digests alike. */
#include "hv/cpu/cpu.h"
#include "hv/cpu/cpu_internal.h"
#include "hv/le.h"

#include <errno.h>

/*
 * The fields in save order: append only, never reorder (the digest and the
 * snapshot format both follow it; a change bumps the snapshot minor).
 * Translation caches, exit_req and observe_irqs are host-side and left out.
 */
#define HART_SCALARS(X)                                                        \
	X(pc) X(priv) X(fflags) X(frm) X(wfi) X(steps) X(minstret) X(mcycle)   \
	X(mhartid) X(mstatus) X(misa) X(medeleg) X(mideleg) X(mie) X(mip)      \
	X(mip_dev) X(mtvec) X(mscratch) X(mepc) X(mcause) X(mtval)             \
	X(mcounteren) X(mcountinhibit) X(menvcfg) X(senvcfg) X(stvec)          \
	X(sscratch) X(sepc) X(scause) X(stval) X(scounteren) X(satp)           \
	X(tselect) X(tdata1) X(tdata2) X(tdata3) X(resv_addr) X(resv_valid)    \
	X(resv_val)

void rv_hart_save(const struct rv_hart *h, struct le_writer *w)
{
#define PUT(f) le_put_u64(w, (uint64_t)h->f);
	HART_SCALARS(PUT)
#undef PUT
	for (int i = 0; i < 32; i++)
		le_put_u64(w, h->x[i]);
	for (int i = 0; i < 32; i++)
		le_put_u64(w, h->f[i]);
	for (int i = 0; i < 16; i++)
		le_put_u64(w, h->pmpcfg[i]);
	for (int i = 0; i < 64; i++)
		le_put_u64(w, h->pmpaddr[i]);
}

int rv_hart_load(struct rv_hart *h, struct le_reader *r)
{
	struct rv_hart t = *h;
	uint64_t v[64];
	int n = 0;

#define GET(f) v[n++] = le_get_u64(r);
	HART_SCALARS(GET)
#undef GET
	n = 0;
#define SET(f) t.f = (__typeof__(t.f))v[n++];
	HART_SCALARS(SET)
#undef SET
	for (int i = 0; i < 32; i++)
		t.x[i] = le_get_u64(r);
	for (int i = 0; i < 32; i++)
		t.f[i] = le_get_u64(r);
	for (int i = 0; i < 16; i++)
		t.pmpcfg[i] = le_get_u64(r);
	for (int i = 0; i < 64; i++)
		t.pmpaddr[i] = le_get_u64(r);
	if (!le_reader_ok(r))
		return -EINVAL;
	/* Values a narrower field would silently truncate, and the invariants the interpreter relies on. */
	n = 0;
	int bad = 0;
#define CHECKFIT(f) bad |= (uint64_t)t.f != v[n++];
	HART_SCALARS(CHECKFIT)
#undef CHECKFIT
	if (bad || t.x[0] != 0 || (t.priv != RV_PRIV_U && t.priv != RV_PRIV_S && t.priv != RV_PRIV_M) ||
	    t.fflags > 0x1f || t.frm > 7 || t.mhartid != h->mhartid)
		return -EINVAL;
	t.exit_req = false;
	t.observe_irqs = h->observe_irqs;
	*h = t;
	rv_hart_flush_tlb(h);
	return 0;
}
