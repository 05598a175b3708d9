/* SPDX-License-Identifier: MIT */
/* csr: control and status registers, trap entry, interrupt selection and xRET (privileged spec 1.12, ch. 2-4). */
#include "hv/cpu/cpu_internal.h"

#define MISA_RV64 (2ull << 62)
#define MISA_EXT(c) (1ull << ((c) - 'A'))
#define MISA_VALUE (MISA_RV64 | MISA_EXT('A') | MISA_EXT('C') | MISA_EXT('D') | MISA_EXT('F') | \
		    MISA_EXT('I') | MISA_EXT('M') | MISA_EXT('S') | MISA_EXT('U'))

#define MSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | \
			  MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | \
			  MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
#define SSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | \
			  MSTATUS_MXR)
#define SSTATUS_VISIBLE (SSTATUS_WRITABLE | MSTATUS_UXL | MSTATUS_SD)

#define MIE_WRITABLE (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
/* Exceptions that S-mode may handle: all but ecall from M and the reserved 10 and 14. */
#define MEDELEG_WRITABLE 0xb3ffull
#define SATP_MODE_SV39 8ull
#define SATP_MODE_SV48 9ull
#define SATP_ASID_PPN_MASK ((0xffffull << 44) | ((1ull << 44) - 1))
#define PMPADDR_MASK ((1ull << 54) - 1)

enum {
	CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
	CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02, CSR_HPMCOUNTER31 = 0xc1f,
	CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
	CSR_SENVCFG = 0x10a, CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
	CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_SATP = 0x180,
	CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
	CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a,
	CSR_MCOUNTINHIBIT = 0x320, CSR_MHPMEVENT3 = 0x323, CSR_MHPMEVENT31 = 0x33f,
	CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MTVAL = 0x343,
	CSR_MIP = 0x344, CSR_PMPCFG0 = 0x3a0, CSR_PMPCFG15 = 0x3af, CSR_PMPADDR0 = 0x3b0,
	CSR_PMPADDR63 = 0x3ef,
	CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA2 = 0x7a2, CSR_TDATA3 = 0x7a3,
	CSR_TINFO = 0x7a4,
	CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02, CSR_MHPMCOUNTER3 = 0xb03,
	CSR_MHPMCOUNTER31 = 0xb1f,
	CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13, CSR_MHARTID = 0xf14,
	CSR_MCONFIGPTR = 0xf15,
};

void rv_csr_reset(struct rv_hart *h)
{
	h->misa = MISA_VALUE;
	h->mstatus = MSTATUS_XL64;
}

static uint64_t mstatus_read(const struct rv_hart *h)
{
	uint64_t v = h->mstatus;

	if ((v & MSTATUS_FS) == MSTATUS_FS)
		v |= MSTATUS_SD;
	return v;
}

