/* SPDX-License-Identifier: MIT */
/* check: the assertion macros every unit test shares; a failed check is counted and reported, the test goes on. */
#ifndef HV_TESTS_CHECK_H
#define HV_TESTS_CHECK_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int check_failures;

/* Ends a failure line: ": message" when the check gave one, else nothing. */
__attribute__((format(printf, 1, 2)))
static inline void check_note(const char *fmt, ...)
{
	va_list ap;

	if (strcmp(fmt, ": ")) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

/*
 * CHECK(cond) or CHECK(cond, "fmt", ...): on failure print file:line, the
 * condition and the message (a string literal first), count it, go on.
 */
#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: FAIL %s", __FILE__, __LINE__, #cond); \
			check_note(": " __VA_ARGS__);                          \
		}                                                              \
	} while (0)

/* CHECK_EQ(got, want, what): both as unsigned 64-bit integers, printed in hex and decimal. */
#define CHECK_EQ(got, want, what)                                              \
	do {                                                                   \
		uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);     \
		if (got_ != want_) {                                           \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: FAIL %s: got 0x%llx (%llu), want 0x%llx (%llu)\n", \
				__FILE__, __LINE__, (what), (unsigned long long)got_, \
				(unsigned long long)got_, (unsigned long long)want_, \
				(unsigned long long)want_);                    \
		}                                                              \
	} while (0)

/* The exit status of a test program: prints "name: ok" or the failure count. */
static inline int check_done(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif
