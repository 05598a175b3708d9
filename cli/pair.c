/* SPDX-License-Identifier: MIT */
/* pair: 'ftvm primary' and 'ftvm backup': the command line both daemons share, parsed, then the daemon runs. */
#include "cli/cli.h"
#include "primary/pair.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_APPEND "console=ttyS0 panic=-1"

static void usage(FILE *f, bool primary)
{
	fprintf(f,
		"usage: ftvm %s %s HOST:PORT --certs DIR --arbiter lock:PATH %s[OPTIONS]\n"
		"  %s\n"
		"  --name NAME          this host's certificate name (default %s)\n"
		"  --peer-name NAME     the peer's certificate name (default %s)\n"
		"  --certs DIR          ca.crt, NAME.crt and NAME.key, as 'ftvm certs init' writes them\n"
		"  --arbiter lock:PATH  the arbiter both hosts reach: a lock file on shared storage\n"
		"  --arbiter etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?cacert=F&cert=F&key=F]\n"
		"                       or an etcd cluster (docs/split-brain.md)\n"
		"  --log FILE           %s\n"
		"  --fsync              a chunk counts as written once synced, not only written\n"
		"  --control SOCK       serve 'ftvm status' on this unix socket (owner only)\n"
		"  --vm-id ID           the VM's name; both sides must agree (default \"\")\n"
		"  --heartbeat-ms N     heartbeat period on the log channel (default 50)\n"
		"  --dead-ms N          a silent peer is dead after N ms (default 3 heartbeats)\n"
		"  --checkpoint-s N     save the machine beside the log every N s (LOG.ckpt; default\n"
		"                       60, 0 never) and trim the log to it: this host, started\n"
		"                       again on that log as the backup, replays from there\n"
		"%s"
		"  %s HOST:PORT     %s once 'ftvm promote' swapped the roles (needed for it)\n"
		"  --from SNAPSHOT      go on from the snapshot a switchover left, with the same --log\n"
		"                       (a switchover passes it when it starts the other role)\n"
		"%s"
		"  guest (as 'ftvm run'; both hosts must start from the same images and disk):\n"
		"  --kernel FILE --initrd FILE --bios FILE|none --append STR --mem SIZE --smp N\n"
		"  --disk FILE          this host's copy of the disk (identical on both at start)\n"
		"  --net tap:IF         the guest's network on this host (%s)\n"
		"  --cpu interp|jit\n"
		"Exit status: as 'ftvm run', plus 10 fenced (lost the arbiter or a newer epoch\n"
		"exists: this side stopped its VM), 11 the peer is not our pair.\n",
		primary ? "primary" : "backup", primary ? "--peer" : "--listen",
		primary ? "" : "--log FILE ",
		primary ? "Runs the guest, records it and streams the log to the backup; output\n"
			  "  leaves only once the backup has the log that caused it."
			: "Receives the log, keeps it, replays it as it arrives, and goes live where\n"
			  "  it ends when the primary dies.",
		primary ? "primary" : "backup", primary ? "backup" : "primary",
		primary ? "also keep the log here (optional)" : "where the received log is kept (required)",
		primary ? "  --max-lag-ms N       the backup may be at most N ms of guest execution behind\n"
			  "                       (default 100); past it the guest pauses\n"
			  "  --force-epoch        start a new guest even though another side owns the\n"
			  "                       arbiter's epoch (only when it is known to be gone), or\n"
			  "                       this host owns it and its log is not empty\n"
			: "  --buffer SIZE        log received but not yet replayed (default 64M); a full\n"
			  "                       buffer withholds credit and pauses the primary\n",
		primary ? "--listen" : "--peer  ",
		primary ? "where this host listens as the backup" : "where this host dials the backup",
		primary ? "" : "  --handover-epoch N   the epoch the new primary of a switchover takes: should it\n"
			       "                       never connect, this host takes the guest back (a switchover\n"
			       "                       passes it to the old primary)\n"
			       "  --take-back          with --handover-epoch N: this host's primary died alone in\n"
			       "                       epoch N-1; take the guest back from the log only while the\n"
			       "                       arbiter still holds N-1 for this host (a primary passes it\n"
			       "                       when it finds its own log)\n",
		primary ? "attached at start" : "attached when it goes live");
}

