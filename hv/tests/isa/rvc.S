/* SPDX-License-Identifier: MIT */
/* RVC: explicit c.* encodings (ISA chapter 16) checked for results, links and the c.ebreak trap. */
#include "common.h"
	TEST_NAME rvc

	.data
	.balign 16
buf:	.dword 0x8877665544332211, 0xf0debc9a78563412, 0x3ff8000000000000, 0
	.skip 512
sp_area:
	.skip 64

	.text
	.option push
	.option rvc
	.globl test_main
test_main:
	c.li a0, -32
	CHECK 1, a0, -32
	c.li a0, 31
	CHECK 2, a0, 31
	c.lui a1, 0xfffe0		/* nzimm[17:12] = 0x20: negative */
	CHECK 3, a1, 0xfffffffffffe0000
	c.lui a1, 1
	CHECK 4, a1, 0x1000
	c.addi a0, -1
	CHECK 5, a0, 30
	c.li a2, 0
	c.addi a2, 31
	CHECK 6, a2, 31
	li a3, 0x7fffffff
	c.addiw a3, 1
	CHECK 7, a3, 0xffffffff80000000
	li a3, 0x100000005
	c.addiw a3, 0		/* sext.w */
	CHECK 8, a3, 5
	c.mv a4, a3
	CHECK 9, a4, 5
	c.add a4, a0
	CHECK 10, a4, 35
	li s0, 0xff00
	li s1, 0x0ff0
	c.and s0, s1
	CHECK 11, s0, 0x0f00
	li s0, 0xff00
	c.or s0, s1
	CHECK 12, s0, 0xfff0
	li s0, 0xff00
	c.xor s0, s1
	CHECK 13, s0, 0xf0f0
	li s0, 0xff00
	c.sub s0, s1
	CHECK 14, s0, 0xef10
	li s0, 0x7fffffff
	li s1, 1
	c.addw s0, s1
	CHECK 15, s0, 0xffffffff80000000
	li s0, 0
	c.subw s0, s1
	CHECK 16, s0, -1
	li a5, 0x8000000000000001
	c.slli a5, 1
	CHECK 17, a5, 2
	li a5, 0x8000000000000000
	c.srli a5, 63
	CHECK 18, a5, 1
	li a5, 0x8000000000000000
	c.srai a5, 60
	CHECK 19, a5, 0xfffffffffffffff8
	li a5, 0x1234
	c.andi a5, -16
	CHECK 20, a5, 0x1230
	li a5, 0x1234
	c.andi a5, 0xf
	CHECK 21, a5, 4
	c.nop

	/* Stack-pointer forms. */
	mv s2, sp
	la sp, sp_area
	c.addi16sp sp, -496
	la t0, sp_area
	addi t0, t0, -496
	CHECKR 22, sp, t0
	c.addi16sp sp, 496
	c.addi4spn a0, sp, 8
	la t0, sp_area
	addi t0, t0, 8
	CHECKR 23, a0, t0
	c.addi4spn a0, sp, 1020
	addi t0, t0, 1012
	CHECKR 24, a0, t0
	addi sp, sp, -256
	li a1, 0x0123456789abcdef
	c.sdsp a1, 248(sp)
	c.swsp a1, 252(sp)	/* overwrites the upper half */
	c.ldsp a2, 248(sp)
	CHECK 25, a2, 0x89abcdef89abcdef
	c.lwsp a2, 248(sp)
	CHECK 26, a2, 0xffffffff89abcdef
	c.sdsp zero, 0(sp)
	c.ldsp a2, 0(sp)
	CHECK 27, a2, 0
	li a1, 0x3ff0000000000000
	fmv.d.x f1, a1
	c.fsdsp f1, 16(sp)
	c.fldsp f2, 16(sp)
	CHECKF 28, f2, 0x3ff0000000000000
	mv sp, s2

	/* Register-based loads and stores (x8-x15). */
	la s0, buf
	c.lw a0, 4(s0)
	CHECK 29, a0, 0xffffffff88776655
	c.ld a0, 8(s0)
	CHECK 30, a0, 0xf0debc9a78563412
	c.fld f8, 16(s0)
	CHECKF 31, f8, 0x3ff8000000000000
	li a1, 0x1111222233334444
	c.sd a1, 24(s0)
	c.sw a0, 28(s0)
	ld a2, 24(s0)
	CHECK 32, a2, 0x7856341233334444
	c.fsd f8, 24(s0)
	ld a2, 24(s0)
	CHECK 33, a2, 0x3ff8000000000000

	/* Control transfer. */
	li s1, 0
	c.beqz s1, 1f
	FAIL 34
1:	c.bnez s1, 2f
	j 3f
2:	FAIL 35
3:	li s1, 5
	c.bnez s1, 4f
	FAIL 36
4:	c.beqz s1, 5f
	c.j 6f
5:	FAIL 37
7:	c.j 8f			/* backward c.j target */
6:	c.j 7b
	FAIL 38
8:	la t0, 9f
	c.jr t0
	FAIL 39
9:	la t0, 10f
	c.jalr t0		/* ra = pc + 2 */
11:	FAIL 40
10:	la t1, 11b
	CHECKR 41, ra, t1
	la t0, 12f
	c.jalr t0
	j 13f
12:	c.jr ra			/* c.ret */
	FAIL 42
13:	/* c.ebreak: cause 3, mepc the c.ebreak itself. */
	M_RESUME 14f
15:	c.ebreak
	FAIL 43
14:	CHECK_TA 44, TA_MCAUSE, 3
	CHECK_TA_ADDR 45, TA_MEPC, 15b
	/* The all-zero halfword is defined illegal (ISA 16.6), mtval = 0 */
	M_RESUME 16f
17:	.2byte 0
	FAIL 46
16:	CHECK_TA 47, TA_MCAUSE, 2
	CHECK_TA_ADDR 48, TA_MEPC, 17b
	/* Compressed and 32-bit code mixed at 2-byte alignment. */
	.balign 4
	c.nop
	.option push
	.option norvc
	addi a0, zero, 7	/* 32-bit instruction at pc % 4 == 2 */
	.option pop
	c.addi a0, 1
	CHECK 49, a0, 8
	j test_pass
	.option pop
