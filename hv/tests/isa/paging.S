/* SPDX-License-Identifier: MIT */
/* Sv39 (priv 4.4): 4K/2M/1G translations, page faults 12/13/15 with xtval, hardware A/D updates,
 * U-mode access rules, SUM, MXR, misaligned superpages, sfence.vma after a PTE change. */
#include "common.h"
	TEST_NAME paging

#define PTE_V	0x01
#define PTE_R	0x02
#define PTE_W	0x04
#define PTE_X	0x08
#define PTE_U	0x10
#define PTE_A	0x40
#define PTE_D	0x80
#define PTE_RWXAD (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

/* Virtual layout: 0-3G identity gigapages (no U), 0xc0000000 a 2M page onto 0x80000000,
 * 0xc0200000 4K pages (below), 0x100000000 a 1G alias of 0x80000000. */
#define VA_MEGA		0xc0000000
#define VA_4K		0xc0200000
#define VA_GIGA		0x100000000
#define VA_BADGIGA	0x140000000
#define VA_PAGE(i)	(VA_4K + (i) * 0x1000)
#define PG_AD		0	/* page_a, RW, A = D = 0 */
#define PG_RO		1	/* page_b, read-only */
#define PG_INVALID	2	/* V = 0 */
#define PG_USER		3	/* page_c, U RW */
#define PG_UCODE	4	/* user_code, U RX */
#define PG_XONLY	5	/* page_a, execute-only */
#define PG_REMAP	6	/* page_a, later page_b */
#define PG_NOX		7	/* page_a, RW without X */
#define PG_WNOR		8	/* reserved W without R */

/* \reg = leaf or pointer PTE for the physical address of \label with \flags; clobbers t6. */
.macro PTE reg, label, flags
	la \reg, \label
	srli \reg, \reg, 12
	slli \reg, \reg, 10
	li t6, \flags
	or \reg, \reg, t6
.endm

/* Stores \reg into entry \idx of \table. */
.macro SET_PTE table, idx, reg
	la t6, \table
	sd \reg, (\idx * 8)(t6)
.endm

/* Like MRET_TO, to a constant virtual address. */
.macro MRET_TO_VA mode, va
	li t5, MSTATUS_MPP
	csrc mstatus, t5
	li t5, (\mode << 11)
	csrs mstatus, t5
	li t5, \va
	csrw mepc, t5
	mret
.endm

/* Runs the code from label \s_code in S-mode (it ends with BACK_TO_M \resume), faults included. */
.macro IN_S s_code
	MRET_TO 1, \s_code
.endm

	.data
	.balign 4096
page_a:	.dword 0x1111111111111111, 0
	.balign 4096
page_b:	.dword 0x2222222222222222, 0
	.balign 4096
page_c:	.dword 0x3333333333333333, 0
	.balign 4096
root:	.skip 4096
l1:	.skip 4096
l0:	.skip 4096

	.section .text.user, "ax"
	.balign 4096
/* U-mode code, reached through VA_PAGE(PG_UCODE): s0 = address to load, s1 = address to store a1. */
user_code:
	ld a0, 0(s0)
	sd a1, 0(s1)
	ecall
	.balign 4096

	.text
	.globl test_main
test_main:
	TA_CLEAR
	/* Identity gigapages for 0-3G, 1G alias, misaligned gigapage. */
	li t0, (0x00000000 >> 2) | PTE_RWXAD
	SET_PTE root, 0, t0
	li t0, (0x40000000 >> 2) | PTE_RWXAD
	SET_PTE root, 1, t0
	li t0, (0x80000000 >> 2) | PTE_RWXAD
	SET_PTE root, 2, t0
	li t0, (0x80000000 >> 2) | PTE_RWXAD
	SET_PTE root, 4, t0
	li t0, (0x80200000 >> 2) | PTE_RWXAD	/* PPN[1] != 0 in a gigapage */
	SET_PTE root, 5, t0
	PTE t0, l1, PTE_V
	SET_PTE root, 3, t0
	li t0, (0x80000000 >> 2) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE l1, 0, t0
	PTE t0, l0, PTE_V
	SET_PTE l1, 1, t0
	PTE t0, page_a, PTE_V | PTE_R | PTE_W
	SET_PTE l0, PG_AD, t0
	PTE t0, page_b, PTE_V | PTE_R | PTE_A
	SET_PTE l0, PG_RO, t0
	PTE t0, page_a, PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE l0, PG_INVALID, t0
	PTE t0, page_c, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
	SET_PTE l0, PG_USER, t0
	PTE t0, user_code, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
	SET_PTE l0, PG_UCODE, t0
	PTE t0, page_a, PTE_V | PTE_X | PTE_A
	SET_PTE l0, PG_XONLY, t0
	PTE t0, page_a, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE l0, PG_REMAP, t0
	PTE t0, page_a, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE l0, PG_NOX, t0
	PTE t0, page_a, PTE_V | PTE_W | PTE_A | PTE_D
	SET_PTE l0, PG_WNOR, t0

	la t0, root
	srli t0, t0, 12
	li t1, 8 << 60
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	csrr a0, satp
	srli a0, a0, 60
	CHECK 1, a0, 8

	/* Translations of each page size, read in S-mode. */
	li s0, VA_PAGE(PG_REMAP)
	la t0, page_a
	li t1, 0x80000000
	sub t0, t0, t1
	li s1, VA_MEGA
	add s1, s1, t0
	li s2, VA_GIGA
	add s2, s2, t0
	IN_S 1f
