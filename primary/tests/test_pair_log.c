/* SPDX-License-Identifier: MIT */
/*
 * test_pair_log: what a Hello tells of a log (primary/pair_log.c) and the
 * check of it against another: a whole log's CRC is the one an older ftvm
 * sent; a log's own tail and any prefix of it match; a log that went on
 * past a fork does not; a log trimmed past the tail's start says so
 * (-ESTALE); a tail taken before a trim leaves the trimmed items out.
 */
#include "primary/pair.h"
#include "hv/crc32c.h"
#include "hv/rr/log.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ITEMS 201	/* the header and 200 chunks */

/* A log of ITEMS items in a fresh memfd: chunk k holds console input tag[k]; offs[i]: where item i starts. */
static int make_log(const char *tag, uint64_t offs[ITEMS + 1])
{
	struct rr_header h = { .mem_bytes = 16ull << 20, .smp = 1 };
	struct rr_chunk_writer *w = rr_chunk_writer_new(0, 0);
	uint8_t buf[4096];
	const uint8_t *out;
	size_t len;
	int fd = memfd_create("log", 0);

	CHECK(fd >= 0 && w && rr_header_encode(&h, buf, sizeof(buf), &len) == 0 && write(fd, buf, len) == (ssize_t)len,
	      "make a log");
	offs[0] = 0;
	offs[1] = len;
	for (int k = 0; k < ITEMS - 1; k++) {
		uint8_t data[2] = { (uint8_t)tag[k], '\n' };
		struct rr_event e = { .kind = RR_CONSOLE_IN, .step = 1000ull * k + 10, .data = data, .len = 2 };
		CHECK(rr_chunk_writer_add(w, &e) == 0 && rr_chunk_writer_finish(w, 1000ull * (k + 1), &out, &len) == 0 &&
		      write(fd, out, len) == (ssize_t)len, "chunk %d", k);
		offs[k + 2] = offs[k + 1] + len;
	}
	rr_chunk_writer_free(w);
	return fd;
}

/* Punch the items before item out of fd's log, as rr_log_trim does. */
static void trim_to(int fd, const uint64_t offs[], uint64_t item)
{
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offs[1], (off_t)(offs[item] - offs[1])) == 0,
	      "punch the log to item %llu", (unsigned long long)item);
}

