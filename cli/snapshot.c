/* SPDX-License-Identifier: MIT */
/* snapshot: 'ftvm snapshot save' runs a guest to a step and saves it; 'ftvm snapshot info' checks and describes a file. */
#include "cli/cli.h"
#include "hv/rr/rr.h"
#include "hv/rr/session.h"
#include "hv/snapshot.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNAP_DEFAULT_APPEND "console=ttyS0 panic=-1"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm snapshot save --at STEPS --out FILE [run options]\n"
		"       ftvm snapshot save --log LOG --at STEPS --out FILE [--disk FILE] [--cpu interp|jit]\n"
		"       ftvm snapshot info FILE [--json]\n"
		"save runs the guest to machine step STEPS with guest time a function of the\n"
		"step count and no input but --input-at's (as run --virtual-clock), then writes\n"
		"the whole machine to FILE (docs/snapshot-format.md). The guest's output goes\n"
		"to stdout. Run options: --kernel K --initrd I --bios FILE|none --append CMDLINE\n"
		"--disk FILE --net SPEC (the device only: no frames arrive) --mem SIZE --smp N\n"
		"--cpu interp|jit, --input-at STEPS:TEXT (console bytes at that step; \\n \\r \\t\n"
		"escapes; repeatable). Without --kernel, the domT guest beside ftvm.\n"
		"With --log, save replays LOG to STEPS instead (the images as for 'ftvm replay';\n"
		"its disk is then as at the save: keep a copy) and the snapshot names its place in\n"
		"the log: 'ftvm replay LOG --from FILE' goes on from there with the rest of it.\n"
		"info reads and verifies every section and prints what the snapshot holds.\n"
		"Exit status: 0 saved or valid, 1 host error or the guest stopped before STEPS,\n"
		"2 bad usage or a damaged snapshot.\n");
}

#define MAX_INPUTS 64

struct input {
	uint64_t at;
	char *text;
	size_t len;
};

