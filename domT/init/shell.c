// SPDX-License-Identifier: MIT
// shell: domT's console shell: help, uname, ps, free, uptime, ip addr, dmesg, cat, ls, echo, run,
// exit, poweroff. No busybox: Debian's source needs a deb-src entry this machine does not have.
#include "shell.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* The first line of a small /proc file, without its newline; "" when unreadable. */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void cmd_help(const char *arg)
{
	out("domT shell commands:\n"
	    "  help              this list\n"
	    "  uname [-a]        the kernel's name (and release, version, machine)\n"
	    "  ps                processes: pid, state, command line\n"
	    "  free              memory in KiB\n"
	    "  uptime            time since boot, load averages, processes\n"
	    "  ip addr           network interfaces and their addresses\n"
	    "  dmesg             the kernel's log\n"
	    "  ls [DIR]  cat FILE  echo TEXT\n"
	    "  run WORKLOAD      ftkv, cpubench, disk-write, disk-verify, idle:SECONDS\n"
	    "  exit              leave the shell (init carries on with its list)\n"
	    "  poweroff          power the guest off\n"
	    "On the host side, Ctrl-A x quits ftvm.\n");
}

static void cmd_uname(const char *arg)
{
	struct utsname u;

	if (uname(&u) < 0) {
		out("uname: %s\n", strerror(errno));
		return;
	}
	if (!strcmp(arg, "-a"))
		out("%s %s %s %s %s\n", u.sysname, u.nodename, u.release, u.version, u.machine);
	else if (!*arg || !strcmp(arg, "-s"))
		out("%s\n", u.sysname);
	else if (!strcmp(arg, "-r"))
		out("%s\n", u.release);
	else if (!strcmp(arg, "-m"))
		out("%s\n", u.machine);
	else
		out("uname: options -a -s -r -m\n");
}

static void cmd_ps(const char *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d) {
		out("ps: /proc: %s\n", strerror(errno));
		return;
	}
	out("  PID S CMD\n");
	while ((de = readdir(d))) {
		char path[300], stat[512], cmd[256] = "";
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		read_line(path, stat, sizeof(stat));
		/* "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'. */
		char *lp = strchr(stat, '('), *rp = strrchr(stat, ')');
		if (!lp || !rp || rp[1] != ' ')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		FILE *f = fopen(path, "re");
		size_t n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
		if (f)
			fclose(f);
		for (size_t i = 0; i + 1 < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (!n)	/* a kernel thread: its name in brackets, as ps does */
			snprintf(cmd, sizeof(cmd), "[%.*s]", (int)(rp - lp - 1), lp + 1);
		out("%5s %c %s\n", de->d_name, rp[2], cmd);
	}
	closedir(d);
}

static void cmd_free(const char *arg)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0) {
		out("free: %s\n", strerror(errno));
		return;
	}
	unsigned long long u = si.mem_unit ? si.mem_unit : 1;
	unsigned long long total = si.totalram * u / 1024, freek = si.freeram * u / 1024;
	out("%-6s %10s %10s %10s %10s %10s\n", "", "total", "used", "free", "shared", "buffers");
	out("%-6s %10llu %10llu %10llu %10llu %10llu\n", "Mem:", total, total - freek, freek,
	    si.sharedram * u / 1024, si.bufferram * u / 1024);
	out("%-6s %10llu %10llu %10llu\n", "Swap:", si.totalswap * u / 1024,
	    (si.totalswap - si.freeswap) * u / 1024, si.freeswap * u / 1024);
}

static void cmd_uptime(const char *arg)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0) {
		out("uptime: %s\n", strerror(errno));
		return;
	}
	long s = si.uptime;
	out("up %ld day%s, %02ld:%02ld:%02ld, %u processes, load average: %.2f, %.2f, %.2f\n", s / 86400,
	    s / 86400 == 1 ? "" : "s", s / 3600 % 24, s / 60 % 60, s % 60, si.procs,
	    si.loads[0] / 65536.0, si.loads[1] / 65536.0, si.loads[2] / 65536.0);
}