int main(void)
{
	char a_tags[ITEMS], b_tags[ITEMS], why[512];
	uint64_t offs_a[ITEMS + 1], offs_b[ITEMS + 1], from, from2;
	uint32_t crc, crc2, whole;
	struct ft_log_tail t, u;

	for (int k = 0; k < ITEMS; k++)
		a_tags[k] = b_tags[k] = (char)('a' + k % 26);
	for (int k = 149; k < ITEMS; k++)
		b_tags[k] = 'X';	/* b is a's first 150 items, then its own: a fork at item 150 */
	int a = make_log(a_tags, offs_a), b = make_log(b_tags, offs_b);

	/* A whole log's tail: the last 64 items, and its CRC checks against itself. */
	CHECK(ft_log_tail_scan(a, &t, UINT64_MAX, NULL, why, sizeof(why)) == 0 && t.items == ITEMS && t.first_item == 1 &&
	      t.end == offs_a[ITEMS], "scan: %llu items from %llu, end %llu: %s", (unsigned long long)t.items,
	      (unsigned long long)t.first_item, (unsigned long long)t.end, why);
	CHECK(ft_log_tail_crc(a, &t, &from, &crc) == 0 && from == ITEMS - FT_LOG_TAIL_ITEMS, "tail from %llu",
	      (unsigned long long)from);
	CHECK(ft_log_check(a, ITEMS, from, crc, &u, why, sizeof(why)) == 1, "a's own tail: %s", why);
	/* Few items: the CRC covers them all, as a whole-log CRC (what an older ftvm sends). */
	CHECK(ft_log_tail_scan(a, &t, 40, NULL, why, sizeof(why)) == 0 && t.items == 40, "scan 40");
	CHECK(ft_log_tail_crc(a, &t, &from, &crc) == 0 && from == 1 && crc32c_file_prefix(a, offs_a[40], &whole) == 0 &&
	      crc == whole, "a short log's CRC is its whole bytes' (from %llu)", (unsigned long long)from);
	CHECK(ft_log_check(b, 40, 0, whole, &u, why, sizeof(why)) == 1, "a whole-log CRC (from 0) checks: %s", why);
	/* A prefix of a before the fork is b's too; a's log past the fork is not. */
	CHECK(ft_log_tail_scan(a, &t, 140, NULL, why, sizeof(why)) == 0 && ft_log_tail_crc(a, &t, &from, &crc) == 0,
	      "tail of 140");
	CHECK(ft_log_check(b, 140, from, crc, &u, why, sizeof(why)) == 1 && u.end == offs_b[140],
	      "a's first 140 items are b's: %s", why);
	CHECK(ft_log_tail_scan(a, &t, 180, NULL, why, sizeof(why)) == 0 && ft_log_tail_crc(a, &t, &from, &crc) == 0,
	      "tail of 180");
	CHECK(ft_log_check(b, 180, from, crc, &u, why, sizeof(why)) == 0 && strstr(why, "differ"),
	      "a's 180 items, past the fork, are not b's: %s", why);
	CHECK(ft_log_check(b, ITEMS + 1, from, crc, &u, why, sizeof(why)) == 0 && strstr(why, "more than"),
	      "more items than b holds: %s", why);
	CHECK(ft_log_check(b, 100, 120, crc, &u, why, sizeof(why)) == 0, "a check that starts past its items: %s", why);

	/* b trimmed to item 70: a tail from item 77 still checks; a whole-log CRC, or one from item 60, cannot. */
	CHECK(ft_log_tail_scan(a, &t, ITEMS - 60, NULL, why, sizeof(why)) == 0 && ft_log_tail_crc(a, &t, &from, &crc) == 0 &&
	      from == ITEMS - 60 - FT_LOG_TAIL_ITEMS, "tail of %d", ITEMS - 60);
	trim_to(b, offs_b, 70);
	CHECK(ft_log_tail_scan(b, &u, UINT64_MAX, NULL, why, sizeof(why)) == 0 && u.first_item == 70 &&
	      u.first_off == offs_b[70] && u.items == ITEMS, "trimmed b: first item %llu", (unsigned long long)u.first_item);
	CHECK(ft_log_check(b, ITEMS - 60, from, crc, &u, why, sizeof(why)) == 1, "a tail within trimmed b: %s", why);
	CHECK(ft_log_check(b, 40, 0, whole, &u, why, sizeof(why)) == -ESTALE, "a whole-log CRC on trimmed b: %s", why);
	CHECK(ft_log_check(b, 90, 60, crc, &u, why, sizeof(why)) == -ESTALE, "a tail b was trimmed of: %s", why);

	/* A tail taken before a trim that reached into it covers only what is left, as a fresh scan's does. */
	CHECK(ft_log_tail_scan(a, &t, UINT64_MAX, NULL, why, sizeof(why)) == 0, "scan a");
	trim_to(a, offs_a, 170);
	CHECK(ft_log_tail_crc(a, &t, &from, &crc) == 0 && from == 170, "stale tail from %llu", (unsigned long long)from);
	CHECK(ft_log_tail_scan(a, &u, UINT64_MAX, NULL, why, sizeof(why)) == 0 && ft_log_tail_crc(a, &u, &from2, &crc2) == 0 &&
	      from2 == 170 && crc2 == crc, "fresh tail from %llu, CRCs %08x %08x", (unsigned long long)from2, crc2, crc);
	close(a);
	close(b);
	return check_done("test_pair_log");
}
