/* SPDX-License-Identifier: MIT */
/* replay: 'ftvm replay LOG', the recorded execution again, checked, and optionally live at its end. */
#include "cli/cli.h"
#include "hv/hv.h"
#include "hv/rr/live.h"
#include "hv/rr/rr.h"
#include "hv/rr/session.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A --quiet replay on a terminal reports progress this often. */
#define PROGRESS_STEPS 200000000ULL

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm replay LOG [OPTIONS]\n"
		"  --kernel FILE --initrd FILE --bios FILE --disk FILE\n"
		"                     the images the log was recorded with (default: the domT guest\n"
		"                     and Debian's OpenSBI; each is checked against the log's sha256)\n"
		"  --cpu interp|jit   how harts execute (a log replays exactly under either)\n"
		"  --from SNAPSHOT    start from a snapshot saved during a replay of this log ('ftvm\n"
		"                     snapshot save --log LOG'), with --disk as it was at the save\n"
		"  --then-live        at the end of the log, continue as a live VM from that exact step\n"
		"  --then-record      the same, recording on into LOG, with output held until the log\n"
		"                     holding its cause is written (as 'ftvm record'); --fsync: synced\n"
		"  --net SPEC         network backend once live (default: the one recorded)\n"
		"  --quiet            do not print the guest console while replaying (a progress line\n"
		"                     on stderr instead, when it is a terminal)\n"
		"  --stats            print what was replayed and checked\n"
		"  --json             the end report (result, steps, checks, a divergence's details) as one\n"
		"                     JSON object, the last line on stderr\n"
		"  --trace            print every interrupt, input and digest as it is replayed\n"
		"  --perturb N:REG:BIT  flip bit BIT of register xREG at step N (divergence drills)\n"
		"  --bisect           on divergence, name the first differing instruction\n"
		"  --help             this text\n"
		"A log recorded on a --disk FILE,snapshot replays from the same FILE; give it as\n"
		"--disk FILE,snapshot again to keep it unchanged for the next replay or go-live.\n"
		"Exit status: as 'ftvm run', plus 8 replay diverged, 9 log corrupt.\n");
}

static int parse_perturb(char *s, struct rr_perturb *p)
{
	char *a = strchr(s, ':'), *b = a ? strchr(a + 1, ':') : NULL;

	if (!a || !b)
		return -1;
	*a = *b = '\0';
	if (cli_parse_size(s, &p->step))
		return -1;
	p->reg = atoi(a + 1);
	p->bit = atoi(b + 1);
	p->on = p->reg > 0 && p->reg < 32 && p->bit >= 0 && p->bit < 64;
	return p->on ? 0 : -1;
}

static const char *result_name(enum rr_play_result r)
{
	switch (r) {
	case RR_PLAY_REACHED: case RR_PLAY_LOG_END: return "replayed";
	case RR_PLAY_DIVERGED: return "diverged";
	case RR_PLAY_CORRUPT: return "corrupt";
	}
	return "?";
}

/* One JSON object on stderr: what scripts and drills need to tell a replay's outcomes apart. */
static void json_report(const char *log, enum rr_play_result res, const struct rr_play_status *st,
			struct hv_machine *m, const struct cli_trace *trace, int status)
{
	fprintf(stderr, "{\"command\":\"replay\",\"log\":");
	cli_json_str(stderr, log);
	fprintf(stderr, ",\"result\":\"%s\",\"step\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"events\":%" PRIu64
		",\"checks\":%" PRIu64 ",\"digests\":%" PRIu64 ",\"last_match_step\":%" PRIu64, result_name(res),
		hv_steps(m), st->chunks, st->events, st->checks, st->digests, st->last_match_step);
	if (st->saw_end)
		fprintf(stderr, ",\"end\":\"%s\"", rr_end_reason_name(st->end_reason));
	if (res == RR_PLAY_DIVERGED || res == RR_PLAY_CORRUPT) {
		fprintf(stderr, ",\"message\":");
		cli_json_str(stderr, st->msg);
		fprintf(stderr, ",\"harts\":[");
		for (int i = 0; i < hv_nharts(m); i++) {
			uint64_t x[32], pc;
			hv_hart_regs(m, i, x, &pc);
			fprintf(stderr, "%s{\"hart\":%d,\"pc\":\"0x%" PRIx64 "\",\"insn\":\"0x%08" PRIx32 "\"}", i ? "," : "",
				i, pc, hv_hart_insn(m, i, pc));
		}
		fprintf(stderr, "]");
	}
	fprintf(stderr, ",\"exit_status\":%d", status);
	cli_trace_json(trace, stderr);
	fprintf(stderr, "}\n");
}

