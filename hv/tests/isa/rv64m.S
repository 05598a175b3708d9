/* SPDX-License-Identifier: MIT */
/* RV64M: multiply high/low, signed and unsigned division, *W forms, divide by zero and overflow (ISA 7.2). */
#include "common.h"
	TEST_NAME rv64m

	.text
	.globl test_main
test_main:
	li s0, -1
	li s1, 0x8000000000000000
	li s2, 0x7fffffffffffffff
	li s3, 3
	li s4, -7

	mul a0, s3, s4
	CHECK 1, a0, -21
	mul a0, s2, s2
	CHECK 2, a0, 1
	mulh a0, s2, s2
	CHECK 3, a0, 0x3fffffffffffffff
	mulh a0, s1, s1
	CHECK 4, a0, 0x4000000000000000
	mulh a0, s0, s0
	CHECK 5, a0, 0
	mulh a0, s1, s3
	CHECK 6, a0, -2
	mulhu a0, s0, s0
	CHECK 7, a0, 0xfffffffffffffffe
	mulhu a0, s1, s3
	CHECK 8, a0, 1
	mulhsu a0, s0, s0
	CHECK 9, a0, -1
	mulhsu a0, s3, s0
	CHECK 10, a0, 2
	mulhsu a0, s1, s0
	CHECK 11, a0, 0x8000000000000000
	mulhsu a0, s4, s3
	CHECK 12, a0, -1
	li a1, 0x123456789abcdef0
	li a2, 0x0fedcba987654321
	mul a0, a1, a2
	CHECK 13, a0, 0x2236d88fe5618cf0
	mulhu a0, a1, a2
	CHECK 14, a0, 0x0121fa00ad77d742
	mulw a0, a1, a2
	CHECK 15, a0, 0xffffffffe5618cf0
	li a1, 0x7fffffff
	mulw a0, a1, a1
	CHECK 16, a0, 1
	li a1, 0x10000
	mulw a0, a1, a1
	CHECK 17, a0, 0

	div a0, s4, s3
	CHECK 18, a0, -2
	rem a0, s4, s3
	CHECK 19, a0, -1
	li a1, 7
	li a2, -3
	div a0, a1, a2
	CHECK 20, a0, -2
	rem a0, a1, a2
	CHECK 21, a0, 1
	divu a0, s0, s3
	CHECK 22, a0, 0x5555555555555555
	remu a0, s0, s3
	CHECK 23, a0, 0
	divu a0, s4, s3
	CHECK 24, a0, 0x5555555555555553
	remu a0, s4, s3
	CHECK 25, a0, 0
	/* Division by zero: quotient all ones, remainder the dividend. */
	div a0, s4, zero
	CHECK 26, a0, -1
	divu a0, s4, zero
	CHECK 27, a0, -1
	rem a0, s4, zero
	CHECK 28, a0, -7
	remu a0, s4, zero
	CHECK 29, a0, -7
	/* Signed overflow: quotient the dividend, remainder zero. */
	div a0, s1, s0
	CHECK 30, a0, 0x8000000000000000
	rem a0, s1, s0
	CHECK 31, a0, 0

	/* W forms operate on the low 32 bits and sign-extend. */
	li a1, 0x12345678fffffff9
	li a2, 0xabcdef0000000003
	divw a0, a1, a2
	CHECK 32, a0, -2
	remw a0, a1, a2
	CHECK 33, a0, -1
	divuw a0, a1, a2
	CHECK 34, a0, 0x55555553
	remuw a0, a1, a2
	CHECK 35, a0, 0
	li a1, 0x80000000
	divuw a0, s0, a1
	CHECK 36, a0, 1
	remuw a0, s0, a1
	CHECK 37, a0, 0x7fffffff
	divuw a0, a1, s3
	CHECK 38, a0, 0x2aaaaaaa
	divw a0, a1, zero
	CHECK 39, a0, -1
	divuw a0, a1, zero
	CHECK 40, a0, -1
	remw a0, a1, zero
	CHECK 41, a0, 0xffffffff80000000
	remuw a0, a1, zero
	CHECK 42, a0, 0xffffffff80000000
	divw a0, a1, s0
	CHECK 43, a0, 0xffffffff80000000
	remw a0, a1, s0
	CHECK 44, a0, 0
	li a1, 0xffffffff00000005
	li a2, 2
	divw a0, a1, a2
	CHECK 45, a0, 2
	remuw a0, a1, a2
	CHECK 46, a0, 1
	j test_pass