static int parse_u32(const char *opt, const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 3600000 || *s == '-') {
		fprintf(stderr, "ftvm: --%s %s: a whole number up to 3600000\n", opt, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int split_addr(struct ft_opts *o, const char *s, bool primary)
{
	if (ft_addr_split(s, o->host, o->port)) {
		fprintf(stderr, "ftvm %s: %s: want HOST:PORT\n", primary ? "primary" : "backup", s);
		return -1;
	}
	return 0;
}

/* -1 when the options hold, else the exit status (usage printed). */
static int ft_opts_parse(struct ft_opts *o, int argc, char **argv)
{
	enum { OPT_PEER = 256, OPT_LISTEN, OPT_NAME, OPT_PEER_NAME, OPT_CERTS, OPT_ARBITER, OPT_LOG,
	       OPT_FSYNC, OPT_CONTROL, OPT_VM_ID, OPT_HB, OPT_DEAD, OPT_LAG, OPT_BUFFER, OPT_KERNEL,
	       OPT_INITRD, OPT_BIOS, OPT_APPEND, OPT_MEM, OPT_SMP, OPT_DISK, OPT_NET, OPT_CPU,
	       OPT_FORCE_EPOCH, OPT_FROM, OPT_HANDOVER_EPOCH, OPT_TAKE_BACK, OPT_CHECKPOINT, OPT_HELP };
	static const struct option opts[] = {
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "peer-name", required_argument, NULL, OPT_PEER_NAME },
		{ "certs", required_argument, NULL, OPT_CERTS },
		{ "arbiter", required_argument, NULL, OPT_ARBITER },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "fsync", no_argument, NULL, OPT_FSYNC },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "vm-id", required_argument, NULL, OPT_VM_ID },
		{ "heartbeat-ms", required_argument, NULL, OPT_HB },
		{ "dead-ms", required_argument, NULL, OPT_DEAD },
		{ "max-lag-ms", required_argument, NULL, OPT_LAG },
		{ "buffer", required_argument, NULL, OPT_BUFFER },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "bios", required_argument, NULL, OPT_BIOS },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "smp", required_argument, NULL, OPT_SMP },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "net", required_argument, NULL, OPT_NET },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "force-epoch", no_argument, NULL, OPT_FORCE_EPOCH },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "handover-epoch", required_argument, NULL, OPT_HANDOVER_EPOCH },
		{ "take-back", no_argument, NULL, OPT_TAKE_BACK },
		{ "checkpoint-s", required_argument, NULL, OPT_CHECKPOINT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	bool primary = !strcmp(argv[0], "primary");
	const char *me = argv[0];
	int c;

	memset(o, 0, sizeof(*o));
	o->argc = argc;
	o->argv = argv;
	o->cfg = (struct hv_config){ .mem_bytes = 512ULL << 20, .smp = 1, .bios = DEFAULT_BIOS,
				     .append = DEFAULT_APPEND };
	o->name = primary ? "primary" : "backup";
	o->peer_name = primary ? "backup" : "primary";
	o->vm_id = "";
	o->heartbeat_ms = 50;
	o->max_lag_ms = 100;
	o->buffer_bytes = 64ULL << 20;
	o->checkpoint_s = 60;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PEER:
		case OPT_LISTEN:
			if ((c == OPT_PEER) != primary) {
				/* The other role's address, for a switchover. */
				char host[sizeof(o->host)], port[sizeof(o->port)];
				if (ft_addr_split(optarg, host, port)) {
					fprintf(stderr, "ftvm %s: %s: want HOST:PORT\n", me, optarg);
					return FTVM_EXIT_USAGE;
				}
				o->switch_addr = optarg;
				break;
			}
			if (split_addr(o, optarg, primary))
				return FTVM_EXIT_USAGE;
			o->addr = optarg;
			break;
		case OPT_FROM: o->from_snapshot = optarg; break;
		case OPT_HANDOVER_EPOCH: {
			char *end;
			errno = 0;
			unsigned long long e = strtoull(optarg, &end, 10);
			if (errno || *end || !e || optarg[0] == '-') {
				fprintf(stderr, "ftvm %s: --handover-epoch %s: an epoch (a whole number > 0)\n", me,
					optarg);
				return FTVM_EXIT_USAGE;
			}
			o->handover_epoch = e;
			break;
		}
		case OPT_TAKE_BACK: o->take_back = true; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_PEER_NAME: o->peer_name = optarg; break;
		case OPT_CERTS: o->certs = optarg; break;
		case OPT_ARBITER: o->arbiter = optarg; break;
		case OPT_LOG: o->log_path = optarg; break;
		case OPT_FSYNC: o->fsync = true; break;
		case OPT_CONTROL: o->control = optarg; break;
		case OPT_VM_ID: o->vm_id = optarg; break;
		case OPT_HB: if (parse_u32("heartbeat-ms", optarg, &o->heartbeat_ms)) return FTVM_EXIT_USAGE; break;
		case OPT_DEAD: if (parse_u32("dead-ms", optarg, &o->dead_ms)) return FTVM_EXIT_USAGE; break;
		case OPT_LAG: if (parse_u32("max-lag-ms", optarg, &o->max_lag_ms)) return FTVM_EXIT_USAGE; break;
		case OPT_CHECKPOINT:
			if (parse_u32("checkpoint-s", optarg, &o->checkpoint_s))
				return FTVM_EXIT_USAGE;
			break;
		case OPT_BUFFER:
			if (cli_parse_size(optarg, &o->buffer_bytes) || o->buffer_bytes < (4u << 20)) {
				fprintf(stderr, "ftvm %s: --buffer %s: a size of at least 4M\n", me, optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_KERNEL: o->cfg.kernel = optarg; break;
		case OPT_INITRD: o->cfg.initrd = optarg; break;
		case OPT_BIOS: o->cfg.bios = strcmp(optarg, "none") ? optarg : NULL; break;
		case OPT_APPEND: o->cfg.append = optarg; break;
		case OPT_MEM:
			if (cli_parse_size(optarg, &o->cfg.mem_bytes)) {
				fprintf(stderr, "ftvm %s: --mem %s: not a size (e.g. 512M)\n", me, optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_SMP: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > HV_MAX_HARTS) {
				fprintf(stderr, "ftvm %s: --smp %s: between 1 and %d\n", me, optarg, HV_MAX_HARTS);
				return FTVM_EXIT_USAGE;
			}
			o->cfg.smp = (int)n;
			break;
		}
		case OPT_DISK: o->cfg.disk = optarg; break;
		case OPT_NET: o->cfg.net = strcmp(optarg, "none") ? optarg : NULL; break;
		case OPT_CPU:
			if (cli_parse_cpu(optarg, &o->cfg.cpu)) {
				fprintf(stderr, "ftvm %s: --cpu %s: interp or jit\n", me, optarg);
				return FTVM_EXIT_USAGE;
			}
			break;
		case OPT_FORCE_EPOCH:
			/* A backup keeps it for the day a switchover makes it the primary. */
			o->force_epoch = true;
			break;
		case OPT_HELP: usage(stdout, primary); return 0;
		default:
			cli_bad_option(me, c, argv[optind - 1]);
			return FTVM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ftvm %s: unexpected argument '%s'\n", me, argv[optind]);
		return FTVM_EXIT_USAGE;
	}
	const char *missing = !o->addr ? (primary ? "--peer HOST:PORT" : "--listen HOST:PORT")
			      : !o->certs ? "--certs DIR" : !o->arbiter ? "--arbiter lock:PATH"
			      : (!primary || o->from_snapshot) && !o->log_path ? "--log FILE" : NULL;
	if (missing) {
		fprintf(stderr, "ftvm %s: %s is required (see 'ftvm %s --help')\n", me, missing, me);
		return FTVM_EXIT_USAGE;
	}
	if (!o->dead_ms)
		o->dead_ms = 3 * o->heartbeat_ms;
	if (!o->heartbeat_ms || o->dead_ms <= o->heartbeat_ms) {
		fprintf(stderr, "ftvm %s: --dead-ms must be longer than --heartbeat-ms (> 0)\n", me);
		return FTVM_EXIT_USAGE;
	}
	if (!o->cfg.kernel) {
		o->default_kernel = cli_beside_exe("Image");
		o->default_initrd = cli_beside_exe("initrd.cpio");
		if (!o->default_kernel || access(o->default_kernel, R_OK)) {
			fprintf(stderr, "ftvm %s: no kernel given and the default guest is not built "
				"(%s missing): run 'make domT' or pass --kernel\n", me,
				o->default_kernel ? o->default_kernel : "domT/Image");
			return FTVM_EXIT_USAGE;
		}
		o->cfg.kernel = o->default_kernel;
		if (!o->cfg.initrd)
			o->cfg.initrd = o->default_initrd;
	}
	if (o->cfg.net && strncmp(o->cfg.net, "tap:", 4)) {
		fprintf(stderr, "ftvm %s: --net %s: the pair needs tap:IF (user networking cannot "
			"move to another host)\n", me, o->cfg.net);
		return FTVM_EXIT_USAGE;
	}
	snprintf(o->ca_file, sizeof(o->ca_file), "%s/ca.crt", o->certs);
	snprintf(o->cert_file, sizeof(o->cert_file), "%s/%s.crt", o->certs, o->name);
	snprintf(o->key_file, sizeof(o->key_file), "%s/%s.key", o->certs, o->name);
	const char *files[] = { o->ca_file, o->cert_file, o->key_file };
	for (size_t i = 0; i < 3; i++) {
		if (access(files[i], R_OK)) {
			fprintf(stderr, "ftvm %s: %s: %s (make certificates with 'ftvm certs init DIR "
				"--hosts %s,%s')\n", me, files[i], strerror(errno), o->name, o->peer_name);
			return FTVM_EXIT_USAGE;
		}
	}
	return -1;
}

static void ft_opts_free(struct ft_opts *o)
{
	free(o->default_kernel);
	free(o->default_initrd);
}


int cli_primary(int argc, char **argv)
{
	struct ft_opts o;
	int rc = ft_opts_parse(&o, argc, argv);

	if (rc < 0)
		rc = ft_primary_run(&o);
	ft_opts_free(&o);
	return rc;
}

int cli_backup(int argc, char **argv)
{
	struct ft_opts o;
	int rc = ft_opts_parse(&o, argc, argv);

	if (rc < 0)
		rc = ft_backup_run(&o);
	ft_opts_free(&o);
	return rc;
}
