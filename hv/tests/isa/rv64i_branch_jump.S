/* SPDX-License-Identifier: MIT */
/* RV64I control transfer: every branch taken and not taken, forward and backward, jal/jalr links. */
#include "common.h"
	TEST_NAME rv64i_branch_jump

/* Check \n fails unless the forward branch is taken. */
.macro TAKEN n, op, x, y
	\op \x, \y, .Lt\@
	FAIL \n
.Lt\@:
.endm
/* Check \n fails if the forward branch is taken. */
.macro NOT_TAKEN n, op, x, y
	\op \x, \y, .Lf\@
	j .Ln\@
.Lf\@:	FAIL \n
.Ln\@:
.endm
/* Check \n fails unless the backward branch is taken. */
.macro TAKEN_BACK n, op, x, y
	j .Lb\@
.Lt\@:	j .Ln\@
.Lb\@:	\op \x, \y, .Lt\@
	FAIL \n
.Ln\@:
.endm

	.text
	.globl test_main
test_main:
	li s0, -1
	li s1, 1
	li s2, 1
	li s3, 0x8000000000000000
	TAKEN 1, beq, s1, s2
	NOT_TAKEN 2, beq, s0, s1
	TAKEN 3, bne, s0, s1
	NOT_TAKEN 4, bne, s1, s2
	TAKEN 5, blt, s0, s1
	NOT_TAKEN 6, blt, s1, s0
	NOT_TAKEN 7, blt, s1, s2
	TAKEN 8, bge, s1, s0
	TAKEN 9, bge, s1, s2
	NOT_TAKEN 10, bge, s0, s1
	TAKEN 11, bltu, s1, s0
	NOT_TAKEN 12, bltu, s0, s1
	NOT_TAKEN 13, bltu, s1, s2
	TAKEN 14, bgeu, s0, s1
	TAKEN 15, bgeu, s1, s2
	NOT_TAKEN 16, bgeu, s1, s0
	TAKEN 17, blt, s3, s0
	NOT_TAKEN 18, bltu, s0, s3
	TAKEN 19, bltu, s3, s0
	TAKEN 20, bge, s0, s3
	TAKEN 21, beq, zero, zero
	NOT_TAKEN 22, bne, zero, zero
	TAKEN_BACK 23, beq, s1, s2
	TAKEN_BACK 24, bne, s0, s1
	TAKEN_BACK 25, blt, s0, s1
	TAKEN_BACK 26, bge, s1, s0
	TAKEN_BACK 27, bltu, s1, s0
	TAKEN_BACK 28, bgeu, s0, s1
	/* Comparisons against x0 (the bgtz/bltz/beqz forms). */
	TAKEN 29, blt, zero, s1
	NOT_TAKEN 30, blt, s1, zero
	TAKEN 31, blt, s0, zero
	TAKEN 32, bge, zero, zero

	/* jal links pc + 4. */
	jal ra, 1f
2:	FAIL 33
1:	la t0, 2b
	CHECKR 34, ra, t0
	jal zero, 3f
	FAIL 35
3:	/* jalr target = (rs1 + imm) & ~1, link pc + 4. */
	la t0, 4f
	addi t0, t0, -3
	jalr s4, 3(t0)
5:	FAIL 36
4:	la t1, 5b
	CHECKR 37, s4, t1
	la t0, 6f
	addi t0, t0, 1
	jalr s4, 0(t0)		/* lsb set: cleared */
	FAIL 38
6:	/* rd == rs1: target uses the old value. */
	la t0, 7f
	jalr t0, 0(t0)
8:	FAIL 39
7:	la t1, 8b
	CHECKR 40, t0, t1
	/* Backward jal and jalr with negative offset. */
	j 10f
9:	j 11f
10:	jal ra, 9b
	FAIL 41
11:	la t0, 13f
	addi t0, t0, 16
	jalr ra, -16(t0)
	FAIL 42
13:	/* Call and return. */
	call leaf
	CHECK 43, a0, 0x55
	j test_pass

leaf:
	li a0, 0x55
	ret