static void mstatus_write(struct rv_hart *h, uint64_t val, uint64_t mask)
{
	uint64_t nv = (h->mstatus & ~mask) | (val & mask);

	/* MPP is WARL over {U, S, M}: the reserved 2 leaves it unchanged. */
	if (((nv & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2)
		nv = (nv & ~MSTATUS_MPP) | (h->mstatus & MSTATUS_MPP);
	nv = (nv & ~MSTATUS_SD) | MSTATUS_XL64;
	h->mstatus = nv;
}

/* Zicntr access from S/U (privileged spec 3.1.11, 4.1.5). */
static bool counter_allowed(const struct rv_hart *h, unsigned idx)
{
	if (h->priv == RV_PRIV_M)
		return true;
	if (!((h->mcounteren >> idx) & 1))
		return false;
	return h->priv == RV_PRIV_S || ((h->scounteren >> idx) & 1);
}

static int csr_read(struct rv_hart *h, unsigned csr, uint64_t *val)
{
	if (csr >= CSR_CYCLE && csr <= CSR_HPMCOUNTER31) {
		if (!counter_allowed(h, csr & 31))
			return -1;
		if (csr == CSR_CYCLE)
			*val = h->mcycle;
		else if (csr == CSR_TIME)
			*val = bus_mtime(h->bus);
		else if (csr == CSR_INSTRET)
			*val = h->minstret;
		else
			*val = 0;
		return 0;
	}
	if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
		*val = 0;
		return 0;
	}
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		if (csr & 1)
			return -1;
		*val = h->pmpcfg[csr - CSR_PMPCFG0];
		return 0;
	}
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		*val = h->pmpaddr[csr - CSR_PMPADDR0];
		return 0;
	}

	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
		if (rv_fs_off(h))
			return -1;
		*val = csr == CSR_FFLAGS ? h->fflags : csr == CSR_FRM ? h->frm
								  : (h->frm << 5) | h->fflags;
		return 0;
	case CSR_SSTATUS: *val = mstatus_read(h) & SSTATUS_VISIBLE; return 0;
	case CSR_SIE: *val = h->mie & h->mideleg; return 0;
	case CSR_STVEC: *val = h->stvec; return 0;
	case CSR_SCOUNTEREN: *val = h->scounteren; return 0;
	case CSR_SENVCFG: *val = h->senvcfg; return 0;
	case CSR_SSCRATCH: *val = h->sscratch; return 0;
	case CSR_SEPC: *val = h->sepc; return 0;
	case CSR_SCAUSE: *val = h->scause; return 0;
	case CSR_STVAL: *val = h->stval; return 0;
	case CSR_SIP: *val = (h->mip | h->mip_dev) & h->mideleg; return 0;
	case CSR_SATP:
		if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM))
			return -1;
		*val = h->satp;
		return 0;
	case CSR_MSTATUS: *val = mstatus_read(h); return 0;
	case CSR_MISA: *val = h->misa; return 0;
	case CSR_MEDELEG: *val = h->medeleg; return 0;
	case CSR_MIDELEG: *val = h->mideleg; return 0;
	case CSR_MIE: *val = h->mie; return 0;
	case CSR_MTVEC: *val = h->mtvec; return 0;
	case CSR_MCOUNTEREN: *val = h->mcounteren; return 0;
	case CSR_MENVCFG: *val = h->menvcfg; return 0;
	case CSR_MCOUNTINHIBIT: *val = h->mcountinhibit; return 0;
	case CSR_MSCRATCH: *val = h->mscratch; return 0;
	case CSR_MEPC: *val = h->mepc; return 0;
	case CSR_MCAUSE: *val = h->mcause; return 0;
	case CSR_MTVAL: *val = h->mtval; return 0;
	case CSR_MIP: *val = h->mip | h->mip_dev; return 0;
	case CSR_TSELECT: *val = h->tselect; return 0;
	case CSR_TDATA1:
	case CSR_TDATA2:
	case CSR_TDATA3: *val = 0; return 0;
	/* Debug spec 5.7.9: only type 0, "no trigger at this tselect". */
	case CSR_TINFO: *val = 1; return 0;
	case CSR_MCYCLE: *val = h->mcycle; return 0;
	case CSR_MINSTRET: *val = h->minstret; return 0;
	case CSR_MVENDORID:
	case CSR_MARCHID:
	case CSR_MIMPID:
	case CSR_MCONFIGPTR: *val = 0; return 0;
	case CSR_MHARTID: *val = h->mhartid; return 0;
	default:
		return -1;
	}
}

