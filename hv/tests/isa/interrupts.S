/* SPDX-License-Identifier: MIT */
/* Interrupts: CLINT software and timer interrupts to M, STIP/SSIP delegated to S via mideleg,
 * undelegated S interrupts taken in M, and WFI wake-up with interrupts globally disabled. */
#include "common.h"
	TEST_NAME interrupts

#define IRQ_SSI	(0x8000000000000001)
#define IRQ_MSI	(0x8000000000000003)
#define IRQ_STI	(0x8000000000000005)
#define IRQ_MTI	(0x8000000000000007)
#define MIP_SSIP	(1 << 1)
#define MIP_MSIP	(1 << 3)
#define MIP_STIP	(1 << 5)
#define MIP_MTIP	(1 << 7)
#define POLL_LIMIT	100000

/* Spins until trap_area.\field is non-zero, failing check \n after POLL_LIMIT iterations. */
.macro WAIT_COUNT n, field
	li t3, POLL_LIMIT
.Lw\@:	la t4, trap_area
	ld t4, \field(t4)
	bnez t4, .Ld\@
	addi t3, t3, -1
	bnez t3, .Lw\@
	FAIL \n
.Ld\@:
.endm

/* Arms this hart's mtimecmp \ticks after the current mtime. */
.macro TIMER_IN ticks
	li t3, CLINT_MTIME
	ld t3, 0(t3)
	addi t3, t3, \ticks
	li t4, CLINT_MTIMECMP
	sd t3, 0(t4)
.endm

.macro TIMER_OFF
	li t3, -1
	li t4, CLINT_MTIMECMP
	sd t3, 0(t4)
.endm

	.text
	.globl test_main
test_main:
	TA_CLEAR
	csrw mideleg, zero
	/* mtime advances. */
	li t0, CLINT_MTIME
	ld s0, 0(t0)
	li t1, POLL_LIMIT
1:	ld s1, 0(t0)
	bne s1, s0, 2f
	addi t1, t1, -1
	bnez t1, 1b
	FAIL 1
2:	bgtu s1, s0, 3f
	FAIL 2
3:
	/* Machine software interrupt through msip. */
	li s2, CLINT_MSIP
	li t0, 1
	sw t0, 0(s2)
	CHECK_CSR 3, mip, MIP_MSIP
	li t0, MIP_MSIP
	csrw mie, t0
	csrsi mstatus, MSTATUS_MIE
	WAIT_COUNT 4, TA_MCOUNT
	csrci mstatus, MSTATUS_MIE
	CHECK_TA 5, TA_MCAUSE, IRQ_MSI
	CHECK_CSR 6, mie, 0
	sw zero, 0(s2)
	CHECK_CSR 7, mip, 0
	/* The trap stacked MIE = 1 into MPIE and returned with it. */
	la t0, trap_area
	ld t0, TA_MSTATUS(t0)
	andi t0, t0, MSTATUS_MIE | MSTATUS_MPIE
	CHECK 8, t0, MSTATUS_MPIE

	/* Machine timer interrupt, awaited with WFI. */
	TA_CLEAR
	li t0, MIP_MTIP
	csrw mie, t0
	TIMER_IN 1000
	csrsi mstatus, MSTATUS_MIE
4:	wfi
	la t4, trap_area
	ld t4, TA_MCOUNT(t4)
	beqz t4, 4b
	csrci mstatus, MSTATUS_MIE
	CHECK_TA 9, TA_MCAUSE, IRQ_MTI
	CHECK_TA 10, TA_MCOUNT, 1
	csrr a0, mip
	andi a0, a0, MIP_MTIP
	CHECK 11, a0, MIP_MTIP	/* still pending until mtimecmp moves */
	TIMER_OFF
	CHECK_CSR 12, mip, 0

	/* WFI wakes on a locally enabled pending interrupt even with mstatus.MIE = 0, no trap. */
	TA_CLEAR
	li t0, MIP_MTIP
	csrw mie, t0
	TIMER_IN 500
