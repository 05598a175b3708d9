/* SPDX-License-Identifier: MIT */
/* log_dump: 'ftvm log dump FILE' prints a replay log's header, chunks and events, and says how the log ends. */
#include "cli.h"

#include "hv/rr_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PREVIEW_BYTES 32

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm log dump FILE\n"
		"  Print a replay log (FILE or - for stdin): header, one line per chunk and per event,\n"
		"  and a summary. Exit 0 for a clean or truncated log, 2 for a corrupt or unreadable one.\n");
}

static void print_sha(const char *name, bool has, const uint8_t sha[32])
{
	printf("  %-14s", name);
	if (!has) {
		printf("-\n");
		return;
	}
	printf("sha256 ");
	for (int i = 0; i < 32; i++)
		printf("%02x", sha[i]);
	printf("\n");
}

/* Quoted, with C escapes for anything not printable ASCII. */
static void print_quoted(const uint8_t *s, size_t len, size_t max)
{
	putchar('"');
	for (size_t i = 0; i < len && i < max; i++) {
		uint8_t b = s[i];
		if (b == '\n')
			fputs("\\n", stdout);
		else if (b == '\r')
			fputs("\\r", stdout);
		else if (b == '\t')
			fputs("\\t", stdout);
		else if (b == '"' || b == '\\')
			printf("\\%c", b);
		else if (b >= 0x20 && b < 0x7f)
			putchar(b);
		else
			printf("\\x%02x", b);
	}
	putchar('"');
	if (len > max)
		fputs("...", stdout);
}

static void print_header(const char *path, const struct rr_header *h)
{
	printf("ftvm replay log %s, format %u.%u\n", path, h->major, h->minor);
	printf("  %-14s%" PRIu64 " bytes (%" PRIu64 " MiB)\n", "memory", h->mem_bytes, h->mem_bytes >> 20);
	printf("  %-14s%" PRIu32 "\n", "harts", h->smp);
	printf("  %-14s0x%" PRIx32 "%s%s\n", "flags", h->flags,
	       (h->flags & RR_FLAG_VIRTUAL_CLOCK) ? " virtual-clock" : "",
	       (h->flags & RR_FLAG_NO_FIRMWARE) ? " no-firmware" : "");
	print_sha("firmware", h->has_fw, h->fw_sha);
	print_sha("kernel", h->has_kernel, h->kernel_sha);
	print_sha("initrd", h->has_initrd, h->initrd_sha);
	print_sha("disk", h->has_disk, h->disk_sha);
	printf("  %-14s", "append");
	print_quoted((const uint8_t *)h->append, strlen(h->append), RR_APPEND_MAX);
	printf("\n  %-14s", "net");
	print_quoted((const uint8_t *)h->net, strlen(h->net), RR_NET_MAX);
	printf("\n  %-14s%" PRIu64 " steps\n", "digest every", h->digest_interval);
	printf("  %-14s", "vm id");
	print_quoted((const uint8_t *)h->vm_id, strlen(h->vm_id), RR_VM_ID_MAX);
	printf("\n");
}

static void print_event(const struct rr_event *ev)
{
	printf("    icount %-12" PRIu64 " %-10s ", ev->icount, rr_kind_name(ev->kind));
	switch (ev->kind) {
	case RR_CONSOLE_IN:
		printf("%zu bytes ", ev->len);
		print_quoted(ev->data, ev->len, PREVIEW_BYTES);
		break;
	case RR_NET_RX:
		printf("frame %zu bytes, ethertype 0x%04x", ev->len, (ev->data[12] << 8) | ev->data[13]);
		break;
	case RR_CLOCK:
		printf("anchor mtime %" PRIu64 ", rate_q32 %" PRIu64 " (ticks per step * 2^32)", ev->anchor_mtime, ev->rate_q32);
		break;
	case RR_DIGEST:
		for (int i = 0; i < 32; i++)
			printf("%02x", ev->digest[i]);
		break;
	case RR_CHECK:
		printf("%016" PRIx64, ev->check);
		break;
	case RR_END:
		printf("reason %" PRIu64 " (%s)", ev->end_reason, rr_end_reason_name(ev->end_reason));
		break;
	}
	printf("\n");
}

static int dump(const char *path, int fd)
{
	uint64_t per_kind[RR_END + 1] = { 0 }, events = 0, end_reason = 0, end_icount = 0;
	struct rr_reader *r = rr_reader_open_fd(fd);
	struct rr_header h;
	struct rr_chunk c;
	struct rr_event ev;
	struct rr_event_iter it;
	char err[512];
	int rc;

	if (!r) {
		fprintf(stderr, "ftvm log: out of memory\n");
		return FTVM_EXIT_USAGE;
	}
	rc = rr_reader_read_header(r, &h, err, sizeof(err));
	if (rc == -EAGAIN) {
		printf("summary: 0 chunks; truncated: %s\n", err);
		rr_reader_close(r);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "ftvm log: %s: %s\n", path, err);
		rr_reader_close(r);
		return FTVM_EXIT_USAGE;
	}
	print_header(path, &h);

	while ((rc = rr_reader_next(r, &c, err, sizeof(err))) == 1) {
		printf("chunk %" PRIu64 ": icount %" PRIu64 "..%" PRIu64 ", %" PRIu32 " events, %zu bytes at offset %" PRIu64 "\n",
		       c.seq, c.first_icount, c.end_icount, c.nevents, c.payload_len + RR_CHUNK_HEADER_BYTES, c.offset);
		rr_event_iter_init(&it, &c);
		while (rr_event_next(&it, &ev, err, sizeof(err)) == 1) {
			print_event(&ev);
			per_kind[ev.kind]++;
			events++;
			if (ev.kind == RR_END) {
				end_reason = ev.end_reason;
				end_icount = ev.icount;
			}
		}
	}

	printf("summary: %" PRIu64 " chunks, %" PRIu64 " events (", rr_reader_chunks(r), events);
	for (int k = RR_CONSOLE_IN; k <= RR_END; k++)
		printf("%s%s %" PRIu64, k == RR_CONSOLE_IN ? "" : ", ", rr_kind_name((enum rr_kind)k), per_kind[k]);
	printf("), %" PRIu64 " bytes; ", rr_reader_offset(r));

	int status = 0;
	switch (rr_reader_state(r)) {
	case RR_READER_EOF:
		if (rr_reader_saw_end(r))
			printf("ended cleanly (%s at icount %" PRIu64 ")\n", rr_end_reason_name(end_reason), end_icount);
		else
			printf("ends without an END event (recording still running or stopped abruptly)\n");
		break;
	case RR_READER_TRUNCATED:
		printf("truncated: %s\n", err);
		break;
	default:
		printf("%s: %s\n", rr_reader_state(r) == RR_READER_CORRUPT ? "corrupt" : "unreadable", err);
		status = FTVM_EXIT_USAGE;
		break;
	}
	rr_reader_close(r);
	return status;
}

int cli_log(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "dump")) {
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	const char *path = argv[2];
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0) {
		fprintf(stderr, "ftvm log: %s: %s\n", path, strerror(errno));
		return FTVM_EXIT_USAGE;
	}
	int status = dump(path, fd);
	if (fd != STDIN_FILENO)
		close(fd);
	if (fflush(stdout) && !status)
		status = FTVM_EXIT_HOST_ERROR;
	return status;
}