static int stop_status(enum rr_end_reason r)
{
	switch (r) {
	case RR_END_REBOOT: return FTVM_EXIT_REBOOT;
	case RR_END_FAIL: return FTVM_EXIT_GUEST_FAIL;
	default: return FTVM_EXIT_POWEROFF;
	}
}

int cli_replay(int argc, char **argv)
{
	enum { OPT_KERNEL = 256, OPT_INITRD, OPT_BIOS, OPT_DISK, OPT_LIVE, OPT_NET, OPT_QUIET,
	       OPT_STATS, OPT_PERTURB, OPT_BISECT, OPT_HELP, OPT_TRACE, OPT_CPU, OPT_JSON, OPT_FROM,
	       OPT_RECORD, OPT_FSYNC };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "bios", required_argument, NULL, OPT_BIOS },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "then-live", no_argument, NULL, OPT_LIVE },
		{ "then-record", no_argument, NULL, OPT_RECORD },
		{ "fsync", no_argument, NULL, OPT_FSYNC },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "net", required_argument, NULL, OPT_NET },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "perturb", required_argument, NULL, OPT_PERTURB },
		{ "bisect", no_argument, NULL, OPT_BISECT },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "from", required_argument, NULL, OPT_FROM },
		{ 0 },
	};
	const char *kernel = NULL, *initrd = NULL, *bios = NULL, *disk = NULL, *net = NULL, *from = NULL;
	enum hv_cpu_mode cpu = HV_CPU_INTERP;
	bool then_live = false, then_record = false, fsync = false, quiet = false, stats = false, bisect = false;
	bool json = false;
	struct rr_perturb perturb = { 0 };
	struct cli_trace trace = { 0 };
	char *default_kernel = NULL, *default_initrd = NULL;
	struct rr_session *sess = NULL;
	struct hv_machine *m = NULL;
	bool played = false;
	struct rr_play_status st = { 0 };
	enum rr_play_result res = RR_PLAY_REACHED;
	int c, status = FTVM_EXIT_USAGE;
	char err[768] = "";

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: kernel = optarg; break;
		case OPT_INITRD: initrd = optarg; break;
		case OPT_BIOS: bios = optarg; break;
		case OPT_DISK: disk = optarg; break;
		case OPT_LIVE: then_live = true; break;
		case OPT_RECORD: then_live = then_record = true; break;
		case OPT_FSYNC: fsync = true; break;
		case OPT_CPU:
			if (cli_parse_cpu(optarg, &cpu)) {
				fprintf(stderr, "ftvm replay: --cpu %s: interp or jit\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_NET: net = optarg; break;
		case OPT_QUIET: quiet = true; break;
		case OPT_STATS: stats = true; break;
		case OPT_BISECT: bisect = true; break;
		case OPT_TRACE: trace.print = true; break;
		case OPT_PERTURB:
			if (parse_perturb(optarg, &perturb)) {
				fprintf(stderr, "ftvm replay: --perturb wants STEP:REG(1-31):BIT(0-63)\n");
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_HELP: usage(stdout); return 0;
		case OPT_JSON: json = true; break;
		case OPT_FROM: from = optarg; break;
		default:
			cli_bad_option(argv[0], c, argv[optind - 1]);
			return FTVM_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	const char *log = argv[optind];
	if (from && bisect) {
		fprintf(stderr, "ftvm replay: --bisect replays from the boot: not with --from\n");
		return FTVM_EXIT_USAGE;
	}
	if (fsync && !then_record) {
		fprintf(stderr, "ftvm replay: --fsync is for --then-record\n");
		return FTVM_EXIT_USAGE;
	}

	if (!kernel)
		kernel = default_kernel = cli_beside_exe("Image");
	if (!initrd)
		initrd = default_initrd = cli_beside_exe("initrd.cpio");
	struct rr_session_replay_opts ro = {
		.log_path = log, .kernel = kernel, .initrd = initrd, .bios = bios,
		.default_bios = DEFAULT_BIOS, .disk = disk, .cpu = cpu, .quiet = quiet,
		.from_snapshot = from,
	};
	if (rr_session_replay_open(&sess, &ro, err, sizeof(err))) {
		/* Errors about the images do not name the log; those about the log do. */
		if (strncmp(err, "log ", 4))
			fprintf(stderr, "ftvm replay: log %s: %s\n", log, err);
		else
			fprintf(stderr, "ftvm replay: %s\n", err);
		goto out;
	}
	m = rr_session_machine(sess);
	/* A TAP opened now is a port its bridge forwards on by the time we go live. */
	if (then_live && rr_session_park_net(sess, net, err, sizeof(err))) {
		fprintf(stderr, "ftvm replay: %s\n", err);
		status = FTVM_EXIT_HOST_ERROR;
		goto out;
	}
	struct rr_player *player = rr_session_player(sess);
	const struct hv_config cfg = *rr_session_config(sess);
	if (disk && !then_live && !cli_disk_keeps_image(disk))
		fprintf(stderr, "ftvm replay: the guest's writes change %s; give --disk %s,snapshot to keep it "
			"as it is for the next replay\n", disk, disk);

	trace.count = stats;
	cli_trace_attach(&trace, m);
	if (perturb.on) {
		res = rr_player_run(player, m, perturb.step, &st);
		if (res == RR_PLAY_REACHED)
			hv_perturb(m, perturb.reg, perturb.bit);
	}
	/* In steps of PROGRESS_STEPS when someone watches a terminal, so a long --quiet replay shows life. */
	bool progress = quiet && isatty(STDERR_FILENO) && !trace.print;
	while (res == RR_PLAY_REACHED) {
		uint64_t to = progress ? hv_steps(m) + PROGRESS_STEPS : UINT64_MAX;
		res = rr_player_run(player, m, to, &st);
		if (progress)
			fprintf(stderr, "\rftvm replay: step %" PRIu64 ", %" PRIu64 " chunks, %" PRIu64 " events, "
				"%" PRIu64 " checks and %" PRIu64 " digests matched\033[K", hv_steps(m), st.chunks,
				st.events, st.checks, st.digests);
		if (res == RR_PLAY_REACHED && to == UINT64_MAX)
			break;
	}
	if (progress)
		fprintf(stderr, "\n");
	if (stats && !json)
		fprintf(stderr, "ftvm replay: %" PRIu64 " steps, %" PRIu64 " chunks, %" PRIu64 " input events, "
			"%" PRIu64 " checks and %" PRIu64 " digests matched\n", hv_steps(m), st.chunks,
			st.events, st.checks, st.digests);
	played = true;
	if (res == RR_PLAY_DIVERGED) {
		fprintf(stderr, "ftvm replay: %s\n", st.msg);
		status = FTVM_EXIT_DIVERGED;
		if (bisect) {
			char report[1024];
			uint64_t to = hv_steps(m);
			fprintf(stderr, "ftvm replay: bisecting steps %" PRIu64 "..%" PRIu64 "\n",
				st.last_match_step, to);
			rr_bisect(log, &cfg, &perturb, st.last_match_step, to, report, sizeof(report));
			fprintf(stderr, "ftvm replay: %s\n", report);
		}
		goto out;
	}
	if (res == RR_PLAY_CORRUPT) {
		fprintf(stderr, "ftvm replay: %s (replayed to step %" PRIu64 ")\n", st.msg, hv_steps(m));
		status = FTVM_EXIT_LOG_CORRUPT;
		goto out;
	}
	fprintf(stderr, "ftvm replay: log replayed: %s\n", rr_player_end(player));
	status = st.saw_end ? stop_status(st.end_reason) : FTVM_EXIT_POWEROFF;
	if (!then_live || (st.saw_end && st.end_reason != RR_END_STOPPED))
		goto out;

	/* Go live: same machine, same step; inputs now come from the world (and, recording, into the log). */
	struct rr_session_record_opts rec = { .log_path = log, .fsync = fsync, .commit_on_log = true };
	if (then_record && rr_session_record_after_replay(sess, &rec, err, sizeof(err))) {
		fprintf(stderr, "ftvm replay: cannot record on into %s: %s\n", log, err);
		status = FTVM_EXIT_HOST_ERROR;
		goto out;
	}
	if (rr_session_attach_live(sess, net, STDIN_FILENO, err, sizeof(err))) {
		fprintf(stderr, "ftvm replay: going live: %s\n", err);
		status = FTVM_EXIT_HOST_ERROR;
		goto out;
	}
	fprintf(stderr, "ftvm replay: live at step %" PRIu64 "%s%s\n", hv_steps(m),
		then_record ? ", recording on into " : "", then_record ? log : "");
	struct live_result lr;
	if (then_record) {
		int rc = rr_session_record_run(sess, &lr);
		status = cli_exit_status(lr.end);
		if (rc) {
			fprintf(stderr, "ftvm replay: writing %s failed: %s\n", log, strerror(-rc));
			status = FTVM_EXIT_HOST_ERROR;
		}
	} else {
		rr_session_run_live(sess, &lr);
		status = cli_exit_status(lr.end);
	}
out:
	if (played)
		status = cli_disk_report("replay", m, disk, status);
	if (json && played)
		json_report(log, res, &st, m, &trace, status);
	else
		cli_trace_report(&trace);
	rr_session_close(sess);
	free(default_kernel);
	free(default_initrd);
	return status;
}