static void cmd_ip(const char *arg)
{
	struct ifaddrs *ifa, *a;
	unsigned idx_seen[64];
	int nseen = 0;

	if (strcmp(arg, "addr") && strcmp(arg, "a") && strcmp(arg, "address") && strcmp(arg, "addr show")) {
		out("ip: only 'ip addr' here\n");
		return;
	}
	if (getifaddrs(&ifa) < 0) {
		out("ip: %s\n", strerror(errno));
		return;
	}
	/* One block per interface, in the kernel's order: link line, then its addresses. */
	for (a = ifa; a; a = a->ifa_next) {
		unsigned idx = if_nametoindex(a->ifa_name);
		bool seen = false;
		for (int i = 0; i < nseen; i++)
			seen |= idx_seen[i] == idx;
		if (seen || nseen == 64)
			continue;
		idx_seen[nseen++] = idx;
		out("%u: %s: <%s%s%s>\n", idx, a->ifa_name, (a->ifa_flags & IFF_LOOPBACK) ? "LOOPBACK," : "",
		    (a->ifa_flags & IFF_UP) ? "UP" : "DOWN", (a->ifa_flags & IFF_RUNNING) ? ",LOWER_UP" : "");
		for (struct ifaddrs *b = ifa; b; b = b->ifa_next) {
			char buf[INET6_ADDRSTRLEN];
			if (strcmp(b->ifa_name, a->ifa_name) || !b->ifa_addr)
				continue;
			if (b->ifa_addr->sa_family == AF_PACKET) {
				const struct sockaddr_ll *ll = (const void *)b->ifa_addr;
				out("    link/%s", (b->ifa_flags & IFF_LOOPBACK) ? "loopback" : "ether");
				for (int i = 0; i < ll->sll_halen; i++)
					out("%c%02x", i ? ':' : ' ', ll->sll_addr[i]);
				out("\n");
			} else if (b->ifa_addr->sa_family == AF_INET) {
				const struct sockaddr_in *in = (const void *)b->ifa_addr;
				const struct sockaddr_in *mask = (const void *)b->ifa_netmask;
				int prefix = mask ? __builtin_popcount(mask->sin_addr.s_addr) : 32;
				out("    inet %s/%d\n", inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)), prefix);
			} else if (b->ifa_addr->sa_family == AF_INET6) {
				const struct sockaddr_in6 *in6 = (const void *)b->ifa_addr;
				out("    inet6 %s\n", inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)));
			}
		}
	}
	freeifaddrs(ifa);
}

static void cmd_dmesg(const char *arg)
{
	int len = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	char *buf = len > 0 ? malloc((size_t)len) : NULL;

	if (!buf) {
		out("dmesg: %s\n", len < 0 ? strerror(errno) : "out of memory");
		return;
	}
	int n = klogctl(SYSLOG_ACTION_READ_ALL, buf, len);
	if (n < 0) {
		out("dmesg: %s\n", strerror(errno));
	} else {
		/* Each record starts "<level>"; print the text after it, as dmesg does. */
		for (char *p = buf, *end = buf + n; p < end;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char *t = p;
			if (*t == '<' && (t = memchr(p, '>', l)))
				t++;
			else
				t = p;
			out("%.*s\n", (int)(l - (size_t)(t - p)), t);
			p += l + 1;
		}
	}
	free(buf);
}

static void cmd_ls(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(*dir ? dir : ".");

	if (!d) {
		out("ls: %s: %s\n", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			out("%s\n", de->d_name);
	closedir(d);
}

static void cmd_cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		out("cat: %s: %s\n", path, strerror(errno));
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			break;
	close(fd);
}

static void cmd_echo(const char *arg)
{
	out("%s\n", arg);
}

static const struct {
	const char *name;
	void (*fn)(const char *arg);
} commands[] = {
	{ "help", cmd_help }, { "uname", cmd_uname }, { "ps", cmd_ps }, { "free", cmd_free },
	{ "uptime", cmd_uptime }, { "ip", cmd_ip }, { "dmesg", cmd_dmesg }, { "ls", cmd_ls },
	{ "cat", cmd_cat }, { "echo", cmd_echo },
};

void shell_main(const struct shell_ops *ops)
{
	char line[1024];

	out("domT shell: type 'help' for the commands\n");
	for (;;) {
		char *cmd, *arg;
		size_t i;

		ops->reap();
		out("domT# ");
		if (!fgets(line, sizeof(line), stdin)) {
			clearerr(stdin);
			out("\n");
			return;
		}
		line[strcspn(line, "\r\n")] = '\0';
		cmd = line + strspn(line, " \t");
		arg = cmd + strcspn(cmd, " \t");
		if (*arg)
			*arg++ = '\0';
		arg += strspn(arg, " \t");
		if (*cmd == '\0')
			continue;
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(cmd, commands[i].name))
				break;
		if (i < sizeof(commands) / sizeof(commands[0]))
			commands[i].fn(arg);
		else if (!strcmp(cmd, "run"))
			ops->run(arg);
		else if (!strcmp(cmd, "exit"))
			return;
		else if (!strcmp(cmd, "poweroff"))
			ops->poweroff();
		else
			out("%s: unknown command (try 'help')\n", cmd);
	}
}
