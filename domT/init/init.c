// SPDX-License-Identifier: MIT
// domT's PID 1: mounts, configures the network from the kernel command line, runs workloads, powers off.
//
// Command line keys (read from /proc/cmdline; see domT/README.md):
//   ftvm.run=NAME[,NAME...]   ftkv cpubench disk-write disk-verify shell (shell.c) idle:SECONDS poweroff
//                             (default "ftkv,shell"; a poweroff always follows the list)
//   ftvm.ip=ADDR/PREFIX[,GW]  eth0 address (default 10.0.2.15/24,10.0.2.2 if eth0 exists; "none" skips)
//   ftvm.cpubench=N           cpubench iterations
//   ftvm.disk=DEV ftvm.diskblocks=N ftvm.diskgen=G   ftdisk options
// Workloads print their own progress; init prints "domT: PASS name" or "domT: FAIL name: reason".
// On a failure the guest powers off.  init never exits: PID 1 exiting panics the kernel.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shell.h"

#define __must_check __attribute__((warn_unused_result))

#define CMDLINE_BYTES 4096
#define ARG_BYTES 256
#define FTKV_READY_TIMEOUT_MS 60000

static char cmdline[CMDLINE_BYTES];

static void __attribute__((noreturn)) power_off(void);
static int run_workload(const char *name);

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void read_cmdline(void)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);

	if (fd >= 0)
		close(fd);
	cmdline[n > 0 ? n : 0] = '\0';
	cmdline[strcspn(cmdline, "\n")] = '\0';
}

/* Copies the value of "key=value" from the command line; the last occurrence wins. */
static int cmdline_get(const char *key, char *out, size_t out_bytes)
{
	size_t key_len = strlen(key);
	const char *p = cmdline;
	int found = 0;

	while (*p) {
		size_t tok_len;

		p += strspn(p, " ");
		tok_len = strcspn(p, " ");
		if (tok_len > key_len && !strncmp(p, key, key_len) && p[key_len] == '=') {
			size_t val_len = tok_len - key_len - 1;

			if (val_len >= out_bytes)
				val_len = out_bytes - 1;
			memcpy(out, p + key_len + 1, val_len);
			out[val_len] = '\0';
			found = 1;
		}
		p += tok_len;
	}
	return found;
}

static void setup_console(void)
{
	if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0) {
		int fd = open("/dev/console", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static void setup_mounts(void)
{
	static const struct {
		const char *src, *dir, *type;
	} mounts[] = {
		{ "proc", "/proc", "proc" },
		{ "sysfs", "/sys", "sysfs" },
		{ "devtmpfs", "/dev", "devtmpfs" },
	};

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		mkdir(mounts[i].dir, 0755);
		if (mount(mounts[i].src, mounts[i].dir, mounts[i].type, 0, NULL) < 0 && errno != EBUSY)
			say("domT: mount %s: %s\n", mounts[i].dir, strerror(errno));
	}
}

static void set_sin(struct sockaddr *sa, in_addr_t addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr };

	memcpy(sa, &sin, sizeof(sin));
}

