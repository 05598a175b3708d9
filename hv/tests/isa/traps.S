/* SPDX-License-Identifier: MIT */
/* Synchronous traps: ecall from M/S/U, ebreak, illegal instructions with mtval, access faults,
 * medeleg delegation to S-mode, and mstatus stacking by traps, mret and sret (priv 3.1.6, 3.3). */
#include "common.h"
	TEST_NAME traps

#define UNMAPPED 0x90000000	/* above 128M of DRAM, no device */

/* Checks the MPP field of the mstatus recorded at the last M trap. */
.macro CHECK_MPP n, mode
	la t5, trap_area
	ld t5, TA_MSTATUS(t5)
	srli t5, t5, 11
	andi t5, t5, 3
	CHECK \n, t5, \mode
.endm

	.text
	.globl test_main
test_main:
	TA_CLEAR
	/* ecall from M: cause 11, mepc the ecall, mtval 0. */
	M_RESUME 1f
2:	ecall
	FAIL 1
1:	CHECK_TA 2, TA_MCAUSE, 11
	CHECK_TA_ADDR 3, TA_MEPC, 2b
	CHECK_TA 4, TA_MTVAL, 0
	CHECK_MPP 5, 3
	/* After the handler's mret (to M) MPP is the least-privileged mode, U, and MPIE is 1. */
	csrr a0, mstatus
	li t0, MSTATUS_MPP | MSTATUS_MPIE
	and a0, a0, t0
	CHECK 6, a0, MSTATUS_MPIE

	/* ecall from S: cause 9, MPP = S; MPIE = the MIE value mret restored from MPIE. */
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	li t0, MSTATUS_MPIE
	csrs mstatus, t0
	M_RESUME 3f
	MRET_TO 1, 4f
4:	ecall
	FAIL 7
3:	CHECK_TA 8, TA_MCAUSE, 9
	CHECK_TA_ADDR 9, TA_MEPC, 4b
	CHECK_MPP 10, 1
	la t0, trap_area
	ld t0, TA_MSTATUS(t0)
	andi t0, t0, MSTATUS_MIE | MSTATUS_MPIE
	CHECK 11, t0, MSTATUS_MPIE
	/* Same with MPIE = 0 before mret. */
	li t0, MSTATUS_MPIE
	csrc mstatus, t0
	M_RESUME 5f
	MRET_TO 1, 6f
6:	ecall
	FAIL 12
5:	la t0, trap_area
	ld t0, TA_MSTATUS(t0)
	andi t0, t0, MSTATUS_MIE | MSTATUS_MPIE
	CHECK 13, t0, 0

	/* ecall from U: cause 8, MPP = U. */
	M_RESUME 7f
	MRET_TO 0, 8f
8:	ecall
	FAIL 14
7:	CHECK_TA 15, TA_MCAUSE, 8
	CHECK_TA_ADDR 16, TA_MEPC, 8b
	CHECK_MPP 17, 0

	/* mret to a lower mode clears MPRV (priv 1.12, 3.1.6.3). QEMU 7.2 leaves it set, which is
	 * tolerated; memory accesses stay physical here either way (satp is bare). */
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	M_RESUME 9f
	MRET_TO 1, 10f
10:	ecall
	FAIL 18
9:	li t1, MSTATUS_MPRV
	csrc mstatus, t1
	CHECK_MPP 19, 1

	/* ebreak: cause 3, mepc the ebreak. */
	M_RESUME 11f
12:	ebreak
	FAIL 20
11:	CHECK_TA 21, TA_MCAUSE, 3
	CHECK_TA_ADDR 22, TA_MEPC, 12b

	/* Illegal instructions: cause 2 with mtval = the instruction bits (priv 3.1.16). */
	M_RESUME 13f
14:	.option push
	.option norvc
	csrrw zero, mvendorid, zero	/* write to a read-only CSR */
	.option pop
	FAIL 23
13:	CHECK_TA 24, TA_MCAUSE, 2
	CHECK_TA_ADDR 25, TA_MEPC, 14b
	CHECK_TA 26, TA_MTVAL, 0xf1101073
	M_RESUME 15f
	.option push
	.option norvc
	unimp				/* csrrw zero, cycle, zero */
	.option pop
	FAIL 27
15:	CHECK_TA 28, TA_MCAUSE, 2
	CHECK_TA 29, TA_MTVAL, 0xc0001073
	/* mret from S and sret from U are illegal. */
	M_RESUME 16f
	MRET_TO 1, 17f
17:	mret
	FAIL 30
16:	CHECK_TA 31, TA_MCAUSE, 2
	CHECK_TA 32, TA_MTVAL, 0x30200073
	CHECK_MPP 33, 1
	M_RESUME 18f
	MRET_TO 0, 19f
19:	sret
	FAIL 34
