// SPDX-License-Identifier: MIT
// cpubench: a deterministic CPU workload (integer mixing, a sort, CRC-32, some FP) for guest timing.
//
// Usage: cpubench [ITERATIONS]   (default CPUBENCH_DEFAULT_ITERS; one iteration is ~100 k RV64
// instructions, measured with QEMU -icount shift=0, so the default is ~2 G)
// Prints "cpubench: iterations=N checksum=X elapsed_us=T".  The checksum depends only
// on N: the same value on any correct RV64GC machine and on the host (build with
// -ffp-contract=off so no fused multiply-add changes FP rounding), which makes it a
// check of the emulator as well as a benchmark.
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32.h"

#define CPUBENCH_DEFAULT_ITERS 20000
#define SORT_WORDS 256
#define MIX_ROUNDS 512
#define CRC_BYTES 4096
#define FP_STEPS 64

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t mix(uint64_t *state)
{
	uint64_t acc = 0;

	for (int i = 0; i < MIX_ROUNDS; i++) {
		uint64_t v = splitmix64(state);

		acc ^= (v << (i & 31)) | (v >> (64 - (i & 31) - 1));
		acc += v / ((v & 0xffff) | 1); /* exercise the divider */
	}
	return acc;
}

static void sift_down(uint32_t *a, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		uint32_t t;

		if (child >= n)
			return;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[root] >= a[child])
			return;
		t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

static void heap_sort(uint32_t *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = a[0];

		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end);
	}
}

static uint64_t sort_step(uint64_t *state)
{
	uint32_t a[SORT_WORDS];
	uint64_t acc = 0;

	for (size_t i = 0; i < SORT_WORDS; i += 2) {
		uint64_t v = splitmix64(state);

		a[i] = (uint32_t)v;
		a[i + 1] = (uint32_t)(v >> 32);
	}
	heap_sort(a, SORT_WORDS);
	for (size_t i = 0; i < SORT_WORDS; i++) {
		if (i && a[i - 1] > a[i])
			return 0; /* a broken sort shows up as a different checksum */
		acc = acc * 31 + a[i];
	}
	return acc;
}

static uint64_t crc_step(uint64_t *state, uint8_t *buf)
{
	uint64_t v = splitmix64(state);

	/* Refresh a slice so the CRC input differs every iteration. */
	for (size_t i = 0; i < 64; i++) {
		size_t off = (size_t)((v >> (i & 7)) + i * 61) % (CRC_BYTES - 8);

		memcpy(buf + off, &v, 8);
		v = v * 6364136223846793005ull + 1442695040888963407ull;
	}
	return domt_crc32((uint32_t)v, buf, CRC_BYTES);
}

static uint64_t fp_step(uint64_t *state)
{
	double x = (double)(splitmix64(state) >> 11) / 9007199254740992.0 + 0.5;
	double y = 1.0, s = 0.0;
	uint64_t bits;

	for (int i = 0; i < FP_STEPS; i++) {
		y = 0.5 * (y + x / y); /* Newton towards sqrt(x) */
		s += sqrt(x + i) * 0.25 - y / (i + 1.0);
		x = x * 1.0009765625 + 0.001;
	}
	s += (double)(int64_t)(s * 1e6) * 1e-9;
	memcpy(&bits, &s, sizeof(bits));
	return bits;
}

int main(int argc, char **argv)
{
	long long iters = CPUBENCH_DEFAULT_ITERS;
	static uint8_t buf[CRC_BYTES];
	struct timespec t0, t1;
	uint64_t state = 0x6674766d2d646f6dull, sum = 0;
	long long elapsed_us;
	char *end;

	if (argc > 1) {
		iters = strtoll(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end || iters < 0) {
			fprintf(stderr, "usage: cpubench [ITERATIONS]\n");
			return 2;
		}
	}
	for (size_t i = 0; i < CRC_BYTES; i++)
		buf[i] = (uint8_t)(i * 7 + 3);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long long i = 0; i < iters; i++) {
		sum = (sum << 7 | sum >> 57) ^ mix(&state);
		sum += sort_step(&state);
		sum ^= crc_step(&state, buf) << (i & 31);
		sum += fp_step(&state);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	elapsed_us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
	printf("cpubench: iterations=%lld checksum=%016" PRIx64 " elapsed_us=%lld\n", iters, sum,
	       elapsed_us);
	return 0;
}
