/* SPDX-License-Identifier: MIT */
/* status: 'ftvm status', 'ftvm promote' and 'ftvm protect', one request each to a daemon's control socket. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Send one request line to a daemon's control socket; the answer into buf (NUL-terminated). */
static int ask(const char *cmd, const char *path, const char *req, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ftvm %s: %s: path too long\n", cmd, path);
		return FTVM_EXIT_USAGE;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ftvm %s: %s: %s (is the daemon running with --control?)\n", cmd, path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return FTVM_EXIT_HOST_ERROR;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "ftvm %s: %s: %s\n", cmd, path, strerror(errno));
		close(fd);
		return FTVM_EXIT_HOST_ERROR;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	if (!got) {
		fprintf(stderr, "ftvm %s: %s: no answer\n", cmd, path);
		return FTVM_EXIT_HOST_ERROR;
	}
	return 0;
}

/* A command to a daemon: its answer on stdout when it starts with "ok" (exit 0), else on stderr (exit 1). */
static int command(const char *cmd, const char *path, const char *req)
{
	char buf[1024];
	int rc = ask(cmd, path, req, buf, sizeof(buf));

	if (rc)
		return rc;
	fputs(buf, strncmp(buf, "ok", 2) ? stderr : stdout);
	return strncmp(buf, "ok", 2) ? FTVM_EXIT_HOST_ERROR : 0;
}

int cli_promote(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = NULL;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'h':
			printf("usage: ftvm promote --control SOCK\n"
			       "  A planned switchover, asked of the primary at SOCK: it stops the guest at\n"
			       "  a step, the backup replays to it, and the two swap roles with nothing lost\n"
			       "  and no state copied (both machines are the same at that step). Each\n"
			       "  daemon starts again in the other role as the same process; both need the\n"
			       "  other role's address (the primary --listen, the backup --peer) and --log.\n"
			       "  Exit 0 when the primary took it, 1 when it refused (the reason is printed)\n"
			       "  or could not be reached.\n");
			return 0;
		default:
			cli_bad_option("promote", c, argv[optind - 1]);
			return FTVM_EXIT_USAGE;
		}
	}
	if (!path || optind < argc) {
		fprintf(stderr, "usage: ftvm promote --control SOCK\n");
		return FTVM_EXIT_USAGE;
	}
	return command("promote", path, "promote\n");
}

int cli_protect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "backup", required_argument, NULL, 'b' },
		{ "backup-name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char usage[] = "usage: ftvm protect --control SOCK --backup HOST:PORT --backup-name NAME\n";
	const char *path = NULL, *addr = NULL, *name = NULL;
	char req[512];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'b': addr = optarg; break;
		case 'n': name = optarg; break;
		case 'h':
			printf("%s"
			       "  A primary that runs alone, its backup's host gone for good (after a\n"
			       "  failover, the dead host), is given a backup on another host: the\n"
			       "  'ftvm backup' listening at HOST:PORT with the certificate NAME (of the\n"
			       "  same CA). The primary dials it from then on; the new backup gets the log\n"
			       "  from its start, replays it, and protects the guest once it caught up.\n"
			       "  Exit 0 when the primary took it, 1 when it refused (the reason is printed)\n"
			       "  or could not be reached.\n", usage);
			return 0;
		default:
			cli_bad_option("protect", c, argv[optind - 1]);
			return FTVM_EXIT_USAGE;
		}
	}
	if (!path || !addr || !name || optind < argc || strpbrk(addr, " \t\r\n") || strpbrk(name, " \t\r\n") ||
	    snprintf(req, sizeof(req), "protect %s %s\n", addr, name) >= (int)sizeof(req)) {
		fputs(usage, stderr);
		return FTVM_EXIT_USAGE;
	}
	return command("protect", path, req);
}

int cli_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = NULL;
	bool json = false;
	char buf[8192];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'j': json = true; break;
		case 'h':
			printf("usage: ftvm status --control SOCK [--json]\n"
			       "  Shows a daemon's role, epoch, peer, lag, buffer, log rate, paused time,\n"
			       "  held outputs, last heartbeat and whether the guest is protected.\n");
			return 0;
		default:
			cli_bad_option("status", c, argv[optind - 1]);
			return FTVM_EXIT_USAGE;
		}
	}
	if (!path || optind < argc) {
		fprintf(stderr, "usage: ftvm status --control SOCK [--json]\n");
		return FTVM_EXIT_USAGE;
	}
	int rc = ask("status", path, json ? "json\n" : "text\n", buf, sizeof(buf));
	if (rc)
		return rc;
	fputs(buf, stdout);
	return 0;
}