18:	CHECK_TA 35, TA_MCAUSE, 2
	CHECK_TA 36, TA_MTVAL, 0x10200073
	CHECK_MPP 37, 0
	/* sret is illegal in S-mode when mstatus.TSR is set. */
	li t0, 1 << 22
	csrs mstatus, t0
	M_RESUME 20f
	MRET_TO 1, 21f
21:	sret
	FAIL 38
20:	CHECK_TA 39, TA_MCAUSE, 2
	li t0, 1 << 22
	csrc mstatus, t0

	/* Access faults at unmapped physical addresses: load 5, store 7, fetch 1, mtval = address. */
	M_RESUME 22f
	lw a0, 0(zero)
	FAIL 40
22:	CHECK_TA 41, TA_MCAUSE, 5
	CHECK_TA 42, TA_MTVAL, 0
	li s0, UNMAPPED
	M_RESUME 23f
	ld a0, 8(s0)
	FAIL 43
23:	CHECK_TA 44, TA_MCAUSE, 5
	CHECK_TA 45, TA_MTVAL, UNMAPPED + 8
	M_RESUME 24f
	sw a0, 0(zero)
	FAIL 46
24:	CHECK_TA 47, TA_MCAUSE, 7
	CHECK_TA 48, TA_MTVAL, 0
	M_RESUME 25f
	sd a0, 16(s0)
	FAIL 49
25:	CHECK_TA 50, TA_MCAUSE, 7
	CHECK_TA 51, TA_MTVAL, UNMAPPED + 16
	M_RESUME 26f
	jalr ra, 0(s0)
	FAIL 52
26:	CHECK_TA 53, TA_MCAUSE, 1
	CHECK_TA 54, TA_MEPC, UNMAPPED
	CHECK_TA 55, TA_MTVAL, UNMAPPED
	/* A fault from S-mode is the same. */
	M_RESUME 27f
	MRET_TO 1, 28f
28:	lw a0, 0(s0)
	FAIL 56
27:	CHECK_TA 57, TA_MCAUSE, 5
	CHECK_MPP 58, 1

	/* Delegation: medeleg routes U ecalls and illegal instructions to S-mode (priv 3.1.8). */
	la t0, s_trap_vector
	csrw stvec, t0
	li t0, (1 << 8) | (1 << 2)
	csrw medeleg, t0
	csrr a0, medeleg
	andi a0, a0, (1 << 8) | (1 << 2)
	CHECK 59, a0, (1 << 8) | (1 << 2)
	TA_CLEAR
	S_RESUME 30f
	li t0, MSTATUS_SIE	/* SIE = 1 in U: the trap saves it to SPIE, then clears it */
	csrs mstatus, t0
	MRET_TO 0, 31f
31:	ecall
	FAIL 60
30:	/* In S-mode now (the S handler resumed here with SPP forced to S). */
	CHECK_TA 61, TA_SCAUSE, 8
	CHECK_TA_ADDR 62, TA_SEPC, 31b
	CHECK_TA 63, TA_MCOUNT, 0
	la t0, trap_area
	ld t0, TA_SSTATUS(t0)
	andi t0, t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
	CHECK 64, t0, MSTATUS_SPIE
	/* Illegal instruction from U, delegated: scause 2, stval the instruction. */
	li t0, MSTATUS_SPP
	csrc sstatus, t0
	la t0, 32f
	csrw sepc, t0
	S_RESUME 33f
	sret
32:	.option push
	.option norvc
	csrr a0, sstatus	/* S-level CSR from U */
	.option pop
	FAIL 65
33:	CHECK_TA 66, TA_SCAUSE, 2
	CHECK_TA 67, TA_STVAL, 0x10002573
	CHECK_TA 68, TA_MCOUNT, 0
	/* ecall from S is not delegated: it reaches M with cause 9. */
	BACK_TO_M 34f
	FAIL 69
34:	CHECK_TA 70, TA_MCAUSE, 9
	/* Traps taken in M-mode are never delegated (priv 3.1.8). */
	M_RESUME 35f
	.option push
	.option norvc
	unimp
	.option pop
	FAIL 71
35:	CHECK_TA 72, TA_MCAUSE, 2
	CHECK_TA 73, TA_SCOUNT, 2

	/* sret to U: SIE = SPIE, SPIE = 1, SPP = U (priv 3.3.2). */
	csrw medeleg, zero
	li t0, MSTATUS_SIE
	csrc mstatus, t0
	li t0, MSTATUS_SPIE | MSTATUS_SPP
	csrs mstatus, t0
	MRET_TO 1, 36f
36:	la t0, 37f
	csrw sepc, t0
	li t0, MSTATUS_SPP
	csrc sstatus, t0
	M_RESUME 38f
	sret
37:	ecall
	FAIL 74
38:	CHECK_TA 75, TA_MCAUSE, 8
	csrr a0, mstatus
	andi a0, a0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
	CHECK 76, a0, MSTATUS_SIE | MSTATUS_SPIE
	j test_pass
