/* SPDX-License-Identifier: MIT */
/*
 * pair_log: the pair's view of a log file, whole or trimmed: where its last
 * items lie, and the CRC-32C its Hello tells of them. A returning peer's log
 * is ours when its header and its last items are ours byte for byte: two
 * logs of one VM part only where one side took the guest over, and every
 * chunk after that point differs (each holds what its own host fed the
 * guest), so the last items of a log that went on past it cannot match.
 * The last items are also what a trimmed log still holds on both sides.
 */
#include "pair.h"
#include "hv/crc32c.h"
#include "hv/rr/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

void ft_log_tail_start(struct ft_log_tail *t, uint64_t header_bytes)
{
	memset(t, 0, sizeof(*t));
	t->header_bytes = t->end = t->first_off = header_bytes;
	t->items = t->first_item = 1;
}

void ft_log_tail_add(struct ft_log_tail *t, uint64_t item, uint64_t off, uint64_t len, uint64_t end_step)
{
	if (t->items == 1) {
		/* After a hole (a trimmed log), the first chunk may be any. */
		t->first_item = item;
		t->first_off = off;
	}
	t->off[item % FT_LOG_TAIL_ITEMS] = off;
	t->items = item + 1;
	t->end = off + len;
	t->end_step = end_step;
}

int ft_log_tail_scan(int fd, struct ft_log_tail *t, uint64_t max_items, struct rr_header *h, char *why,
		     size_t why_len)
{
	struct rr_header hh;
	struct rr_chunk c;
	int rc;

	memset(t, 0, sizeof(*t));
	why[0] = 0;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		return -errno;
	}
	struct rr_reader *r = rr_reader_open_fd(fd);
	if (!r) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	rr_reader_allow_trimmed(r);
	rc = rr_reader_read_header(r, h ? h : &hh, why, why_len);
	if (!rc) {
		/* The whole items: a torn or damaged tail ends the scan (why says how). */
		ft_log_tail_start(t, rr_reader_offset(r));
		while (t->items < max_items && rr_reader_next(r, &c, why, why_len) == 1)
			ft_log_tail_add(t, c.seq + 1, c.offset, rr_reader_offset(r) - c.offset, c.end_step);
	}
	rr_reader_close(r);
	return rc;
}

int ft_log_tail_crc(int fd, const struct ft_log_tail *t, uint64_t *from, uint32_t *crc)
{
	*from = 0;
	*crc = 0;
	if (!t->items)
		return 0;
	int rc = crc32c_file_range(fd, 0, t->header_bytes, crc);
	*from = t->items > FT_LOG_TAIL_ITEMS + 1 ? t->items - FT_LOG_TAIL_ITEMS : 1;
	if (*from < t->first_item)
		*from = t->first_item;
	/* Items a checkpoint trimmed since t was taken read as zeros: the CRC covers the ones after them. */
	for (uint8_t magic[4]; !rc && *from < t->items; ++*from) {
		uint64_t off = *from == t->first_item ? t->first_off : t->off[*from % FT_LOG_TAIL_ITEMS];
		ssize_t n = pread(fd, magic, sizeof(magic), (off_t)off);
		if (n < 0)
			rc = -errno;
		else if (n == sizeof(magic) && !memcmp(magic, RR_CHUNK_MAGIC, 4))
			break;
	}
	if (!rc && *from < t->items) {
		uint64_t off = *from == t->first_item ? t->first_off : t->off[*from % FT_LOG_TAIL_ITEMS];
		rc = crc32c_file_range(fd, off, t->end - off, crc);
	}
	return rc;
}

int ft_log_check(int fd, uint64_t have, uint64_t from, uint32_t want, struct ft_log_tail *t, char *why,
		 size_t why_len)
{
	uint32_t crc = 0;
	uint64_t off = 0;
	int rc = ft_log_tail_scan(fd, t, have, NULL, why, why_len);

	if (rc) {
		snprintf(why, why_len, "our own log could not be read back");
		return rc;
	}
	from = from ? from : 1;	/* a peer without trimmed logs: every item */
	if (t->items < have) {
		snprintf(why, why_len, "it holds more than this log (%" PRIu64 " items)", t->items);
		return 0;
	}
	if (from > have) {
		snprintf(why, why_len, "its check starts at item %" PRIu64 ", past its %" PRIu64 " items", from, have);
		return 0;
	}
	if (from < have) {
		if (from < t->first_item) {
			snprintf(why, why_len, "its check covers item %" PRIu64 " on, and this log was trimmed to start at "
				 "item %" PRIu64, from, t->first_item);
			return -ESTALE;
		}
		if (from == t->first_item)
			off = t->first_off;
		else if (have - from <= FT_LOG_TAIL_ITEMS)
			off = t->off[from % FT_LOG_TAIL_ITEMS];
		else {
			snprintf(why, why_len, "its check covers items %" PRIu64 " to %" PRIu64 ", more than a log's tail",
				 from, have - 1);
			return 0;
		}
	}
	rc = crc32c_file_range(fd, 0, t->header_bytes, &crc);
	if (!rc && from < have)
		rc = crc32c_file_range(fd, off, t->end - off, &crc);
	if (rc) {
		snprintf(why, why_len, "our own log could not be read back");
		return rc;
	}
	if (crc != want) {
		snprintf(why, why_len, "its bytes differ from this log's");
		return 0;
	}
	return 1;
}

int ft_log_hold(int fd)
{
	while (flock(fd, LOCK_SH) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}