static int __must_check net_if_up(int fd, const char *ifname, in_addr_t addr, in_addr_t mask)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	set_sin(&ifr.ifr_addr, addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
		return -errno;
	set_sin(&ifr.ifr_netmask, mask);
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

static int __must_check net_default_route(int fd, const char *ifname, in_addr_t gw)
{
	char dev[IFNAMSIZ];
	struct rtentry rt;

	memset(&rt, 0, sizeof(rt));
	snprintf(dev, sizeof(dev), "%s", ifname);
	set_sin(&rt.rt_dst, INADDR_ANY);
	set_sin(&rt.rt_genmask, INADDR_ANY);
	set_sin(&rt.rt_gateway, gw);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = dev;
	if (ioctl(fd, SIOCADDRT, &rt) < 0)
		return -errno;
	return 0;
}

/* Parses "ADDR/PREFIX[,GW]"; gw is left 0 if absent. */
static int __must_check parse_ip(const char *spec, in_addr_t *addr, in_addr_t *mask,
				 in_addr_t *gw)
{
	char buf[ARG_BYTES], *slash, *comma, *end;
	struct in_addr a;
	long prefix;

	snprintf(buf, sizeof(buf), "%s", spec);
	comma = strchr(buf, ',');
	if (comma)
		*comma++ = '\0';
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash++ = '\0';
	prefix = strtol(slash, &end, 10);
	if (*end || prefix < 0 || prefix > 32 || !inet_aton(buf, &a))
		return -EINVAL;
	*addr = a.s_addr;
	*mask = htonl(prefix ? 0xffffffffu << (32 - prefix) : 0);
	*gw = 0;
	if (comma) {
		if (!inet_aton(comma, &a))
			return -EINVAL;
		*gw = a.s_addr;
	}
	return 0;
}

static void setup_network(void)
{
	char spec[ARG_BYTES] = "10.0.2.15/24,10.0.2.2";
	int have_eth0 = if_nametoindex("eth0") != 0;
	int explicit = cmdline_get("ftvm.ip", spec, sizeof(spec));
	in_addr_t addr, mask, gw;
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		say("domT: network: socket: %s\n", strerror(errno));
		return;
	}
	err = net_if_up(fd, "lo", htonl(INADDR_LOOPBACK), htonl(0xff000000u));
	if (err)
		say("domT: network: lo: %s\n", strerror(-err));
	if (!strcmp(spec, "none") || !strcmp(spec, "off") || (!have_eth0 && !explicit))
		goto out;
	if (!have_eth0) {
		say("domT: network: ftvm.ip given but there is no eth0\n");
		goto out;
	}
	if (parse_ip(spec, &addr, &mask, &gw)) {
		say("domT: network: bad ftvm.ip=%s (want ADDR/PREFIX[,GW])\n", spec);
		goto out;
	}
	err = net_if_up(fd, "eth0", addr, mask);
	if (!err && gw)
		err = net_default_route(fd, "eth0", gw);
	if (err)
		say("domT: network: eth0: %s\n", strerror(-err));
	else
		say("domT: network: eth0 %s\n", spec);
out:
	close(fd);
}

/* PID 1 inherits every orphan; reap whatever has exited besides the one we wait for. */
static void reap_orphans(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		say("domT: process %d exited (status 0x%x)\n", (int)pid, status);
}