static int csr_write(struct rv_hart *h, unsigned csr, uint64_t val)
{
	if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31))
		return 0;
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		if (csr & 1)
			return -1;
		h->pmpcfg[csr - CSR_PMPCFG0] = val;
		return 0;
	}
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		h->pmpaddr[csr - CSR_PMPADDR0] = val & PMPADDR_MASK;
		return 0;
	}

	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
		if (rv_fs_off(h))
			return -1;
		if (csr == CSR_FFLAGS) {
			h->fflags = val & 0x1f;
		} else if (csr == CSR_FRM) {
			h->frm = val & 7;
		} else {
			h->fflags = val & 0x1f;
			h->frm = (val >> 5) & 7;
		}
		rv_fs_dirty(h);
		return 0;
	case CSR_SSTATUS: mstatus_write(h, val, SSTATUS_WRITABLE); return 0;
	case CSR_SIE: h->mie = (h->mie & ~h->mideleg) | (val & h->mideleg); return 0;
	case CSR_STVEC: h->stvec = val & ~2ull; return 0;
	case CSR_SCOUNTEREN: h->scounteren = val & 0xffffffffull; return 0;
	case CSR_SENVCFG: h->senvcfg = val & 1; return 0;
	case CSR_SSCRATCH: h->sscratch = val; return 0;
	case CSR_SEPC: h->sepc = val & ~1ull; return 0;
	case CSR_SCAUSE: h->scause = val; return 0;
	case CSR_STVAL: h->stval = val; return 0;
	case CSR_SIP: {
		uint64_t mask = MIP_SSIP & h->mideleg;
		h->mip = (h->mip & ~mask) | (val & mask);
		return 0;
	}
	case CSR_SATP: {
		uint64_t mode = val >> 60;
		if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM))
			return -1;
		/* An unsupported mode leaves satp unchanged: Linux probes Sv48 this way. */
		if (mode != 0 && mode != SATP_MODE_SV39 && mode != SATP_MODE_SV48)
			return 0;
		h->satp = (mode << 60) | (val & SATP_ASID_PPN_MASK);
		rv_tlb_flush(h);
		return 0;
	}
	case CSR_MSTATUS: mstatus_write(h, val, MSTATUS_WRITABLE); return 0;
	case CSR_MISA: return 0;
	case CSR_MEDELEG: h->medeleg = val & MEDELEG_WRITABLE; return 0;
	case CSR_MIDELEG: h->mideleg = val & MIP_S_MASK; return 0;
	case CSR_MIE: h->mie = val & MIE_WRITABLE; return 0;
	case CSR_MTVEC: h->mtvec = val & ~2ull; return 0;
	case CSR_MCOUNTEREN: h->mcounteren = val & 0xffffffffull; return 0;
	case CSR_MENVCFG: h->menvcfg = val & 1; return 0;
	case CSR_MCOUNTINHIBIT: h->mcountinhibit = val & 0xfffffffdull; return 0;
	case CSR_MSCRATCH: h->mscratch = val; return 0;
	case CSR_MEPC: h->mepc = val & ~1ull; return 0;
	case CSR_MCAUSE: h->mcause = val; return 0;
	case CSR_MTVAL: h->mtval = val; return 0;
	case CSR_MIP: h->mip = (h->mip & ~MIP_S_MASK) | (val & MIP_S_MASK); return 0;
	case CSR_TSELECT:
	case CSR_TDATA1:
	case CSR_TDATA2:
	case CSR_TDATA3:
	case CSR_TINFO:
		return 0;
	/*
	 * The writing instruction retires after this and the next sync adds
	 * one: store one less so the value seen afterwards is the one written.
	 */
	case CSR_MCYCLE: h->mcycle = val - !(h->mcountinhibit & 1); return 0;
	case CSR_MINSTRET: h->minstret = val - !(h->mcountinhibit & 4); return 0;
	default:
		return -1;
	}
}

int rv_csr_insn(struct rv_hart *h, uint32_t insn, uint64_t *rd_val)
{
	unsigned csr = insn >> 20;
	unsigned f3 = (insn >> 12) & 7;
	unsigned rs1 = (insn >> 15) & 31;
	uint64_t src = (f3 & 4) ? rs1 : h->x[rs1];
	bool write = (f3 & 3) == 1 || rs1 != 0;
	uint64_t old, nv;

	if (h->priv < ((csr >> 8) & 3))
		return -1;
	if (write && (csr >> 10) == 3)
		return -1;
	if (csr_read(h, csr, &old))
		return -1;
	if (write) {
		/*
		 * The interrupt controller's SEIP line is read but never written
		 * back: only the software bit takes part in csrrs/csrrc (priv.
		 * spec 3.1.9). Latching it would leave SEIP stuck after the PLIC
		 * drops the line, an endless external-interrupt storm.
		 */
		uint64_t base = old;
		if (csr == CSR_MIP || csr == CSR_SIP)
			base = (csr == CSR_MIP ? h->mip : h->mip & h->mideleg);
		switch (f3 & 3) {
		case 1: nv = src; break;
		case 2: nv = base | src; break;
		default: nv = base & ~src; break;
		}
		if (csr_write(h, csr, nv))
			return -1;
	}
	*rd_val = old;
	return 0;
}

