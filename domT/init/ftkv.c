// SPDX-License-Identifier: MIT
// ftkv: the guest's TCP key/value server (port 7000), one epoll loop, line protocol.
//
// Protocol, one command per line (LF or CRLF), replies are one line each:
//   SET key value   -> OK              (value is the rest of the line, may hold spaces)
//   GET key         -> VALUE value | NOTFOUND
//   INCR key        -> VALUE n         (signed 64-bit; a missing key counts as 0)
//   DEL key         -> OK | NOTFOUND
//   STATS           -> STATS keys=N ops=N conns=N   (ops: commands served; conns: open now)
//   PING            -> PONG
//   anything else   -> ERR reason
// Lines are bounded to FTKV_LINE_MAX bytes, keys to FTKV_KEYS_MAX, stored bytes to
// FTKV_DATA_MAX.  Usage: ftkv [PORT].  If FTKV_READY_FD is set, one byte is written
// to that fd once the socket listens (init waits for it).
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define FTKV_PORT 7000
#define FTKV_LINE_MAX 4096
#define FTKV_KEYS_MAX 65536
#define FTKV_DATA_MAX (64u << 20)
#define FTKV_CONNS_MAX 1000
#define FTKV_BUCKETS 16384
#define FTKV_OUT_HIGH (1u << 20)

struct kv_entry {
	struct kv_entry *next;
	size_t key_len, val_len;
	char data[]; /* key bytes, then value bytes */
};

struct conn {
	int fd;
	int discarding; /* dropping the rest of an over-long line */
	uint32_t events;
	size_t in_len;
	char in[FTKV_LINE_MAX + 2];
	char *out;
	size_t out_len, out_off, out_cap;
};

static struct kv_entry *buckets[FTKV_BUCKETS];
static size_t n_keys, data_bytes;
static uint64_t n_ops;
static unsigned n_conns;
static int epfd;

static uint32_t kv_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ (uint8_t)*key++) * 16777619u;
	return h;
}

static struct kv_entry **kv_find(const char *key, size_t len)
{
	struct kv_entry **pp = &buckets[kv_hash(key, len) % FTKV_BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->key_len == len && !memcmp((*pp)->data, key, len))
			break;
	return pp;
}

/* Replaces or inserts; returns NULL or an error reason. */
static const char *kv_set(const char *key, size_t key_len, const char *val, size_t val_len)
{
	struct kv_entry **pp = kv_find(key, key_len), *old = *pp, *e;
	size_t old_bytes = old ? old->key_len + old->val_len : 0;

	if (!old && n_keys >= FTKV_KEYS_MAX)
		return "too many keys";
	if (data_bytes - old_bytes + key_len + val_len > FTKV_DATA_MAX)
		return "out of memory";
	e = malloc(sizeof(*e) + key_len + val_len);
	if (!e)
		return "out of memory";
	e->key_len = key_len;
	e->val_len = val_len;
	memcpy(e->data, key, key_len);
	memcpy(e->data + key_len, val, val_len);
	e->next = old ? old->next : NULL;
	*pp = e;
	free(old);
	n_keys += !old;
	data_bytes += key_len + val_len - old_bytes;
	return NULL;
}

static int kv_del(const char *key, size_t key_len)
{
	struct kv_entry **pp = kv_find(key, key_len), *e = *pp;

	if (!e)
		return 0;
	*pp = e->next;
	data_bytes -= e->key_len + e->val_len;
	n_keys--;
	free(e);
	return 1;
}

static void conn_update_events(struct conn *c)
{
	uint32_t ev = 0;
	struct epoll_event ee;

	if (c->out_len - c->out_off < FTKV_OUT_HIGH)
		ev |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	ee = (struct epoll_event){ .events = ev, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ee) == 0)
		c->events = ev;
}

static void reply(struct conn *c, const char *a, size_t a_len, const char *b, size_t b_len)
{
	size_t need = c->out_len + a_len + b_len + 1;

	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return; /* the client sees a missing reply; the server stays up */
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, a, a_len);
	memcpy(c->out + c->out_len + a_len, b, b_len);
	c->out_len += a_len + b_len;
	c->out[c->out_len++] = '\n';
}

static void reply_str(struct conn *c, const char *s)
{
	reply(c, s, strlen(s), "", 0);
}

static void reply_err(struct conn *c, const char *reason)
{
	reply(c, "ERR ", 4, reason, strlen(reason));
}

static const char *cmd_incr(const char *key, size_t key_len, int64_t *result)
{
	struct kv_entry *e = *kv_find(key, key_len);
	int64_t n = 0;

	if (e) {
		char buf[32], *end;

		if (e->val_len == 0 || e->val_len >= sizeof(buf))
			return "value is not an integer";
		memcpy(buf, e->data + e->key_len, e->val_len);
		buf[e->val_len] = '\0';
		errno = 0;
		n = strtoll(buf, &end, 10);
		if (*end || errno)
			return "value is not an integer";
	}
	if (n == INT64_MAX)
		return "increment would overflow";
	*result = n + 1;
	return NULL;
}

