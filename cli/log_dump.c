/* SPDX-License-Identifier: MIT */
/* log_dump: 'ftvm log dump FILE' prints a replay log's header, chunks and events, and says how the log ends. */
#include "cli/cli.h"

#include "hv/rr/log.h"

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
		"usage: ftvm log dump [--json] FILE\n"
		"  Print a replay log (FILE or - for stdin): header, one line per chunk and per event,\n"
		"  and a summary. --json prints JSON Lines instead: one object per header, chunk and\n"
		"  event, each with a \"type\", then a \"summary\".\n"
		"  Exit 0 for a clean or truncated log, 2 for bad usage, a corrupt or unreadable log, or a\n"
		"  header with values no machine can have (as replay refuses it).\n"
		"       ftvm log trim FILE --from SNAP\n"
		"  Free the part of a log before a snapshot's place (ftvm log trim --help).\n");
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
	printf("  %-14s%s\n", "digest hash", h->digest_hash == RR_DIGEST_HASH_XXH3 ? "xxh3 (XXH3-128, 16 bytes)" : "sha256");
	printf("  %-14s", "vm id");
	print_quoted((const uint8_t *)h->vm_id, strlen(h->vm_id), RR_VM_ID_MAX);
	printf("\n");
}

/* What replay would refuse in a header that decodes: the limits rr_header_check applies (image.c). */
static bool header_problem(const struct rr_header *h, char *buf, size_t len)
{
	if (h->smp < 1 || h->smp > HV_MAX_HARTS)
		snprintf(buf, len, "header field harts (smp) is %" PRIu32 ": a machine has 1 to %d harts; "
			 "replay refuses this log", h->smp, HV_MAX_HARTS);
	else if (h->mem_bytes < HV_MIN_MEM_BYTES || h->mem_bytes > HV_MAX_MEM_BYTES || h->mem_bytes % 4096)
		snprintf(buf, len, "header field memory (mem_bytes) is %" PRIu64 ": between 16M and 64G, a "
			 "multiple of 4K; replay refuses this log", h->mem_bytes);
	else
		return false;
	return true;
}

