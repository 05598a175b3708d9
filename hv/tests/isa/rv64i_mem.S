/* SPDX-License-Identifier: MIT */
/* RV64I loads and stores of every width, sign/zero extension, and misaligned accesses (no trap). */
#include "common.h"
	TEST_NAME rv64i_mem

	.data
	.balign 16
src:	.dword 0x8877665544332211, 0xf0debc9a78563412
dst:	.dword 0, 0, 0
	.balign 8
code_buf: .word 0, 0

	.text
	.globl test_main
test_main:
	la s0, src
	lb a0, 7(s0)
	CHECK 1, a0, 0xffffffffffffff88
	lbu a0, 7(s0)
	CHECK 2, a0, 0x88
	lb a0, 0(s0)
	CHECK 3, a0, 0x11
	lh a0, 6(s0)
	CHECK 4, a0, 0xffffffffffff8877
	lhu a0, 6(s0)
	CHECK 5, a0, 0x8877
	lh a0, 0(s0)
	CHECK 6, a0, 0x2211
	lw a0, 4(s0)
	CHECK 7, a0, 0xffffffff88776655
	lwu a0, 4(s0)
	CHECK 8, a0, 0x88776655
	lw a0, 0(s0)
	CHECK 9, a0, 0x44332211
	ld a0, 0(s0)
	CHECK 10, a0, 0x8877665544332211
	ld a0, 8(s0)
	CHECK 11, a0, 0xf0debc9a78563412
	/* Negative offsets. */
	addi s1, s0, 16
	ld a0, -8(s1)
	CHECK 12, a0, 0xf0debc9a78563412
	lbu a0, -1(s1)
	CHECK 13, a0, 0xf0

	/* Stores write exactly their width. */
	la s1, dst
	li a0, -1
	sd a0, 0(s1)
	sd a0, 8(s1)
	li a1, 0x0123456789abcdef
	sb a1, 0(s1)
	ld a0, 0(s1)
	CHECK 14, a0, 0xffffffffffffffef
	sh a1, 2(s1)
	ld a0, 0(s1)
	CHECK 15, a0, 0xffffffffcdefffef
	sw a1, 4(s1)
	ld a0, 0(s1)
	CHECK 16, a0, 0x89abcdefcdefffef
	sd a1, 8(s1)
	ld a0, 8(s1)
	CHECK 17, a0, 0x0123456789abcdef
	sd zero, 0(s1)
	ld a0, 0(s1)
	CHECK 18, a0, 0
	/* A load into x0 still happens and leaves x0 zero. */
	ld zero, 8(s1)
	li a2, 0
	CHECKR 19, zero, a2

	/* Misaligned accesses: the spec lets an EEI trap or not; ftvm (like QEMU 7.2 for plain
	 * loads/stores) performs them, and this suite requires that. */
	M_RESUME misaligned_trap
	lh a0, 1(s0)
	CHECK 20, a0, 0x3322
	lhu a0, 7(s0)
	CHECK 21, a0, 0x1288
	lw a0, 3(s0)
	CHECK 22, a0, 0x77665544
	lw a0, 5(s0)
	CHECK 23, a0, 0x12887766
	lwu a0, 6(s0)
	CHECK 24, a0, 0x34128877
	lw a0, 6(s0)
	CHECK 25, a0, 0x34128877
	lw a0, 7(s0)
	CHECK 26, a0, 0x56341288
	ld a0, 1(s0)
	CHECK 27, a0, 0x1288776655443322
	ld a0, 7(s0)
	CHECK 28, a0, 0xdebc9a7856341288
	lh a0, 15(s0)
	CHECK 29, a0, 0x00f0
	la s1, dst
	sd zero, 0(s1)
	sd zero, 8(s1)
	li a1, 0x0123456789abcdef
	sd a1, 3(s1)
	ld a0, 0(s1)
	CHECK 30, a0, 0x6789abcdef000000
	ld a0, 8(s1)
	CHECK 31, a0, 0x0000000000012345
	sw a1, 9(s1)
	ld a0, 8(s1)
	CHECK 32, a0, 0x00000089abcdef45
	sh a1, 7(s1)
	ld a0, 0(s1)
	CHECK 33, a0, 0xef89abcdef000000
	ld a0, 8(s1)
	CHECK 34, a0, 0x00000089abcdefcd
	la t6, trap_area
	sd zero, TA_MRESUME(t6)
	CHECK_TA 35, TA_MCOUNT, 0

	/* Self-modifying code: stores to instruction memory are fetched after fence.i (Zifencei). */
	la s2, code_buf
	li t0, 0x00100513	/* addi a0, zero, 1 */
	sw t0, 0(s2)
	li t0, 0x00008067	/* ret */
	sw t0, 4(s2)
	fence.i
	li a0, 0
	jalr ra, 0(s2)
	CHECK 37, a0, 1
	li t0, 0x00200513	/* addi a0, zero, 2 */
	sw t0, 0(s2)
	fence.i
	jalr ra, 0(s2)
	CHECK 38, a0, 2
	j test_pass

misaligned_trap:
	la t6, trap_area
	ld a1, TA_MCAUSE(t6)
	ld a2, TA_MTVAL(t6)
	li a0, 36
	j test_fail