static pid_t spawn(const char *const argv[], int ready_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *args[16];
		size_t i;

		/* exec wants writable strings; the child's copies are as good as any. */
		for (i = 0; argv[i] && i < 15; i++)
			args[i] = strdup(argv[i]);
		args[i] = NULL;
		if (ready_fd >= 0) {
			dup2(ready_fd, 3);
			setenv("FTKV_READY_FD", "3", 1);
		}
		execv(args[0], args);
		fprintf(stderr, "domT: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Runs argv to completion; returns 0 or fills reason. */
static int __must_check run_wait(const char *const argv[], char *reason, size_t reason_bytes)
{
	pid_t pid = spawn(argv, -1);
	int status;

	if (pid < 0) {
		snprintf(reason, reason_bytes, "fork: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		pid_t got = waitpid(-1, &status, 0);

		if (got == pid)
			break;
		if (got < 0 && errno != EINTR) {
			snprintf(reason, reason_bytes, "waitpid: %s", strerror(errno));
			return -1;
		}
		if (got > 0)
			say("domT: process %d exited (status 0x%x)\n", (int)got, status);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(reason, reason_bytes, "%s exited with status %d", argv[0], WEXITSTATUS(status));
	else
		snprintf(reason, reason_bytes, "%s killed by signal %d", argv[0], WTERMSIG(status));
	return -1;
}

static int __must_check start_ftkv(char *reason, size_t reason_bytes)
{
	const char *argv[] = { "/bin/ftkv", NULL };
	struct pollfd pfd;
	int pipefd[2], n;
	char byte;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(reason, reason_bytes, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = spawn(argv, pipefd[1]);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		snprintf(reason, reason_bytes, "fork: %s", strerror(errno));
		return -1;
	}
	pfd = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	do
		n = poll(&pfd, 1, FTKV_READY_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		close(pipefd[0]);
		snprintf(reason, reason_bytes, "not listening after %d ms", FTKV_READY_TIMEOUT_MS);
		return -1;
	}
	n = read(pipefd[0], &byte, 1);
	close(pipefd[0]);
	if (n == 1)
		return 0;
	snprintf(reason, reason_bytes, "exited before listening");
	return -1;
}

static int __must_check idle_seconds(const char *arg, char *reason, size_t reason_bytes)
{
	char *end;
	long secs = strtol(arg, &end, 10);
	struct timespec ts;

	if (*arg == '\0' || *end || secs < 0 || secs > 86400) {
		snprintf(reason, reason_bytes, "bad duration '%s'", arg);
		return -1;
	}
	ts = (struct timespec){ .tv_sec = secs };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

static void shell(void)
{
	static const struct shell_ops ops = {
		.run = run_workload, .poweroff = power_off, .reap = reap_orphans,
	};

	shell_main(&ops);
}

static void fail(const char *name, const char *reason)
{
	say("domT: FAIL %s: %s\n", name, reason);
	power_off();
}

/* Runs one workload; returns only if it passed. */
static int run_workload(const char *name)
{
	char reason[ARG_BYTES] = "";
	char a1[ARG_BYTES], a2[ARG_BYTES], a3[ARG_BYTES];
	int err = 0;

	if (!strcmp(name, "ftkv")) {
		err = start_ftkv(reason, sizeof(reason));
	} else if (!strcmp(name, "cpubench")) {
		const char *argv[] = { "/bin/cpubench", a1, NULL };

		if (!cmdline_get("ftvm.cpubench", a1, sizeof(a1)))
			argv[1] = NULL;
		err = run_wait(argv, reason, sizeof(reason));
	} else if (!strcmp(name, "disk-write") || !strcmp(name, "disk-verify")) {
		const char *argv[10] = { "/bin/ftdisk", strchr(name, '-') + 1 };
		int argc = 2;

		if (cmdline_get("ftvm.disk", a1, sizeof(a1))) {
			argv[argc++] = "-d";
			argv[argc++] = a1;
		}
		if (cmdline_get("ftvm.diskblocks", a2, sizeof(a2))) {
			argv[argc++] = "-n";
			argv[argc++] = a2;
		}
		if (cmdline_get("ftvm.diskgen", a3, sizeof(a3))) {
			argv[argc++] = "-g";
			argv[argc++] = a3;
		}
		err = run_wait(argv, reason, sizeof(reason));
	} else if (!strcmp(name, "shell")) {
		shell();
	} else if (!strncmp(name, "idle:", 5)) {
		err = idle_seconds(name + 5, reason, sizeof(reason));
	} else if (!strcmp(name, "poweroff")) {
		power_off();
	} else {
		snprintf(reason, sizeof(reason), "unknown workload");
		err = -1;
	}
	if (err)
		fail(name, reason);
	say("domT: PASS %s\n", name);
	return 0;
}

static void __attribute__((noreturn)) power_off(void)
{
	say("domT: powering off\n");
	sync();
	reboot(RB_POWER_OFF);
	say("domT: poweroff failed: %s; halting\n", strerror(errno));
	for (;;)
		pause();
}

int main(void)
{
	char run[CMDLINE_BYTES] = "ftkv,shell";
	char *name, *save;

	setup_mounts();
	setup_console();
	signal(SIGPIPE, SIG_IGN);
	setenv("PATH", "/bin", 1);
	read_cmdline();
	setup_network();
	cmdline_get("ftvm.run", run, sizeof(run));
	say("domT init: ready\n");
	say("domT: run %s\n", run);
	for (name = strtok_r(run, ",", &save); name; name = strtok_r(NULL, ",", &save))
		run_workload(name);
	power_off();
}