static void print_event(const struct rr_event *ev)
{
	printf("    step %-12" PRIu64 " %-10s ", ev->step, rr_kind_name(ev->kind));
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

static void json_sha(const char *name, bool has, const uint8_t sha[32])
{
	printf(",\"%s\":", name);
	if (has)
		cli_json_hex(stdout, sha, 32);
	else
		printf("null");
}

static void json_header(const char *path, const struct rr_header *h)
{
	printf("{\"type\":\"header\",\"path\":");
	cli_json_str(stdout, path);
	printf(",\"format\":\"%u.%u\",\"mem_bytes\":%" PRIu64 ",\"harts\":%" PRIu32 ",\"flags\":%" PRIu32
	       ",\"virtual_clock\":%s,\"no_firmware\":%s", h->major, h->minor, h->mem_bytes, h->smp, h->flags,
	       (h->flags & RR_FLAG_VIRTUAL_CLOCK) ? "true" : "false",
	       (h->flags & RR_FLAG_NO_FIRMWARE) ? "true" : "false");
	json_sha("firmware_sha256", h->has_fw, h->fw_sha);
	json_sha("kernel_sha256", h->has_kernel, h->kernel_sha);
	json_sha("initrd_sha256", h->has_initrd, h->initrd_sha);
	json_sha("disk_sha256", h->has_disk, h->disk_sha);
	printf(",\"append\":");
	cli_json_str(stdout, h->append);
	printf(",\"net\":");
	cli_json_str(stdout, h->net);
	printf(",\"digest_interval\":%" PRIu64 ",\"digest_hash\":\"%s\",\"vm_id\":", h->digest_interval,
	       h->digest_hash == RR_DIGEST_HASH_XXH3 ? "xxh3" : "sha256");
	cli_json_str(stdout, h->vm_id);
	printf("}\n");
}

static void json_event(const struct rr_chunk *c, const struct rr_event *ev)
{
	printf("{\"type\":\"event\",\"chunk\":%" PRIu64 ",\"step\":%" PRIu64 ",\"kind\":\"%s\"", c->seq,
	       ev->step, rr_kind_name(ev->kind));
	switch (ev->kind) {
	case RR_CONSOLE_IN:
		printf(",\"bytes\":%zu,\"data\":", ev->len);
		cli_json_bytes(stdout, ev->data, ev->len);
		break;
	case RR_NET_RX:
		printf(",\"bytes\":%zu,\"ethertype\":%u", ev->len, (ev->data[12] << 8) | ev->data[13]);
		break;
	case RR_CLOCK:
		printf(",\"anchor_mtime\":%" PRIu64 ",\"rate_q32\":%" PRIu64, ev->anchor_mtime, ev->rate_q32);
		break;
	case RR_DIGEST:
		printf(",\"digest\":");
		cli_json_hex(stdout, ev->digest, 32);
		break;
	case RR_CHECK:
		printf(",\"check\":\"%016" PRIx64 "\"", ev->check);
		break;
	case RR_END:
		printf(",\"reason\":%" PRIu64 ",\"reason_name\":\"%s\"", ev->end_reason,
		       rr_end_reason_name(ev->end_reason));
		break;
	}
	printf("}\n");
}

static int dump(const char *path, int fd, bool json)
{
	uint64_t per_kind[RR_END + 1] = { 0 }, events = 0, end_reason = 0, end_step = 0;
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
	if (rc == -EAGAIN && json) {
		printf("{\"type\":\"summary\",\"chunks\":0,\"events\":0,\"state\":\"truncated\",\"detail\":");
		cli_json_str(stdout, err);
		printf("}\n");
		rr_reader_close(r);
		return 0;
	}
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
	if (json)
		json_header(path, &h);
	else
		print_header(path, &h);
	char problem[256];
	bool bad_header = header_problem(&h, problem, sizeof(problem));
	if (bad_header && !json)
		printf("  %-14s%s\n", "INVALID", problem);

	rr_reader_allow_trimmed(r);
	while ((rc = rr_reader_next(r, &c, err, sizeof(err))) == 1) {
		if (!json && rr_reader_chunks(r) == 1 && rr_reader_hole_bytes(r))
			printf("trimmed: %" PRIu64 " zero bytes after the header (ftvm log trim); the log starts at "
			       "chunk %" PRIu64 ", step %" PRIu64 "\n", rr_reader_hole_bytes(r), c.seq, c.first_step);
		if (json)
			printf("{\"type\":\"chunk\",\"seq\":%" PRIu64 ",\"first_step\":%" PRIu64 ",\"end_step\":%" PRIu64
			       ",\"events\":%" PRIu32 ",\"bytes\":%zu,\"offset\":%" PRIu64 "}\n", c.seq, c.first_step,
			       c.end_step, c.nevents, c.payload_len + RR_CHUNK_HEADER_BYTES, c.offset);
		else
			printf("chunk %" PRIu64 ": step %" PRIu64 "..%" PRIu64 ", %" PRIu32 " events, %zu bytes at offset %" PRIu64 "\n",
		       c.seq, c.first_step, c.end_step, c.nevents, c.payload_len + RR_CHUNK_HEADER_BYTES, c.offset);
		rr_event_iter_init(&it, &c);
		while (rr_event_next(&it, &ev, err, sizeof(err)) == 1) {
			if (json)
				json_event(&c, &ev);
			else
				print_event(&ev);
			per_kind[ev.kind]++;
			events++;
			if (ev.kind == RR_END) {
				end_reason = ev.end_reason;
				end_step = ev.step;
			}
		}
	}

	const char *state, *detail = err;
	int status = 0;
	switch (rr_reader_state(r)) {
	case RR_READER_EOF:
		state = rr_reader_saw_end(r) ? "clean" : "no-end";
		detail = "";
		break;
	case RR_READER_TRUNCATED:
		state = "truncated";
		break;
	default:
		state = rr_reader_state(r) == RR_READER_CORRUPT ? "corrupt" : "unreadable";
		status = FTVM_EXIT_USAGE;
		break;
	}
	if (bad_header)
		status = FTVM_EXIT_USAGE;
	if (json) {
		printf("{\"type\":\"summary\",\"chunks\":%" PRIu64 ",\"events\":%" PRIu64 ",\"per_kind\":{",
		       rr_reader_chunks(r), events);
		for (int k = RR_CONSOLE_IN; k <= RR_END; k++)
			printf("%s\"%s\":%" PRIu64, k == RR_CONSOLE_IN ? "" : ",", rr_kind_name((enum rr_kind)k), per_kind[k]);
		printf("},\"bytes\":%" PRIu64 ",\"trimmed_bytes\":%" PRIu64 ",\"state\":\"%s\"", rr_reader_offset(r),
		       rr_reader_hole_bytes(r), state);
		if (bad_header) {
			printf(",\"header_problem\":");
			cli_json_str(stdout, problem);
		}
		if (rr_reader_saw_end(r))
			printf(",\"end_reason\":\"%s\",\"end_step\":%" PRIu64, rr_end_reason_name(end_reason), end_step);
		printf(",\"detail\":");
		cli_json_str(stdout, detail);
		printf("}\n");
		rr_reader_close(r);
		return status;
	}
	printf("summary: %" PRIu64 " chunks, %" PRIu64 " events (", rr_reader_chunks(r), events);
	for (int k = RR_CONSOLE_IN; k <= RR_END; k++)
		printf("%s%s %" PRIu64, k == RR_CONSOLE_IN ? "" : ", ", rr_kind_name((enum rr_kind)k), per_kind[k]);
	printf("), %" PRIu64 " bytes; ", rr_reader_offset(r));

	switch (rr_reader_state(r)) {
	case RR_READER_EOF:
		if (rr_reader_saw_end(r))
			printf("ended cleanly (%s at step %" PRIu64 ")\n", rr_end_reason_name(end_reason), end_step);
		else
			printf("ends without an END event (recording still running or stopped abruptly)\n");
		break;
	case RR_READER_TRUNCATED:
		printf("truncated: %s\n", err);
		break;
	default:
		printf("%s: %s\n", state, err);
		break;
	}
	rr_reader_close(r);
	return status;
}

int cli_log(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false;

	for (int i = 1; i < argc; i++)
		if (cli_is_help(argv[i]) && (i == 1 || !strcmp(argv[1], "dump"))) {
			usage(stdout);
			return 0;
		}
	if (argc < 2 || strcmp(argv[1], "dump")) {
		if (argc >= 2)
			fprintf(stderr, "ftvm log: unknown subcommand '%s'\n", argv[1]);
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "ftvm log dump: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return FTVM_EXIT_USAGE;
		} else if (path) {
			fprintf(stderr, "ftvm log dump: one FILE only ('%s' and '%s')\n", path, argv[i]);
			return FTVM_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fprintf(stderr, "ftvm log dump: FILE missing\n");
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0) {
		fprintf(stderr, "ftvm log: %s: %s\n", path, strerror(errno));
		return FTVM_EXIT_USAGE;
	}
	int status = dump(path, fd, json);
	if (fd != STDIN_FILENO)
		close(fd);
	if (fflush(stdout) && !status)
		status = FTVM_EXIT_HOST_ERROR;
	return status;
}
