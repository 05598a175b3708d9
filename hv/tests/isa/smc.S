/* SPDX-License-Identifier: MIT */
/* Self-modifying code: code written by stores and FENCE.I'd is what runs next, also code that already ran (Zifencei). */
#include "common.h"
	TEST_NAME smc

	.text
	.globl test_main
test_main:
	/* A routine that already ran (translators have it cached) is rewritten, then run again. */
	li s1, 0
	li s2, 50
1:	jal ra, patch_me
	addi s1, s1, 1
	blt s1, s2, 1b
	CHECK 1, a0, 11

	la t0, patch_me
	li t1, 0x01600513		/* addi a0, zero, 22 */
	sw t1, 0(t0)
	fence.i
	jal ra, patch_me
	CHECK 2, a0, 22

	/* The same, with a compressed instruction rewritten by a halfword store. */
	jal ra, patch_c
	CHECK 3, a0, 5
	la t0, patch_c
	li t1, 0x4525			/* c.li a0, 9 */
	sh t1, 0(t0)
	fence.i
	jal ra, patch_c
	CHECK 4, a0, 9

	/* A loop that rewrites the next instruction of its own block each time round. */
	la t0, self_inc
	li s1, 0
	li a0, 0
	li s3, 0x00150513		/* addi a0, a0, 1 */
2:	sw s3, 0(t0)
	fence.i
	.option push
	.option norvc
self_inc:
	addi a0, a0, 100		/* replaced before it first runs */
	.option pop
	li t2, 0x00100000		/* +1 in the addi immediate (bit 20) */
	add s3, s3, t2
	addi s1, s1, 1
	li t3, 10
	blt s1, t3, 2b
	/* a0 = 1 + 2 + ... + 10 */
	CHECK 5, a0, 55

	/* Code built in data memory, then run. */
	la t0, buffer
	li t1, 0x02a00513		/* addi a0, zero, 42 */
	sw t1, 0(t0)
	li t1, 0x00008067		/* ret */
	sw t1, 4(t0)
	fence.i
	jalr ra, 0(t0)
	CHECK 6, a0, 42
	li t1, 0x03700513		/* addi a0, zero, 55 */
	sw t1, 0(t0)
	fence.i
	jalr ra, 0(t0)
	CHECK 7, a0, 55
	j test_pass

	.balign 4
	.option push
	.option norvc
patch_me:
	addi a0, zero, 11
	ret
	.option pop

	.balign 4
patch_c:
	.option push
	.option rvc
	c.li a0, 5
	.option pop
	ret

	.data
	.balign 4096
buffer:
	.space 64
