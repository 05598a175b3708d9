/* SPDX-License-Identifier: MIT */
/* run: 'ftvm run', a guest on this host with live inputs. */
#include "cli/cli.h"
#include "hv/hv.h"
#include "hv/rr/live.h"
#include "hv/rr/rr.h"
#include "hv/rr/session.h"
#include "hv/snapshot.h"
#include "primary/pair.h"
#include "transport/log.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_APPEND "console=ttyS0 panic=-1"
#define MAX_SCRIPTED 64
/* live.c ends a slice at least every 1M steps (LIVE_SLICE_STEPS); the recorder digests at slice ends. */
#define MIN_DIGEST_INTERVAL 1000000ULL

/* ftvm record --checkpoint-s: the pair's checkpoints (primary/pair_ckpt.c), each trimming the log. */
struct record_ckpt {
	struct ft_ckpt ckpt;
	struct rr_session *s;
};

static int record_checkpoint(void *opaque, struct hv_machine *m)
{
	struct record_ckpt *r = opaque;

	(void)m;
	ft_ckpt_maybe(&r->ckpt, r->s);
	return 0;
}

static void usage(FILE *f, bool recording)
{
	if (recording)
		fprintf(f,
			"usage: ftvm record --log FILE [--digest-interval N] [OPTIONS]\n"
			"  Run a guest as 'ftvm run' does and write every input to a replay log.\n"
			"  --log FILE         the replay log (a regular file; created or truncated)\n"
			"  --fsync            output (frames, console) waits until its log is synced, not\n"
			"                     only written (it always waits for the write)\n"
			"  --digest-interval N  a full state digest at the first slice end after every N steps\n"
			"                     (default 50M; at least 1M, slices are up to 1M steps long)\n"
			"  --digest-hash sha256|xxh3  the hash of those digests, named in the log header\n"
			"                     (default xxh3: XXH3-128; sha256 as logs before it had)\n"
			"  --stop-snapshot FILE  when stopped (--max-steps, Ctrl-A x, SIGTERM), end the log\n"
			"                     without END and save the machine to FILE, so that\n"
			"  --from FILE        goes on with the same --log from there (with --disk as it\n"
			"                     was at the stop); its replay runs across the seam unchanged\n"
			"  --checkpoint-s N   every N seconds save the machine to FILE.ckpt (beside --log)\n"
			"                     and then trim the log before its place (ftvm log trim), so\n"
			"                     the log holds only what 'ftvm replay FILE --from FILE.ckpt'\n"
			"                     reads: a long recording's disk use stays bounded\n"
			"  Record with --disk FILE,snapshot to keep the image as it was, so that replay and\n"
			"  go-live can start from the same file.\n");
	else
		fprintf(f, "usage: ftvm run [OPTIONS]\n");
	fprintf(f,
		"  --kernel FILE      Linux Image or ELF (default: the domT guest next to ftvm)\n"
		"  --initrd FILE      initramfs (default: the domT initramfs with the default kernel)\n"
		"  --bios FILE|none   M-mode firmware (default: Debian's OpenSBI fw_dynamic.bin);\n"
		"                     'none' runs an ELF kernel directly in M-mode\n"
		"  --append STR       kernel command line (default: %s)\n"
		"  --disk FILE[,snapshot|,ro]  raw disk image for virtio-blk; ',snapshot' gives the guest\n"
		"                     a writable overlay in memory and leaves FILE unchanged; ',ro' a\n"
		"                     read-only disk. A FILE this user cannot write needs one of the two.\n"
		"  --net SPEC         user[,hostfwd=tcp::HOST-:GUEST...], tap:IFNAME (an existing\n"
		"                     interface), tap:IFNAME,create, or none (default: user, with the\n"
		"                     default guest)\n"
		"  --mem SIZE         guest RAM with K, M, G or T, e.g. 512M (default 512M)\n"
		"  --smp N            harts, 1..%d (default 1)\n"
		"  --cpu interp|jit   how harts execute (default interp; both count steps exactly)\n"
		"  --max-steps N      stop after N steps, exit status 6 (0, the default: no limit)\n"
		"  --from SNAPSHOT    start from a snapshot ('ftvm snapshot save') instead of\n"
		"                     booting; give the same --disk, and --net if it has a NIC\n"
		"  --virtual-clock    guest time from the step count only (deterministic, no host time)\n"
		"  --input-at N:TEXT  type TEXT (C escapes \\n \\r) on the console at step N\n"
		"  --digest-at N      print the state digest at step N on stderr (repeatable)\n"
		"  --no-console-input ignore stdin\n"
		"  --stats            print steps, MIPS and idle time on exit\n"
		"  --json             with --stats: the report as one JSON object, the last line on stderr\n"
		"  --trace            print every interrupt, input, output and digest as it happens\n"
		"  --help             this text\n"
		"Ctrl-A x quits. Exit status: 0 poweroff, 1 host error, 2 bad usage or input, 3 reboot/panic,\n"
		"4 guest failure, 5 stopped by user, 6 --max-steps reached, 7 guest stuck.\n",
		DEFAULT_APPEND, HV_MAX_HARTS);
}