/* Trap entry (privileged spec 3.1.6.1, 3.1.8, 4.1.1). */
static void trap_enter(struct rv_hart *h, uint64_t cause, uint64_t tval, bool intr,
		       unsigned code)
{
	uint64_t deleg = intr ? h->mideleg : h->medeleg;
	unsigned old = h->priv;
	uint64_t s = h->mstatus;
	uint64_t vec;

	h->resv_valid = false;
	if (old <= RV_PRIV_S && ((deleg >> code) & 1)) {
		h->scause = cause;
		h->sepc = h->pc;
		h->stval = tval;
		s = (s & ~(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP)) |
		    ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0) | (old ? MSTATUS_SPP : 0);
		h->priv = RV_PRIV_S;
		vec = h->stvec;
	} else {
		h->mcause = cause;
		h->mepc = h->pc;
		h->mtval = tval;
		s = (s & ~(MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP)) |
		    ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0) | ((uint64_t)old << MSTATUS_MPP_SHIFT);
		h->priv = RV_PRIV_M;
		vec = h->mtvec;
	}
	h->mstatus = s;
	h->pc = (vec & ~3ull) + ((vec & 1) && intr ? 4ull * code : 0);
}

void rv_trap(struct rv_hart *h, uint64_t cause, uint64_t tval)
{
	trap_enter(h, cause, tval, false, (unsigned)cause);
}

void rv_take_irq(struct rv_hart *h, int irq)
{
	trap_enter(h, (1ull << 63) | (unsigned)irq, 0, true, (unsigned)irq);
}

/* Priority of 3.1.9: MEI, MSI, MTI, SEI, SSI, STI; M-level before S-level. */
int rv_irq_pending(const struct rv_hart *h)
{
	static const int order[] = { RV_IRQ_MEIP, RV_IRQ_MSIP, RV_IRQ_MTIP,
				     RV_IRQ_SEIP, RV_IRQ_SSIP, RV_IRQ_STIP };
	uint64_t pend = (h->mip | h->mip_dev) & h->mie;
	uint64_t sel = 0;

	if (likely(!pend))
		return -1;
	if (h->priv < RV_PRIV_M || (h->mstatus & MSTATUS_MIE))
		sel = pend & ~h->mideleg;
	if (!sel && (h->priv < RV_PRIV_S || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_SIE))))
		sel = pend & h->mideleg;
	if (!sel)
		return -1;
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((sel >> order[i]) & 1)
			return order[i];
	return -1;
}

int rv_mret(struct rv_hart *h)
{
	uint64_t s = h->mstatus;
	unsigned np = (s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;

	if (h->priv != RV_PRIV_M)
		return -1;
	s = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0) |
	    MSTATUS_MPIE;
	if (np != RV_PRIV_M)
		s &= ~MSTATUS_MPRV;
	h->mstatus = s;
	h->priv = np;
	h->pc = h->mepc;
	return 0;
}

int rv_sret(struct rv_hart *h)
{
	uint64_t s = h->mstatus;

	if (h->priv < RV_PRIV_S || (h->priv == RV_PRIV_S && (s & MSTATUS_TSR)))
		return -1;
	h->priv = (s & MSTATUS_SPP) ? RV_PRIV_S : RV_PRIV_U;
	s = (s & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) |
	    ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0) | MSTATUS_SPIE;
	h->mstatus = s;
	h->pc = h->sepc;
	return 0;
}
