// SPDX-License-Identifier: MIT
// Runs a host build of ftkv (../ftkv-host next to this binary) and checks its line protocol and limits.
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t server_pid;
static int server_port;
static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                     \
		if (!(cond)) {                                                       \
			fprintf(stderr, "test_ftkv: %s:%d: ", __FILE__, __LINE__);       \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
			failures++;                                                      \
		}                                                                    \
	} while (0)

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

/* Starts ftkv on a random port and waits for its readiness byte; retries on a busy port. */
static int start_server(const char *path)
{
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (int attempt = 0; attempt < 10; attempt++) {
		char port[16];
		int pipefd[2], n;
		struct pollfd pfd;
		char byte;

		if (pipe(pipefd) < 0)
			return -errno;
		server_port = 20000 + rand() % 40000;
		snprintf(port, sizeof(port), "%d", server_port);
		server_pid = fork();
		if (server_pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);

			dup2(pipefd[1], 3);
			dup2(devnull, 1);
			setenv("FTKV_READY_FD", "3", 1);
			execl(path, path, port, (char *)NULL);
			_exit(127);
		}
		close(pipefd[1]);
		pfd = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
		n = poll(&pfd, 1, 10000);
		if (n > 0)
			n = read(pipefd[0], &byte, 1);
		close(pipefd[0]);
		if (n == 1)
			return 0;
		stop_server();
	}
	return -EADDRINUSE;
}

static int connect_server(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(server_port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "test_ftkv: connect: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0) {
			fprintf(stderr, "test_ftkv: write: %s\n", strerror(errno));
			exit(1);
		}
		buf += n;
		len -= n;
	}
}

/* Reads one reply line (without the newline) with a 10 s timeout. */
static void recv_line(int fd, char *out, size_t out_bytes)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&pfd, 1, 10000) <= 0 || read(fd, &c, 1) != 1) {
			fprintf(stderr, "test_ftkv: no complete reply (got '%.*s')\n", (int)len, out);
			exit(1);
		}
		if (c == '\n')
			break;
		if (len + 1 < out_bytes)
			out[len++] = c;
	}
	out[len] = '\0';
}

static void expect_reply(int fd, const char *cmd, const char *want, int prefix_only)
{
	char got[8192];

	send_all(fd, cmd, strlen(cmd));
	send_all(fd, "\n", 1);
	recv_line(fd, got, sizeof(got));
	CHECK(prefix_only ? !strncmp(got, want, strlen(want)) : !strcmp(got, want),
	      "'%.60s' replied '%s', want '%s%s'", cmd, got, want, prefix_only ? "..." : "");
}

static void expect(int fd, const char *cmd, const char *want)
{
	expect_reply(fd, cmd, want, 0);
}

static void expect_prefix(int fd, const char *cmd, const char *want)
{
	expect_reply(fd, cmd, want, 1);
}

static void test_basic(void)
{
	int a = connect_server(), b = connect_server();

	expect(a, "PING", "PONG");
	expect(a, "SET greeting hello  world", "OK");
	expect(a, "GET greeting", "VALUE hello  world");
	expect(a, "SET greeting bye\r", "OK");
	expect(b, "GET greeting", "VALUE bye");
	expect(a, "INCR n", "VALUE 1");
	expect(b, "incr n", "VALUE 2");
	expect_prefix(a, "INCR greeting", "ERR ");
	expect(a, "SET big 9223372036854775807", "OK");
	expect_prefix(a, "INCR big", "ERR ");
	expect(a, "SET neg -5", "OK");
	expect(a, "INCR neg", "VALUE -4");
	expect(a, "GET nothing", "NOTFOUND");
	expect(a, "DEL neg", "OK");
	expect(a, "DEL neg", "NOTFOUND");
	expect_prefix(a, "GET", "ERR ");
	expect_prefix(a, "SET onlykey", "ERR ");
	expect_prefix(a, "GET a b", "ERR ");
	expect_prefix(a, "FROB", "ERR ");
	expect_prefix(a, "STATS", "STATS keys=3 ops=");
	expect_prefix(b, "STATS extra", "ERR ");
	close(b);
	close(a);
}

static void test_long_line(void)
{
	int fd = connect_server();
	char *line = malloc(10000);

	memcpy(line, "SET k ", 6);
	memset(line + 6, 'v', 4090);
	line[4096] = '\0';
	expect(fd, line, "OK"); /* exactly the limit */
	memset(line + 6, 'v', 9000);
	line[9006] = '\0';
	expect(fd, line, "ERR line too long");
	expect(fd, "PING", "PONG"); /* the connection survives and resynchronises */
	free(line);
	close(fd);
}

static void test_pipelined_and_key_limit(void)
{
	const int keys = 65536;
	size_t cap = (size_t)keys * 32, len = 0;
	char *buf = malloc(cap), got[256];
	int fd = connect_server(), ok = 0, errs = 0;

	expect(fd, "DEL greeting", "OK");
	expect(fd, "DEL n", "OK");
	expect(fd, "DEL big", "OK");
	expect(fd, "DEL k", "OK");
	for (int i = 0; i <= keys; i++)
		len += snprintf(buf + len, cap - len, "SET key%d %d\n", i, i);
	/* Write and read concurrently so neither side's socket buffer stalls the other. */
	if (fork() == 0) {
		send_all(fd, buf, len);
		_exit(0);
	}
	for (int i = 0; i <= keys; i++) {
		recv_line(fd, got, sizeof(got));
		if (!strcmp(got, "OK"))
			ok++;
		else if (!strcmp(got, "ERR too many keys"))
			errs++;
	}
	wait(NULL);
	CHECK(ok == keys && errs == 1, "key limit: %d OK and %d ERR, want %d and 1", ok, errs, keys);
	expect(fd, "GET key12345", "VALUE 12345");
	expect_prefix(fd, "STATS", "STATS keys=65536 ");
	free(buf);
	close(fd);
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return 1;
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/../ftkv-host", dirname(self));
	signal(SIGPIPE, SIG_IGN);
	if (start_server(path) < 0) {
		fprintf(stderr, "test_ftkv: cannot start %s\n", path);
		return 1;
	}
	test_basic();
	test_long_line();
	test_pipelined_and_key_limit();
	stop_server();
	if (failures) {
		fprintf(stderr, "test_ftkv: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_ftkv: ok\n");
	return 0;
}