static int cmp_input(const void *a, const void *b)
{
	const struct input *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/* \n, \r, \t and \X (X itself) in place; returns the length. */
static size_t unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r == 't' ? '\t' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void console_out(void *opaque, const uint8_t *buf, size_t len)
{
	fwrite(buf, 1, len, stdout);
}

static void print_digest(struct hv_machine *m, const char *out)
{
	uint8_t d[HV_DIGEST_BYTES];

	hv_digest(m, d);
	fprintf(stderr, "ftvm: snapshot %s at step %llu, digest ", out, (unsigned long long)hv_steps(m));
	for (int i = 0; i < HV_DIGEST_BYTES; i++)
		fprintf(stderr, "%02x", d[i]);
	fprintf(stderr, "\n");
}

/* Replay log to step at and save there, with the log position. */
static int save_in_replay(const char *log, uint64_t at, const char *out, const struct hv_config *cfg)
{
	char *default_kernel = cfg->kernel ? NULL : cli_beside_exe("Image");
	char *default_initrd = cfg->initrd ? NULL : cli_beside_exe("initrd.cpio");
	struct rr_session_replay_opts ro = {
		.log_path = log, .kernel = cfg->kernel ? cfg->kernel : default_kernel,
		.initrd = cfg->initrd ? cfg->initrd : default_initrd, .bios = cfg->bios,
		.default_bios = DEFAULT_BIOS, .disk = cfg->disk, .cpu = cfg->cpu, .quiet = true,
	};
	struct rr_session *s = NULL;
	struct rr_play_status st = { 0 };
	char err[768];
	int status = FTVM_EXIT_HOST_ERROR;

	if (rr_session_replay_open(&s, &ro, err, sizeof(err))) {
		fprintf(stderr, "ftvm snapshot save: %s\n", err);
		goto out;
	}
	struct hv_machine *m = rr_session_machine(s);
	enum rr_play_result res = rr_session_replay(s, at, &st);
	if (res != RR_PLAY_REACHED || hv_steps(m) != at) {
		fprintf(stderr, "ftvm snapshot save: the replay of %s stopped at step %llu, before %llu: %s\n", log,
			(unsigned long long)hv_steps(m), (unsigned long long)at,
			res == RR_PLAY_LOG_END ? rr_player_end(rr_session_player(s)) : st.msg);
		status = res == RR_PLAY_DIVERGED ? FTVM_EXIT_DIVERGED :
			 res == RR_PLAY_CORRUPT ? FTVM_EXIT_LOG_CORRUPT : FTVM_EXIT_HOST_ERROR;
		goto out;
	}
	if (rr_session_save_snapshot(s, out, err, sizeof(err))) {
		fprintf(stderr, "ftvm snapshot save: %s\n", err);
		goto out;
	}
	print_digest(m, out);
	status = 0;
out:
	rr_session_close(s);
	free(default_kernel);
	free(default_initrd);
	return status;
}

static int snapshot_save(int argc, char **argv)
{
	enum { OPT_AT = 1, OPT_OUT, OPT_KERNEL, OPT_INITRD, OPT_BIOS, OPT_APPEND, OPT_DISK, OPT_NET,
	       OPT_MEM, OPT_SMP, OPT_CPU, OPT_INPUT, OPT_HELP, OPT_LOG };
	static const struct option opts[] = {
		{ "at", required_argument, NULL, OPT_AT },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "bios", required_argument, NULL, OPT_BIOS },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "net", required_argument, NULL, OPT_NET },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "smp", required_argument, NULL, OPT_SMP },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "input-at", required_argument, NULL, OPT_INPUT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct hv_config cfg = { .mem_bytes = 512ULL << 20, .smp = 1, .bios = DEFAULT_BIOS,
				 .append = SNAP_DEFAULT_APPEND };
	struct hv_host_ops host = { .console_out = console_out };
	const char *out = NULL, *log = NULL;
	bool machine_opts = false;
	char *default_kernel = NULL, *default_initrd = NULL;
	uint64_t at = 0;
	bool have_at = false;
	struct hv_machine *m = NULL;
	struct hv_stop_info info = { .why = HV_STOP_BUDGET };
	struct input inputs[MAX_INPUTS];
	size_t ninputs = 0, next = 0;
	char err[512];
	int c, status = FTVM_EXIT_USAGE;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_AT:
			if (cli_parse_size(optarg, &at)) {
				fprintf(stderr, "ftvm snapshot save: --at %s: not a step count\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			have_at = true;
			break;
		case OPT_OUT: out = optarg; break;
		case OPT_LOG: log = optarg; break;
		case OPT_KERNEL: cfg.kernel = optarg; break;
		case OPT_INITRD: cfg.initrd = optarg; break;
		case OPT_BIOS: cfg.bios = strcmp(optarg, "none") ? optarg : NULL; break;
		case OPT_APPEND: cfg.append = optarg; machine_opts = true; break;
		case OPT_DISK: cfg.disk = optarg; break;
		case OPT_NET: cfg.net = strcmp(optarg, "none") ? optarg : NULL; machine_opts = true; break;
		case OPT_MEM:
			if (cli_parse_size(optarg, &cfg.mem_bytes)) {
				fprintf(stderr, "ftvm snapshot save: --mem %s: not a size\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			machine_opts = true;
			break;
		case OPT_SMP: cfg.smp = atoi(optarg); machine_opts = true; break;
		case OPT_CPU:
			if (cli_parse_cpu(optarg, &cfg.cpu)) {
				fprintf(stderr, "ftvm snapshot save: --cpu %s: interp or jit\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_INPUT: {
			char *colon = strchr(optarg, ':');
			if (!colon || ninputs == MAX_INPUTS) {
				fprintf(stderr, "ftvm snapshot save: --input-at %s: want STEPS:TEXT (at most %d)\n",
					optarg, MAX_INPUTS);
				return FTVM_EXIT_USAGE;
			}
			*colon = '\0';
			if (cli_parse_size(optarg, &inputs[ninputs].at)) {
				fprintf(stderr, "ftvm snapshot save: --input-at %s: not a step count\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			inputs[ninputs].text = colon + 1;
			inputs[ninputs].len = unescape(colon + 1);
			ninputs++;
			machine_opts = true;
			break;
		}
		case OPT_HELP: usage(stdout); return 0;
		default: cli_bad_option("snapshot save", c, argv[optind - 1]); return FTVM_EXIT_USAGE;
		}
	}
	if (optind != argc || !have_at || !out) {
		fprintf(stderr, "ftvm snapshot save: --at STEPS and --out FILE are required, nothing else\n");
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	if (log && machine_opts) {
		fprintf(stderr, "ftvm snapshot save: with --log, the log sets memory, harts, network, command line "
			"and inputs: give none of --mem --smp --net --append --input-at\n");
		return FTVM_EXIT_USAGE;
	}
	if (log)
		return save_in_replay(log, at, out, &cfg);
	qsort(inputs, ninputs, sizeof(inputs[0]), cmp_input);
	if (!cfg.kernel) {
		default_kernel = cli_beside_exe("Image");
		default_initrd = cli_beside_exe("initrd.cpio");
		cfg.kernel = default_kernel;
		if (!cfg.initrd)
			cfg.initrd = default_initrd;
	}
	if (hv_machine_create(&cfg, &host, NULL, &m, err, sizeof(err))) {
		fprintf(stderr, "ftvm snapshot save: %s\n", err);
		goto out;
	}
	while (hv_steps(m) < at) {
		/* Scripted console input lands exactly at its step. */
		while (next < ninputs && inputs[next].at <= hv_steps(m)) {
			struct hv_event ev = { .kind = HV_EV_CONSOLE_IN, .step = hv_steps(m),
					       .data = (const uint8_t *)inputs[next].text,
					       .len = inputs[next].len };
			if (inputs[next].at < hv_steps(m) || ev.len > hv_console_rx_room(m) ||
			    (ev.len && hv_inject(m, &ev))) {
				fprintf(stderr, "ftvm snapshot save: --input-at %llu: %s\n",
					(unsigned long long)inputs[next].at,
					inputs[next].at < hv_steps(m) ? "the guest idled past that step" :
					"the UART cannot take those bytes then");
				status = FTVM_EXIT_HOST_ERROR;
				goto out;
			}
			next++;
		}
		uint64_t to = next < ninputs && inputs[next].at < at ? inputs[next].at : at;
		if (hv_run(m, to - hv_steps(m), &info)) {
			fprintf(stderr, "ftvm snapshot save: the machine failed at step %llu\n",
				(unsigned long long)hv_steps(m));
			status = FTVM_EXIT_HOST_ERROR;
			goto out;
		}
		if (info.why == HV_STOP_IDLE && info.idle_until_mtime != UINT64_MAX) {
			/* Nothing to wait for in virtual time: jump the clock to the deadline. */
			struct hv_event ev = { .kind = HV_EV_CLOCK, .step = hv_steps(m),
					       .clock = hv_clock_get(m) };
			ev.clock.anchor_mtime = info.idle_until_mtime;
			if (hv_inject(m, &ev)) {
				status = FTVM_EXIT_HOST_ERROR;
				goto out;
			}
			continue;
		}
		if (info.why != HV_STOP_BUDGET) {
			fprintf(stderr, "ftvm snapshot save: the guest stopped (reason %d) at step %llu, before %llu\n",
				info.why, (unsigned long long)hv_steps(m), (unsigned long long)at);
			status = FTVM_EXIT_HOST_ERROR;
			goto out;
		}
	}
	fflush(stdout);
	if (hv_snapshot_save(m, out, NULL, err, sizeof(err))) {
		fprintf(stderr, "ftvm snapshot save: %s\n", err);
		status = FTVM_EXIT_HOST_ERROR;
		goto out;
	}
	print_digest(m, out);
	status = 0;
out:
	hv_machine_destroy(m);
	free(default_kernel);
	free(default_initrd);
	return status;
}

static int snapshot_info(int argc, char **argv)
{
	struct hv_snapshot_info info;
	const char *path = NULL;
	bool json = false;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (cli_is_help(argv[i])) {
			usage(stdout);
			return 0;
		} else if (!path && argv[i][0] != '-')
			path = argv[i];
		else {
			fprintf(stderr, "ftvm snapshot info: unexpected '%s'\n", argv[i]);
			return FTVM_EXIT_USAGE;
		}
	}
	if (!path) {
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	if (hv_snapshot_info(path, &info, err, sizeof(err))) {
		fprintf(stderr, "ftvm snapshot info: %s\n", err);
		return FTVM_EXIT_USAGE;
	}
	if (json) {
		printf("{\"format\":\"%u.%u\",\"steps\":%llu,\"mem_bytes\":%llu,\"smp\":%d,\"disk\":%s,"
		       "\"disk_bytes\":%llu,\"disk_sha256\":", info.major, info.minor,
		       (unsigned long long)info.steps, (unsigned long long)info.mem_bytes, info.smp,
		       info.has_disk ? "true" : "false", (unsigned long long)info.disk_bytes);
		cli_json_hex(stdout, info.disk_sha256, info.has_disk ? 32 : 0);
		printf(",\"net\":%s,\"ram_pages\":%llu,\"sections\":%llu,\"file_bytes\":%llu,\"dirty_pages_kept\":%s"
		       ",\"disk_overlay\":%s,\"overlay_blocks\":%llu",
		       info.has_net ? "true" : "false", (unsigned long long)info.ram_pages,
		       (unsigned long long)info.sections, (unsigned long long)info.file_bytes,
		       info.has_dirty ? "true" : "false", info.disk_overlay ? "true" : "false",
		       (unsigned long long)info.overlay_blocks);
		if (info.has_logpos) {
			printf(",\"log\":{\"header_sha256\":");
			cli_json_hex(stdout, info.logpos.header_sha256, 32);
			printf(",\"events\":%llu,\"chunk\":%llu,\"last_event_step\":%llu}",
			       (unsigned long long)info.logpos.events, (unsigned long long)info.logpos.chunk_seq,
			       (unsigned long long)info.logpos.last_event_step);
		}
		printf("}\n");
		return 0;
	}
	printf("snapshot %s: format %u.%u, valid\n", path, info.major, info.minor);
	printf("  steps      %llu\n", (unsigned long long)info.steps);
	printf("  memory     %llu bytes, %llu non-zero pages stored\n", (unsigned long long)info.mem_bytes,
	       (unsigned long long)info.ram_pages);
	printf("  harts      %d\n", info.smp);
	if (info.has_disk) {
		printf("  disk       %llu bytes, sha256 ", (unsigned long long)info.disk_bytes);
		for (int i = 0; i < 32; i++)
			printf("%02x", info.disk_sha256[i]);
		printf("\n");
		if (info.disk_overlay)
			printf("             an overlay (,snapshot): %llu blocks of 4 KiB written over the image\n",
			       (unsigned long long)info.overlay_blocks);
	} else {
		printf("  disk       none\n");
	}
	printf("  network    %s\n", info.has_net ? "virtio-net" : "none");
	if (info.has_logpos)
		printf("  replay     taken during a replay: %llu events of its log applied (chunk %llu)\n",
		       (unsigned long long)info.logpos.events, (unsigned long long)info.logpos.chunk_seq);
	printf("  sections   %llu in %llu bytes\n", (unsigned long long)info.sections,
	       (unsigned long long)info.file_bytes);
	return 0;
}

int cli_snapshot(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? FTVM_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "save"))
		return snapshot_save(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return snapshot_info(argc - 1, argv + 1);
	fprintf(stderr, "ftvm snapshot: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return FTVM_EXIT_USAGE;
}
