/* SPDX-License-Identifier: MIT */
/* RV64I integer computation: add/sub, logic, shifts incl. *W forms, slt*, lui/auipc, sign extension. */
#include "common.h"
	TEST_NAME rv64i_alu

	.text
	.globl test_main
test_main:
	li a0, 0x7fffffffffffffff
	li a1, 1
	add a2, a0, a1
	CHECK 1, a2, 0x8000000000000000
	sub a2, zero, a1
	CHECK 2, a2, -1
	addi a2, a0, -1
	CHECK 3, a2, 0x7ffffffffffffffe
	addi a2, zero, -2048
	CHECK 4, a2, -2048
	addi a2, zero, 2047
	CHECK 5, a2, 2047

	/* *W forms sign-extend bit 31 of the 32-bit result (ISA 4.2). */
	li a0, 0x7fffffff
	addiw a2, a0, 1
	CHECK 6, a2, 0xffffffff80000000
	li a0, 0x123456789
	addiw a2, a0, 0
	CHECK 7, a2, 0x23456789
	li a0, 0xffffffff
	addw a2, a0, a1
	CHECK 8, a2, 0
	li a0, 0x80000000
	subw a2, a0, a1
	CHECK 9, a2, 0x7fffffff
	subw a2, zero, a0
	CHECK 10, a2, 0xffffffff80000000

	li a0, 0xff00ff00ff00ff00
	li a1, 0x0ff00ff00ff00ff0
	and a2, a0, a1
	CHECK 11, a2, 0x0f000f000f000f00
	or a2, a0, a1
	CHECK 12, a2, 0xfff0fff0fff0fff0
	xor a2, a0, a1
	CHECK 13, a2, 0xf0f0f0f0f0f0f0f0
	andi a2, a0, -256
	CHECK 14, a2, 0xff00ff00ff00ff00
	ori a2, a0, 0x0ff
	CHECK 15, a2, 0xff00ff00ff00ffff
	xori a2, a0, -1
	CHECK 16, a2, 0x00ff00ff00ff00ff

	/* RV64 shifts use 6 bits of the amount, *W shifts 5 bits. */
	li a0, 0x8000000000000001
	slli a2, a0, 63
	CHECK 17, a2, 0x8000000000000000
	srli a2, a0, 63
	CHECK 18, a2, 1
	srai a2, a0, 63
	CHECK 19, a2, -1
	srai a2, a0, 1
	CHECK 20, a2, 0xc000000000000000
	li a1, 65
	sll a2, a0, a1
	CHECK 21, a2, 2
	srl a2, a0, a1
	CHECK 22, a2, 0x4000000000000000
	sra a2, a0, a1
	CHECK 23, a2, 0xc000000000000000
	li a0, 0x00000000ffffffff
	slliw a2, a0, 31
	CHECK 24, a2, 0xffffffff80000000
	li a0, 0xffffffff80000000
	srliw a2, a0, 31
	CHECK 25, a2, 1
	sraiw a2, a0, 31
	CHECK 26, a2, -1
	li a0, 0x1234567880000000
	srliw a2, a0, 0
	CHECK 27, a2, 0xffffffff80000000
	li a1, 33
	sllw a2, a0, a1
	CHECK 28, a2, 0
	li a0, 1
	sllw a2, a0, a1
	CHECK 29, a2, 2
	li a0, 0x80000000
	li a1, 36
	srlw a2, a0, a1
	CHECK 30, a2, 0x08000000
	sraw a2, a0, a1
	CHECK 31, a2, 0xfffffffff8000000
	srliw a2, a0, 4
	CHECK 32, a2, 0x08000000

	/* Comparisons. */
	li a0, -1
	li a1, 1
	slt a2, a0, a1
	CHECK 33, a2, 1
	sltu a2, a0, a1
	CHECK 34, a2, 0
	slt a2, a1, a0
	CHECK 35, a2, 0
	sltu a2, a1, a0
	CHECK 36, a2, 1
	slti a2, a0, 0
	CHECK 37, a2, 1
	sltiu a2, a1, -1
	CHECK 38, a2, 1
	sltiu a2, zero, 1
	CHECK 39, a2, 1
	sltiu a2, a1, 1
	CHECK 40, a2, 0
	slt a2, a0, a0
	CHECK 41, a2, 0
	li a0, 0x8000000000000000
	slti a2, a0, -2048
	CHECK 42, a2, 1
	sltu a2, zero, a0
	CHECK 43, a2, 1

	/* lui sign-extends its 32-bit result; auipc adds to its own pc. */
	lui a2, 0x80000
	CHECK 44, a2, 0xffffffff80000000
	lui a2, 0x7ffff
	CHECK 45, a2, 0x7ffff000
	lui a2, 0xfffff
	CHECK 46, a2, 0xfffffffffffff000
1:	auipc a2, 0
	la a3, 1b
	CHECKR 47, a2, a3
2:	auipc a2, 1
	la a3, 2b
	sub a2, a2, a3
	CHECK 48, a2, 0x1000
3:	auipc a2, 0xfffff
	la a3, 3b
	sub a2, a3, a2
	CHECK 49, a2, 0x1000

	/* x0 stays zero. */
	addi zero, zero, 5
	li a2, 0
	CHECKR 50, zero, a2
	lui zero, 0x12345
	CHECKR 51, zero, a2

	/* Destination equal to a source. */
	li a0, 5
	add a0, a0, a0
	CHECK 52, a0, 10
	sub a0, a0, a0
	CHECK 53, a0, 0

	/* addiw/sext.w and large additions wrapping. */
	li a0, 0x00000000deadbeef
	sext.w a2, a0
	CHECK 54, a2, 0xffffffffdeadbeef
	li a0, 0xffffffffffffffff
	li a1, 0xffffffffffffffff
	add a2, a0, a1
	CHECK 55, a2, 0xfffffffffffffffe
	addw a2, a0, a1
	CHECK 56, a2, 0xfffffffffffffffe
	li a0, 0x7fffffff00000000
	addw a2, a0, zero
	CHECK 57, a2, 0
	j test_pass