static void handle_line(struct conn *c, char *line, size_t len)
{
	char *cmd = line, *key, *val = NULL;
	size_t key_len;
	const char *err;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	key = memchr(line, ' ', len);
	if (key) {
		*key++ = '\0';
		key_len = strcspn(key, " ");
		if (key[key_len] == ' ') {
			key[key_len] = '\0';
			val = key + key_len + 1;
		}
	} else {
		key_len = 0;
	}

	if (!strcasecmp(cmd, "PING") && !key) {
		reply_str(c, "PONG");
	} else if (!strcasecmp(cmd, "STATS") && !key) {
		char buf[128];

		snprintf(buf, sizeof(buf), "STATS keys=%zu ops=%" PRIu64 " conns=%u", n_keys,
			 n_ops + 1, n_conns);
		reply_str(c, buf);
	} else if (!strcasecmp(cmd, "SET")) {
		if (!key_len || !val) {
			reply_err(c, "usage: SET key value");
			return;
		}
		err = kv_set(key, key_len, val, line + len - val);
		if (err) {
			reply_err(c, err);
			return;
		}
		reply_str(c, "OK");
	} else if (!strcasecmp(cmd, "GET") || !strcasecmp(cmd, "DEL") || !strcasecmp(cmd, "INCR")) {
		if (!key_len || val) {
			reply_err(c, "usage: GET|DEL|INCR key");
			return;
		}
		if (!strcasecmp(cmd, "GET")) {
			struct kv_entry *e = *kv_find(key, key_len);

			if (e)
				reply(c, "VALUE ", 6, e->data + e->key_len, e->val_len);
			else
				reply_str(c, "NOTFOUND");
		} else if (!strcasecmp(cmd, "DEL")) {
			reply_str(c, kv_del(key, key_len) ? "OK" : "NOTFOUND");
		} else {
			char num[32];
			int64_t n;

			err = cmd_incr(key, key_len, &n);
			if (!err) {
				snprintf(num, sizeof(num), "%" PRId64, n);
				err = kv_set(key, key_len, num, strlen(num));
			}
			if (err) {
				reply_err(c, err);
				return;
			}
			reply(c, "VALUE ", 6, num, strlen(num));
		}
	} else {
		reply_err(c, len ? "unknown command" : "empty line");
		return;
	}
	n_ops++;
}

/* Handles every complete line in the input buffer while the output is not backed up. */
static void conn_process(struct conn *c)
{
	size_t start = 0;

	while (c->out_len - c->out_off < FTKV_OUT_HIGH) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);

		if (!nl)
			break;
		*nl = '\0';
		if (c->discarding)
			c->discarding = 0;
		else
			handle_line(c, c->in + start, nl - (c->in + start));
		start = nl + 1 - c->in;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len > FTKV_LINE_MAX && !memchr(c->in, '\n', c->in_len)) {
		if (!c->discarding)
			reply_err(c, "line too long");
		c->discarding = 1;
		c->in_len = 0;
	}
}

static void conn_close(struct conn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
	n_conns--;
}

/* Returns -1 when the connection was closed. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_close(c);
			return -1;
		}
		c->out_off += n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return 0;
}

static void conn_event(struct conn *c, uint32_t events)
{
	if ((events & EPOLLIN) && c->in_len < sizeof(c->in)) {
		ssize_t n;

		do
			n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		while (n < 0 && errno == EINTR);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			conn_close(c);
			return;
		}
		if (n > 0)
			c->in_len += n;
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);
		return;
	}
	conn_process(c);
	if (conn_flush(c) < 0)
		return;
	/* Lines left waiting on a full output buffer continue once it drained. */
	if (c->in_len && c->out_len == 0)
		conn_process(c);
	if (conn_flush(c) < 0)
		return;
	conn_update_events(c);
}

static void accept_all(int lfd)
{
	for (;;) {
		int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ee;
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		c = n_conns < FTKV_CONNS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->events = EPOLLIN;
		ee = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
			close(fd);
			free(c);
			continue;
		}
		n_conns++;
	}
}

static int listen_on(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : FTKV_PORT;
	const char *ready = getenv("FTKV_READY_FD");
	struct epoll_event ee, events[64];
	int lfd;

	signal(SIGPIPE, SIG_IGN);
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: ftkv [PORT]\n");
		return 2;
	}
	lfd = listen_on(port);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || epfd < 0) {
		fprintf(stderr, "ftkv: cannot listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	ee = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ee) < 0) {
		fprintf(stderr, "ftkv: epoll_ctl: %s\n", strerror(errno));
		return 1;
	}
	printf("ftkv: listening on port %d\n", port);
	fflush(stdout);
	if (ready) {
		int fd = atoi(ready);

		if (write(fd, "R", 1) != 1)
			fprintf(stderr, "ftkv: readiness fd %d: %s\n", fd, strerror(errno));
		close(fd);
		unsetenv("FTKV_READY_FD");
	}
	for (;;) {
		int n = epoll_wait(epfd, events, 64, -1);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "ftkv: epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (!events[i].data.ptr)
				accept_all(lfd);
			else
				conn_event(events[i].data.ptr, events[i].events);
		}
	}
}
