/* SPDX-License-Identifier: MIT */
/* loop: a bare-metal integer loop with a known instruction count, for guest MIPS on ftvm and QEMU. */
	.section .text.start
	.globl _start
_start:
	csrr	t0, mhartid
	bnez	t0, park
	li	a0, 100000000		/* iterations; 8 instructions each */
	li	a1, 0
	li	a2, 0x9e3779b9
1:	add	a1, a1, a2
	xor	a2, a2, a1
	slli	a3, a1, 7
	srli	a4, a2, 3
	sub	a1, a1, a4
	or	a2, a2, a3
	addi	a0, a0, -1
	bnez	a0, 1b
	li	t0, 0x100000
	li	t1, 0x5555
	sw	t1, 0(t0)
park:	wfi
	j	park