char *cli_beside_exe(const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *path;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (asprintf(&path, "%s/domT/%s", dirname(exe), name) < 0)
		return NULL;
	return path;
}

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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_input(const void *a, const void *b)
{
	return cmp_u64(&((const struct live_input *)a)->step, &((const struct live_input *)b)->step);
}

static const char *end_name(enum live_end e)
{
	static const char *const names[] = {
		[LIVE_END_POWEROFF] = "guest powered off", [LIVE_END_REBOOT] = "guest reset",
		[LIVE_END_FAIL] = "guest failure", [LIVE_END_LIMIT] = "instruction limit",
		[LIVE_END_USER] = "stopped by user", [LIVE_END_STUCK] = "guest stuck",
		[LIVE_END_HOST_ERROR] = "host error",
	};
	return names[e];
}

int cli_run(int argc, char **argv)
{
	enum { OPT_KERNEL = 256, OPT_INITRD, OPT_BIOS, OPT_APPEND, OPT_DISK, OPT_NET, OPT_MEM,
	       OPT_SMP, OPT_MAX, OPT_VCLOCK, OPT_INPUT, OPT_DIGEST, OPT_NOCONS, OPT_STATS, OPT_HELP,
	       OPT_LOG, OPT_DIGEST_INTERVAL, OPT_TRACE, OPT_CPU, OPT_JSON, OPT_FSYNC, OPT_FROM, OPT_STOP_SNAPSHOT,
	       OPT_DIGEST_HASH, OPT_CHECKPOINT };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "bios", required_argument, NULL, OPT_BIOS },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "net", required_argument, NULL, OPT_NET },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "smp", required_argument, NULL, OPT_SMP },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "max-steps", required_argument, NULL, OPT_MAX },
		{ "virtual-clock", no_argument, NULL, OPT_VCLOCK },
		{ "input-at", required_argument, NULL, OPT_INPUT },
		{ "digest-at", required_argument, NULL, OPT_DIGEST },
		{ "no-console-input", no_argument, NULL, OPT_NOCONS },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "fsync", no_argument, NULL, OPT_FSYNC },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "stop-snapshot", required_argument, NULL, OPT_STOP_SNAPSHOT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "digest-interval", required_argument, NULL, OPT_DIGEST_INTERVAL },
		{ "digest-hash", required_argument, NULL, OPT_DIGEST_HASH },
		{ "checkpoint-s", required_argument, NULL, OPT_CHECKPOINT },
		{ 0 },
	};
	struct hv_config cfg = { .mem_bytes = 512ULL << 20, .smp = 1, .bios = DEFAULT_BIOS,
				 .append = DEFAULT_APPEND };
	struct live_opts lo = { .console_fd = STDIN_FILENO, .digest_out = stderr };
	struct live_input inputs[MAX_SCRIPTED];
	uint64_t digests[MAX_SCRIPTED];
	char *default_kernel = NULL, *default_initrd = NULL;
	bool stats = false, json = false, net_given = false, recording = !strcmp(argv[0], "record");
	const char *log_path = NULL;
	uint64_t digest_interval = RR_DEFAULT_DIGEST_INTERVAL;
	const char *digest_hash = NULL;	/* record: sha256 or xxh3 (the default) */
	bool fsync_log = false;
	const char *from = NULL;	/* start from this snapshot instead of booting (record: continue its log) */
	const char *stop_snapshot = NULL;	/* record: a stop leaves the log open and saves here */
	uint32_t checkpoint_s = 0;		/* record: save LOG.ckpt this often and trim the log to it */
	struct cli_trace trace = { 0 };
	int c, status = FTVM_EXIT_USAGE;
	char err[512] = "";

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: cfg.kernel = optarg; break;
		case OPT_INITRD: cfg.initrd = optarg; break;
		case OPT_BIOS: cfg.bios = strcmp(optarg, "none") ? optarg : NULL; break;
		case OPT_APPEND: cfg.append = optarg; break;
		case OPT_DISK: cfg.disk = optarg; break;
		case OPT_NET: lo.net_spec = strcmp(optarg, "none") ? optarg : NULL; net_given = true; break;
		case OPT_MEM:
			if (cli_parse_size(optarg, &cfg.mem_bytes)) {
				fprintf(stderr, "ftvm run: --mem %s: not a size (e.g. 512M)\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_SMP: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > HV_MAX_HARTS) {
				fprintf(stderr, "ftvm run: --smp %s: between 1 and %d\n", optarg, HV_MAX_HARTS);
				return FTVM_EXIT_USAGE;
			}
			cfg.smp = (int)n;
			break;
		}
		case OPT_MAX:
			if (cli_parse_size(optarg, &lo.max_steps)) {
				fprintf(stderr, "ftvm run: --max-steps %s: not a number\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_CPU:
			if (cli_parse_cpu(optarg, &cfg.cpu)) {
				fprintf(stderr, "ftvm %s: --cpu %s: interp or jit\n", argv[0], optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_VCLOCK: lo.virtual_clock = true; break;
		case OPT_INPUT: {
			char *colon = strchr(optarg, ':');
			uint64_t at;
			if (!colon || lo.ninputs == MAX_SCRIPTED) {
				fprintf(stderr, "ftvm run: --input-at %s: want N:TEXT (at most %d)\n", optarg, MAX_SCRIPTED);
				return FTVM_EXIT_USAGE;
			}
			*colon = '\0';
			if (cli_parse_size(optarg, &at)) {
				fprintf(stderr, "ftvm run: --input-at %s: bad step count\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			inputs[lo.ninputs].step = at;
			inputs[lo.ninputs].data = (const uint8_t *)(colon + 1);
			inputs[lo.ninputs].len = unescape(colon + 1);
			lo.ninputs++;
			break;
		}
		case OPT_DIGEST:
			if (lo.ndigest == MAX_SCRIPTED || cli_parse_size(optarg, &digests[lo.ndigest])) {
				fprintf(stderr, "ftvm run: --digest-at %s: bad step count\n", optarg);
				return FTVM_EXIT_USAGE;
			}
			lo.ndigest++;
			break;
		case OPT_NOCONS: lo.console_fd = -1; break;
		case OPT_STATS: stats = true; break;
		case OPT_HELP: usage(stdout, recording); return 0;
		case OPT_JSON: json = true; break;
		case OPT_LOG: log_path = optarg; break;
		case OPT_FSYNC: fsync_log = true; break;
		case OPT_FROM: from = optarg; break;
		case OPT_STOP_SNAPSHOT: stop_snapshot = optarg; break;
		case OPT_TRACE: trace.print = true; break;
		case OPT_DIGEST_INTERVAL:
			if (cli_parse_size(optarg, &digest_interval)) {
				fprintf(stderr, "ftvm %s: --digest-interval %s: not a number\n", argv[0], optarg);
				return FTVM_EXIT_USAGE;
			}
			/* Digests are taken between slices; a shorter interval would promise more than is written. */
			if (digest_interval < MIN_DIGEST_INTERVAL) {
				fprintf(stderr, "ftvm %s: --digest-interval %s: at least %llu (1M): digests are taken "
					"where a slice of up to 1M steps ends\n", argv[0], optarg,
					(unsigned long long)MIN_DIGEST_INTERVAL);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_CHECKPOINT: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || !v || v > 86400) {
				fprintf(stderr, "ftvm %s: --checkpoint-s %s: seconds, 1 to 86400\n", argv[0], optarg);
				return FTVM_EXIT_USAGE;
			}
			checkpoint_s = (uint32_t)v;
			break;
		}
		case OPT_DIGEST_HASH:
			if (strcmp(optarg, "sha256") && strcmp(optarg, "xxh3")) {
				fprintf(stderr, "ftvm %s: --digest-hash %s: sha256 or xxh3\n", argv[0], optarg);
				return FTVM_EXIT_USAGE;
			}
			digest_hash = optarg;
			break;
		default:
			cli_bad_option(argv[0], c, argv[optind - 1]);
			return FTVM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ftvm %s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return FTVM_EXIT_USAGE;
	}
	if (recording != (log_path != NULL)) {
		fprintf(stderr, recording ? "ftvm record: --log FILE is required\n"
					  : "ftvm run: --log is for 'ftvm record'\n");
		return FTVM_EXIT_USAGE;
	}
	if (!recording && checkpoint_s) {
		fprintf(stderr, "ftvm run: --checkpoint-s is for 'ftvm record'\n");
		return FTVM_EXIT_USAGE;
	}
	if (!recording && stop_snapshot) {
		fprintf(stderr, "ftvm run: --stop-snapshot is for 'ftvm record'\n");
		return FTVM_EXIT_USAGE;
	}
	if (!recording && digest_interval != RR_DEFAULT_DIGEST_INTERVAL) {
		fprintf(stderr, "ftvm run: --digest-interval is for 'ftvm record'\n");
		return FTVM_EXIT_USAGE;
	}
	if (!recording && digest_hash) {
		fprintf(stderr, "ftvm run: --digest-hash is for 'ftvm record'\n");
		return FTVM_EXIT_USAGE;
	}
	if (from && digest_hash) {
		fprintf(stderr, "ftvm record: --digest-hash: a continued log (--from) keeps the hash its header names\n");
		return FTVM_EXIT_USAGE;
	}
	if (json && !stats) {
		fprintf(stderr, "ftvm %s: --json formats the --stats report: give both\n", argv[0]);
		return FTVM_EXIT_USAGE;
	}
	if (recording && cfg.disk && !cli_disk_keeps_image(cfg.disk))
		fprintf(stderr, "ftvm record: the guest writes %s in place; a replay needs the image as it is "
			"now: keep a copy, or record with --disk %s,snapshot\n", cfg.disk, cfg.disk);
	if (from && !net_given)
		lo.net_spec = "user";	/* the default guest's NIC; a snapshot with one needs a backend */
	if (!cfg.kernel && !from) {
		default_kernel = cli_beside_exe("Image");
		default_initrd = cli_beside_exe("initrd.cpio");
		if (!default_kernel || access(default_kernel, R_OK)) {
			fprintf(stderr, "ftvm run: no kernel given and the default guest is not built "
				"(%s missing): run 'make domT' or pass --kernel\n",
				default_kernel ? default_kernel : "domT/Image");
			goto out;
		}
		cfg.kernel = default_kernel;
		if (!cfg.initrd)
			cfg.initrd = default_initrd;
		if (!net_given)
			lo.net_spec = "user";
	}
	if (cfg.bios && access(cfg.bios, R_OK)) {
		fprintf(stderr, "ftvm run: firmware %s: %s (install Debian's opensbi package or pass --bios)\n",
			cfg.bios, strerror(errno));
		goto out;
	}
	cfg.net = lo.net_spec;
	qsort(inputs, lo.ninputs, sizeof(inputs[0]), cmp_input);
	qsort(digests, lo.ndigest, sizeof(digests[0]), cmp_u64);
	lo.inputs = inputs;
	lo.digest_at = digests;
	if (lo.virtual_clock)
		lo.console_fd = -1;

	struct rr_session *sess = NULL;
	struct record_ckpt rck = { .s = NULL };
	struct live lv;
	struct hv_machine *m;
	if (recording) {
		struct rr_session_record_opts ro = { .log_path = log_path, .fsync = fsync_log,
						     .digest_interval = digest_interval,
						     .digest_sha256 = digest_hash && !strcmp(digest_hash, "sha256"),
						     .commit_on_log = true, .open_ended = stop_snapshot != NULL,
						     .from_snapshot = from };
		if (rr_session_record_open(&sess, &cfg, &lo, &ro, err, sizeof(err))) {
			fprintf(stderr, "ftvm record: %s\n", err);
			goto out;
		}
		m = rr_session_machine(sess);
		if (checkpoint_s) {
			ft_ckpt_init(&rck.ckpt, log_path, checkpoint_s, "record");
			rck.ckpt.trim_log = true;
			rck.s = sess;
			log_set_verbose(stats ? 1 : 0);
			rr_session_set_slice_hook(sess, record_checkpoint, &rck);
		}
	} else {
		if (live_init(&lv, &lo, err, sizeof(err))) {
			fprintf(stderr, "ftvm %s: %s\n", argv[0], err);
			goto out;
		}
		if (from ? hv_machine_create_from_snapshot(from, &cfg, &live_host_ops, &lv, &m, NULL, err, sizeof(err))
			 : hv_machine_create(&cfg, &live_host_ops, &lv, &m, err, sizeof(err))) {
			fprintf(stderr, "ftvm %s: %s\n", argv[0], err);
			live_fini(&lv);
			goto out;
		}
	}
	trace.count = stats;
	cli_trace_attach(&trace, m);
	struct live_result res;
	int run_rc = 0;
	if (recording) {
		run_rc = rr_session_record_run(sess, &res);
		ft_ckpt_reap(&rck.ckpt, true);
	} else {
		live_run(&lv, m, &res);
		live_fini(&lv);
	}
	status = cli_exit_status(res.end);
	status = cli_disk_report(argv[0], m, cfg.disk, status);
	struct rr_record_stats rs = { 0 };
	if (recording) {
		int rc = run_rc;
		rr_session_record_stats(sess, &rs);
		if (rc) {
			fprintf(stderr, "ftvm record: writing %s failed: %s\n", log_path, strerror(-rc));
			status = FTVM_EXIT_HOST_ERROR;
		} else if (stop_snapshot && (res.end == LIVE_END_LIMIT || res.end == LIVE_END_USER)) {
			if (rr_session_save_snapshot(sess, stop_snapshot, err, sizeof(err))) {
				fprintf(stderr, "ftvm record: %s\n", err);
				status = FTVM_EXIT_HOST_ERROR;
			} else {
				fprintf(stderr, "ftvm record: stopped at step %llu into %s; 'ftvm record --from %s "
					"--log %s' goes on\n", (unsigned long long)res.step, stop_snapshot,
					stop_snapshot, log_path);
			}
		}
		if (stats && !json)
			fprintf(stderr, "ftvm: log %s: %llu bytes (%.0f bytes/s), %llu events, %llu checks, "
				"%llu digests, %llu chunks, %llu pauses (%.3f s)\n", log_path,
				(unsigned long long)rs.bytes, res.wall_s > 0 ? rs.bytes / res.wall_s : 0.0,
				(unsigned long long)rs.events, (unsigned long long)rs.checks,
				(unsigned long long)rs.digests, (unsigned long long)rs.chunks,
				(unsigned long long)rs.pauses, rs.paused_ns / 1e9);
	}
	if (res.end == LIVE_END_FAIL)
		fprintf(stderr, "ftvm: guest reported failure code %d\n", res.fail_code);
	double busy = res.wall_s - res.idle_s;
	if (stats && json) {
		fprintf(stderr, "{\"command\":\"%s\",\"end\":", argv[0]);
		cli_json_str(stderr, end_name(res.end));
		fprintf(stderr, ",\"exit_status\":%d,\"steps\":%llu,\"wall_s\":%.6f,\"idle_s\":%.6f,"
			"\"mips_busy\":%.3f,\"guest_s\":%.6f,\"clock_events\":%llu,\"console_bytes\":%llu,"
			"\"net_frames_in\":%llu,\"net_frames_dropped\":%llu", status,
			(unsigned long long)res.step, res.wall_s, res.idle_s,
			busy > 0 ? res.step / busy / 1e6 : 0.0, res.guest_s,
			(unsigned long long)res.clock_events, (unsigned long long)res.console_bytes,
			(unsigned long long)res.net_frames_in, (unsigned long long)res.net_frames_dropped);
		if (res.end == LIVE_END_FAIL)
			fprintf(stderr, ",\"fail_code\":%d", res.fail_code);
		if (recording) {
			fprintf(stderr, ",\"log\":{\"path\":");
			cli_json_str(stderr, log_path);
			fprintf(stderr, ",\"bytes\":%llu,\"events\":%llu,\"checks\":%llu,\"digests\":%llu,"
				"\"chunks\":%llu,\"pauses\":%llu,\"paused_s\":%.6f}",
				(unsigned long long)rs.bytes, (unsigned long long)rs.events,
				(unsigned long long)rs.checks, (unsigned long long)rs.digests,
				(unsigned long long)rs.chunks, (unsigned long long)rs.pauses, rs.paused_ns / 1e9);
		}
		cli_trace_json(&trace, stderr);
		fprintf(stderr, "}\n");
	} else if (stats) {
		fprintf(stderr, "ftvm: %s after %llu steps, %.3f s (%.3f s idle), %.1f MIPS busy, "
			"guest clock %.3f s (drift %+.1f ms), "
			"%llu clock events, %llu console bytes, %llu frames in (%llu dropped)\n",
			end_name(res.end), (unsigned long long)res.step, res.wall_s, res.idle_s,
			busy > 0 ? res.step / busy / 1e6 : 0.0, res.guest_s,
			(res.guest_s - res.wall_s) * 1e3, (unsigned long long)res.clock_events,
			(unsigned long long)res.console_bytes, (unsigned long long)res.net_frames_in,
			(unsigned long long)res.net_frames_dropped);
		cli_trace_report(&trace);
	}
	if (sess)
		rr_session_close(sess);
	else
		hv_machine_destroy(m);
out:
	free(default_kernel);
	free(default_initrd);
	return status;
}
