/* SPDX-License-Identifier: MIT */
/* log_trim: 'ftvm log trim FILE --from SNAP' frees the part of a replay log before a snapshot's place. */
#include "cli/cli.h"

#include "hv/rr/rr.h"
#include "hv/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm log trim FILE --from SNAP\n"
		"  Free the disk space of the part of a replay log that a replay from SNAP does not read:\n"
		"  every chunk before the one SNAP stands in (a snapshot saved with --log, or at a\n"
		"  recording's stop). The file keeps its size; its start becomes a hole. The log then\n"
		"  replays only from SNAP or a later snapshot (ftvm replay FILE --from SNAP).\n"
		"  Exit 0 when trimmed (or nothing was left to free), 1 when the filesystem cannot\n"
		"  punch holes or the file cannot be written, 2 for bad usage, a snapshot of another\n"
		"  log, or a log trimmed past the snapshot already.\n");
}

int cli_log_trim(int argc, char **argv)
{
	const char *path = NULL, *snap = NULL;
	struct hv_snapshot_info info;
	struct rr_trim_result res;
	char err[1024];

	for (int i = 2; i < argc; i++)
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return 0;
		}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--from") && i + 1 < argc) {
			snap = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "ftvm log trim: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return FTVM_EXIT_USAGE;
		} else if (path) {
			fprintf(stderr, "ftvm log trim: one FILE only ('%s' and '%s')\n", path, argv[i]);
			return FTVM_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (!path || !snap) {
		fprintf(stderr, "ftvm log trim: %s missing\n", path ? "--from SNAP" : "FILE");
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	/* The whole snapshot is checked first: trimming cannot be undone. */
	if (hv_snapshot_info(snap, &info, err, sizeof(err))) {
		fprintf(stderr, "ftvm log trim: %s\n", err);
		return FTVM_EXIT_USAGE;
	}
	if (!info.has_logpos) {
		fprintf(stderr, "ftvm log trim: snapshot %s names no place in a log (save it with --log, or at a "
			"recording's stop)\n", snap);
		return FTVM_EXIT_USAGE;
	}
	int rc = rr_log_trim(path, &info.logpos, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ftvm log trim: %s\n", err);
		bool bad_input = rc == -EINVAL || rc == -ENODATA || rc == -EBADMSG || rc == -EPROTONOSUPPORT;
		return bad_input ? FTVM_EXIT_USAGE : FTVM_EXIT_HOST_ERROR;
	}
	if (res.was_offset == res.offset)
		printf("log %s starts at chunk %" PRIu64 " (step %" PRIu64 ") already: nothing to free; %" PRIu64
		       " bytes on disk\n", path, res.seq, res.step, res.kept_bytes);
	else
		printf("log %s: chunks %" PRIu64 "..%" PRIu64 " dropped (%" PRIu64 " bytes of disk given back); it starts at chunk %"
		       PRIu64 " (step %" PRIu64 ", byte %" PRIu64 ") and uses %" PRIu64 " bytes; it replays only "
		       "from %s or a later snapshot\n", path, res.was_seq, res.seq - 1, res.freed_bytes, res.seq,
		       res.step, res.offset, res.kept_bytes, snap);
	return fflush(stdout) ? FTVM_EXIT_HOST_ERROR : 0;
}