1:	ld a0, 0(s0)
	ld a1, 0(s1)
	ld a2, 0(s2)
	li t0, 0x55
	sd t0, 8(s2)
	ld a3, 8(s1)
	BACK_TO_M 2f
2:	CHECK_TA 2, TA_MCAUSE, 9
	CHECK 3, a0, 0x1111111111111111
	CHECK 4, a1, 0x1111111111111111
	CHECK 5, a2, 0x1111111111111111
	CHECK 6, a3, 0x55
	la t0, page_a
	ld a0, 8(t0)
	CHECK 7, a0, 0x55

	/* Hardware sets A on a read and D on a write (QEMU 7.2 updates them in hardware too). */
	li s0, VA_PAGE(PG_AD)
	IN_S 3f
3:	ld a0, 0(s0)
	BACK_TO_M 4f
4:	CHECK 8, a0, 0x1111111111111111
	la t0, l0
	ld a0, (PG_AD * 8)(t0)
	andi a0, a0, PTE_A | PTE_D
	CHECK 9, a0, PTE_A
	IN_S 5f
5:	sd zero, 8(s0)
	BACK_TO_M 6f
6:	la t0, l0
	ld a0, (PG_AD * 8)(t0)
	andi a0, a0, PTE_A | PTE_D
	CHECK 10, a0, PTE_A | PTE_D

	/* Store to a read-only page: cause 15, mtval = VA. */
	li s0, VA_PAGE(PG_RO) + 8
	M_RESUME 7f
	IN_S 8f
8:	sd zero, 0(s0)
	FAIL 11
7:	CHECK_TA 12, TA_MCAUSE, 15
	CHECK_TA 13, TA_MTVAL, VA_PAGE(PG_RO) + 8
	la t0, page_b
	ld a0, 8(t0)
	CHECK 14, a0, 0
	/* Load from an invalid PTE: cause 13. */
	li s0, VA_PAGE(PG_INVALID) + 0x10
	M_RESUME 9f
	IN_S 10f
10:	ld a0, 0(s0)
	FAIL 15
9:	CHECK_TA 16, TA_MCAUSE, 13
	CHECK_TA 17, TA_MTVAL, VA_PAGE(PG_INVALID) + 0x10
	/* Store to an unmapped address: cause 15 (a store never reports 13). */
	li s0, VA_PAGE(100)
	M_RESUME 11f
	IN_S 12f
12:	sw zero, 4(s0)
	FAIL 18
11:	CHECK_TA 19, TA_MCAUSE, 15
	CHECK_TA 20, TA_MTVAL, VA_PAGE(100) + 4
	/* W without R is reserved: page fault. */
	li s0, VA_PAGE(PG_WNOR)
	M_RESUME 13f
	IN_S 14f
14:	ld a0, 0(s0)
	FAIL 21
13:	CHECK_TA 22, TA_MCAUSE, 13
	/* Misaligned gigapage: page fault. */
	li s0, VA_BADGIGA + 8
	M_RESUME 15f
	IN_S 16f
16:	ld a0, 0(s0)
	FAIL 23
15:	CHECK_TA 24, TA_MCAUSE, 13
	CHECK_TA 25, TA_MTVAL, VA_BADGIGA + 8
	/* Non-canonical address (bits 63:39 not equal to bit 38): page fault (Sv39 4.4.1). */
	li s0, 0x0000008000000000
	M_RESUME 17f
	IN_S 18f
18:	ld a0, 0(s0)
	FAIL 26
17:	CHECK_TA 27, TA_MCAUSE, 13
	/* Fetch from a page without X: cause 12, mepc = mtval = VA. */
	li s0, VA_PAGE(PG_NOX) + 0x20
	M_RESUME 19f
	IN_S 20f
20:	jr s0
	FAIL 28
19:	CHECK_TA 29, TA_MCAUSE, 12
	CHECK_TA 30, TA_MTVAL, VA_PAGE(PG_NOX) + 0x20
	CHECK_TA 31, TA_MEPC, VA_PAGE(PG_NOX) + 0x20
	/* S-mode never executes from U pages. */
	li s0, VA_PAGE(PG_UCODE)
	M_RESUME 21f
	IN_S 22f
22:	jr s0
	FAIL 32