5:	wfi
	csrr a0, mip
	andi a0, a0, MIP_MTIP
	beqz a0, 5b
	CHECK_TA 13, TA_MCOUNT, 0
	TIMER_OFF
	csrw mie, zero

	/* Priority among pending M-mode interrupts: MSI before MTI before SSI (priv 3.1.9). */
	TA_CLEAR
	li t3, CLINT_MTIMECMP
	sd zero, 0(t3)		/* MTIP pending now */
	li t0, 1
	sw t0, 0(s2)		/* MSIP */
	li t0, MIP_MSIP | MIP_MTIP
	csrw mie, t0
	csrsi mstatus, MSTATUS_MIE
	WAIT_COUNT 34, TA_MCOUNT
	csrci mstatus, MSTATUS_MIE
	CHECK_TA 35, TA_MCAUSE, IRQ_MSI
	sw zero, 0(s2)
	/* MTI before SSI. QEMU 7.2 without AIA takes the lowest-numbered pending interrupt (SSI);
	 * that order is tolerated, but both must be taken, one after the other. */
	TA_CLEAR
	li t0, MIP_SSIP
	csrs mip, t0
	li t0, MIP_MTIP | MIP_SSIP
	csrw mie, t0
	csrsi mstatus, MSTATUS_MIE
	WAIT_COUNT 36, TA_MCOUNT
	csrci mstatus, MSTATUS_MIE
	la t0, trap_area
	ld s3, TA_MCAUSE(t0)
	li s4, IRQ_SSI
	li t1, IRQ_MTI
	beq s3, t1, 10f
	CHECK 37, s3, IRQ_SSI
	li t0, MIP_SSIP
	csrc mip, t0
	li s4, IRQ_MTI
	j 11f
10:	TIMER_OFF
11:	TA_CLEAR
	li t0, MIP_MTIP | MIP_SSIP
	csrw mie, t0
	csrsi mstatus, MSTATUS_MIE
	WAIT_COUNT 38, TA_MCOUNT
	csrci mstatus, MSTATUS_MIE
	CHECK_TA_REG 39, TA_MCAUSE, s4
	TIMER_OFF
	li t0, MIP_SSIP
	csrc mip, t0
	CHECK_CSR 40, mip, 0

	/* STIP set by M software, delegated: taken in S with scause 5. */
	TA_CLEAR
	la t0, s_trap_vector
	csrw stvec, t0
	li t0, MIP_STIP | MIP_SSIP
	csrw mideleg, t0
	li t0, MIP_STIP
	csrw mie, t0
	csrs mip, t0
	CHECK_CSR 14, mip, MIP_STIP
	li t0, MSTATUS_SIE
	csrs mstatus, t0
	MRET_TO 1, 6f
6:	WAIT_COUNT 15, TA_SCOUNT
	CHECK_TA 16, TA_SCAUSE, IRQ_STI
	CHECK_TA 17, TA_MCOUNT, 0
	CHECK_CSR 18, sie, 0
	la t0, trap_area
	ld t0, TA_SSTATUS(t0)
	andi t0, t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
	CHECK 19, t0, MSTATUS_SPIE | MSTATUS_SPP
	csrr a0, sip
	CHECK 20, a0, MIP_STIP	/* visible to S, not clearable by S */
	/* SSIP: S software raises its own interrupt through sip. */
	TA_CLEAR
	csrsi sstatus, MSTATUS_SIE
	li t0, MIP_SSIP
	csrw sie, t0
	csrs sip, t0
	WAIT_COUNT 21, TA_SCOUNT
	CHECK_TA 22, TA_SCAUSE, IRQ_SSI
	csrci sip, MIP_SSIP
	csrr a0, sip
	CHECK 23, a0, MIP_STIP
	BACK_TO_M 7f
	FAIL 24
7:	CHECK_TA 25, TA_MCAUSE, 9
	li t0, MIP_STIP
	csrc mip, t0
	CHECK_CSR 26, mip, 0

	/* Undelegated STIP while in S-mode: taken in M even though mstatus.MIE = 0 (priv 3.1.9). */
	TA_CLEAR
	csrw mideleg, zero
	csrci mstatus, MSTATUS_MIE
	li t0, MSTATUS_MPIE
	csrc mstatus, t0
	li t0, MIP_STIP
	csrw mie, t0
	csrs mip, t0
	MRET_TO 1, 8f
8:	WAIT_COUNT 27, TA_MCOUNT
	CHECK_TA 28, TA_MCAUSE, IRQ_STI
	CHECK_TA 29, TA_SCOUNT, 0
	la t0, trap_area
	ld t0, TA_MSTATUS(t0)
	srli t0, t0, 11
	andi t0, t0, 3
	CHECK 30, t0, 1
	BACK_TO_M 9f
	FAIL 31
9:	li t0, MIP_STIP
	csrc mip, t0
	/* A pending, enabled S interrupt is not taken in M-mode (lower privilege). */
	TA_CLEAR
	li t0, MIP_STIP
	csrw mideleg, t0
	csrw mie, t0
	csrs mip, t0
	csrsi mstatus, MSTATUS_MIE | MSTATUS_SIE
	nop
	nop
	nop
	csrci mstatus, MSTATUS_MIE | MSTATUS_SIE
	CHECK_TA 32, TA_MCOUNT, 0
	CHECK_TA 33, TA_SCOUNT, 0
	li t0, MIP_STIP
	csrc mip, t0
	csrw mie, zero
	csrw mideleg, zero
	j test_pass