21:	CHECK_TA 33, TA_MCAUSE, 12
	CHECK_TA 34, TA_MTVAL, VA_PAGE(PG_UCODE)

	/* SUM: S loads from U pages fault unless sstatus.SUM = 1. */
	li s0, VA_PAGE(PG_USER)
	M_RESUME 23f
	IN_S 24f
24:	ld a0, 0(s0)
	FAIL 35
23:	CHECK_TA 36, TA_MCAUSE, 13
	li t0, MSTATUS_SUM
	csrs mstatus, t0
	IN_S 25f
25:	ld a0, 0(s0)
	BACK_TO_M 26f
26:	CHECK 37, a0, 0x3333333333333333
	li t0, MSTATUS_SUM
	csrc mstatus, t0
	/* MXR: loads from execute-only pages fault unless MXR = 1. */
	li s0, VA_PAGE(PG_XONLY)
	M_RESUME 27f
	IN_S 28f
28:	ld a0, 0(s0)
	FAIL 38
27:	CHECK_TA 39, TA_MCAUSE, 13
	li t0, MSTATUS_MXR
	csrs mstatus, t0
	IN_S 29f
29:	ld a0, 0(s0)
	BACK_TO_M 30f
30:	CHECK 40, a0, 0x1111111111111111
	li t0, MSTATUS_MXR
	csrc mstatus, t0

	/* U-mode: runs from a U page, accesses U data, faults on S pages. */
	li s0, VA_PAGE(PG_USER)
	li s1, VA_PAGE(PG_USER) + 8
	li a1, 0x77
	M_RESUME 31f
	MRET_TO_VA 0, VA_PAGE(PG_UCODE)
31:	CHECK_TA 41, TA_MCAUSE, 8
	CHECK 42, a0, 0x3333333333333333
	la t0, page_c
	ld a0, 8(t0)
	CHECK 43, a0, 0x77
	li s0, VA_PAGE(PG_REMAP)	/* no U bit */
	M_RESUME 32f
	MRET_TO_VA 0, VA_PAGE(PG_UCODE)
32:	CHECK_TA 44, TA_MCAUSE, 13
	CHECK_TA 45, TA_MTVAL, VA_PAGE(PG_REMAP)
	li s0, VA_PAGE(PG_USER)
	li s1, VA_PAGE(PG_RO)
	M_RESUME 33f
	MRET_TO_VA 0, VA_PAGE(PG_UCODE)
33:	CHECK_TA 46, TA_MCAUSE, 15
	/* U fetch from a non-U page. */
	M_RESUME 34f
	MRET_TO 0, 35f
35:	FAIL 47
34:	CHECK_TA 48, TA_MCAUSE, 12
	CHECK_TA_ADDR 49, TA_MTVAL, 35b

	/* sfence.vma makes a changed PTE visible. */
	li s0, VA_PAGE(PG_REMAP)
	IN_S 36f
36:	ld a0, 0(s0)
	BACK_TO_M 37f
37:	CHECK 50, a0, 0x1111111111111111
	PTE t0, page_b, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
	SET_PTE l0, PG_REMAP, t0
	IN_S 38f
38:	sfence.vma s0, zero
	ld a0, 0(s0)
	BACK_TO_M 39f
39:	CHECK 51, a0, 0x2222222222222222
	/* Invalidating a PTE then sfence.vma: the page faults. */
	SET_PTE l0, PG_REMAP, zero
	M_RESUME 40f
	IN_S 41f
41:	sfence.vma
	ld a0, 0(s0)
	FAIL 52
40:	CHECK_TA 53, TA_MCAUSE, 13

	/* Page faults delegated to S through medeleg: scause and stval. */
	la t0, s_trap_vector
	csrw stvec, t0
	li t0, (1 << 12) | (1 << 13) | (1 << 15)
	csrw medeleg, t0
	li s0, VA_PAGE(PG_RO)
	IN_S 42f
42:	S_RESUME 43f
	sd zero, 0(s0)
	FAIL 54
43:	CHECK_TA 55, TA_SCAUSE, 15
	CHECK_TA 56, TA_STVAL, VA_PAGE(PG_RO)
	S_RESUME 44f
	li t0, VA_PAGE(PG_NOX)
	jr t0
	FAIL 57
44:	CHECK_TA 58, TA_SCAUSE, 12
	CHECK_TA 59, TA_STVAL, VA_PAGE(PG_NOX)
	BACK_TO_M 45f
45:	csrw medeleg, zero

	/* M-mode with MPRV = 1 and MPP = S translates loads through satp. */
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPP_S | MSTATUS_MPRV
	csrs mstatus, t0
	li s0, VA_GIGA
	la t0, page_a
	li t1, 0x80000000
	sub t0, t0, t1
	add s0, s0, t0
	ld a0, 0(s0)
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	CHECK 60, a0, 0x1111111111111111
	csrw satp, zero
	sfence.vma
	j test_pass
