/* SPDX-License-Identifier: MIT */
/* control: the daemons' unix control socket: their status, as text or JSON, and commands (promote). */
#include "pair.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct ft_control {
	struct xport_loop *loop;
	int fd;
	char path[108];
	ft_status_fn *fn;
	ft_command_fn *cmd;
	void *opaque;
};

static void json_str(char **p, size_t *left, const char *s)
{
	int n = snprintf(*p, *left, "\"");
	for (; s && *s && n >= 0 && (size_t)n < *left; s++) {
		if (*s == '"' || *s == '\\')
			n += snprintf(*p + n, *left - n, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			n += snprintf(*p + n, *left - n, "\\u%04x", *s);
		else
			n += snprintf(*p + n, *left - n, "%c", *s);
	}
	if (n >= 0 && (size_t)n < *left)
		n += snprintf(*p + n, *left - n, "\"");
	if (n < 0 || (size_t)n >= *left)
		n = (int)*left - 1;
	*p += n;
	*left -= n;
}

#define ADD(...)                                            \
	do {                                                \
		int n_ = snprintf(p, left, __VA_ARGS__);    \
		if (n_ < 0 || (size_t)n_ >= left)           \
			return;                             \
		p += n_;                                    \
		left -= n_;                                 \
	} while (0)

void ft_status_format(const struct ft_status *st, bool json, char *buf, size_t len)
{
	char *p = buf;
	size_t left = len;

	buf[0] = '\0';
	if (!json) {
		ADD("role        %s\n", st->role);
		if (st->protocol)
			ADD("protocol    %s\n", st->protocol);
		ADD("epoch       %" PRIu64 " (arbiter %s, lease %s)\n", st->epoch, st->arbiter,
		    st->lease[0] ? st->lease : "none");
		ADD("peer        %s, link %s, last heartbeat %.0f ms ago\n", st->peer,
		    st->link_up ? "up" : "down", st->last_heartbeat_ms_ago);
		ADD("protected   %s\n", st->protected_ ? "yes" : "NO");
		ADD("steps       %" PRIu64 " (peer %" PRIu64 ")\n", st->steps, st->peer_steps);
		ADD("lag         %" PRIu64 " steps, %.1f ms of guest execution\n", st->lag_steps, st->lag_ms);
		ADD("buffer      %" PRIu64 " of %" PRIu64 " bytes\n", st->buffer_bytes, st->buffer_cap_bytes);
		ADD("log         %" PRIu64 " bytes, %.0f bytes/s\n", st->log_bytes, st->log_bytes_per_s);
		ADD("chunks      %" PRIu64 " sent, %" PRIu64 " acknowledged, %" PRIu64 " received\n",
		    st->chunks_sent, st->chunks_acked, st->chunks_received);
		ADD("paused      %.3f s (%" PRIu64 " pauses)\n", st->paused_s, st->pauses);
		ADD("outputs     %" PRIu64 " held (%" PRIu64 " bytes), %" PRIu64 " released", st->held_outputs,
		    st->held_bytes, st->released_outputs);
		if (st->released_outputs)
			ADD(", held %.0f us on average", st->held_wait_ns_total / 1e3 / st->released_outputs);
		ADD("\n");
		if (st->ack_rtt_us_p50 > 0)
			ADD("ack rtt     p50 %.0f us, p99 %.0f us (recent chunks)\n", st->ack_rtt_us_p50,
			    st->ack_rtt_us_p99);
		if (st->note[0])
			ADD("note        %s\n", st->note);
		return;
	}
	ADD("{\"role\":");
	json_str(&p, &left, st->role);
	ADD(",\"protocol\":");
	json_str(&p, &left, st->protocol ? st->protocol : "");
	ADD(",\"epoch\":%" PRIu64 ",\"arbiter\":", st->epoch);
	json_str(&p, &left, st->arbiter);
	ADD(",\"lease\":");
	json_str(&p, &left, st->lease[0] ? st->lease : "none");
	ADD(",\"peer\":");
	json_str(&p, &left, st->peer);
	ADD(",\"link_up\":%s,\"protected\":%s,\"steps\":%" PRIu64 ",\"peer_steps\":%" PRIu64
	    ",\"lag_steps\":%" PRIu64 ",\"lag_ms\":%.3f,\"buffer_bytes\":%" PRIu64
	    ",\"buffer_cap_bytes\":%" PRIu64 ",\"log_bytes\":%" PRIu64 ",\"log_bytes_per_s\":%.1f"
	    ",\"paused_s\":%.6f,\"pauses\":%" PRIu64 ",\"held_outputs\":%" PRIu64
	    ",\"held_bytes\":%" PRIu64 ",\"released_outputs\":%" PRIu64
	    ",\"last_heartbeat_ms_ago\":%.1f,\"chunks_sent\":%" PRIu64 ",\"chunks_acked\":%" PRIu64
	    ",\"chunks_received\":%" PRIu64 ",\"held_wait_ns_total\":%" PRIu64
	    ",\"ack_rtt_us_p50\":%.1f,\"ack_rtt_us_p99\":%.1f,\"note\":",
	    st->link_up ? "true" : "false", st->protected_ ? "true" : "false", st->steps,
	    st->peer_steps, st->lag_steps, st->lag_ms, st->buffer_bytes, st->buffer_cap_bytes,
	    st->log_bytes, st->log_bytes_per_s, st->paused_s, st->pauses, st->held_outputs,
	    st->held_bytes, st->released_outputs, st->last_heartbeat_ms_ago, st->chunks_sent,
	    st->chunks_acked, st->chunks_received, st->held_wait_ns_total, st->ack_rtt_us_p50,
	    st->ack_rtt_us_p99);
	json_str(&p, &left, st->note);
	ADD("}\n");
}

void ft_status_lease(struct ft_status *st, const struct ft_arbiter *a)
{
	struct timespec ts;
	uint64_t ms = ft_arbiter_lease_ms(a);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (!ms)
		snprintf(st->lease, sizeof(st->lease), "none");
	else
		snprintf(st->lease, sizeof(st->lease), "%s (%" PRIu64 " ms)",
			 ft_arbiter_lease_valid(a, (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) ? "valid"
											: "not held",
			 ms);
}

void ft_control_set_command(struct ft_control *c, ft_command_fn *fn)
{
	if (c)
		c->cmd = fn;
}

/*
 * One request a connection: a line "text", "json" or a command ("promote",
 * "protect HOST:PORT NAME"); the answer; close.
 */
static void on_client(struct xport_loop *loop, int fd, unsigned events, void *arg)
{
	struct ft_control *c = arg;
	char req[512] = "", out[4096];
	struct ft_status st = { 0 };
	ssize_t n = read(fd, req, sizeof(req) - 1);

	xport_loop_del_fd(loop, fd);
	if (n > 0) {
		req[n] = '\0';
		req[strcspn(req, "\r\n")] = '\0';
		if (!strncmp(req, "promote", 7) || !strncmp(req, "protect", 7)) {
			if (c->cmd)
				c->cmd(c->opaque, req, out, sizeof(out));
			else
				snprintf(out, sizeof(out), "refused: this daemon takes no commands\n");
		} else {
			c->fn(c->opaque, &st);
			ft_status_format(&st, !strncmp(req, "json", 4), out, sizeof(out));
		}
		if (write(fd, out, strlen(out)) < 0) {
			/* the asker went away */
		}
	}
	close(fd);
}

static void on_accept(struct xport_loop *loop, int fd, unsigned events, void *arg)
{
	struct ft_control *c = arg;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (cfd < 0)
		return;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid() ||
	    xport_loop_add_fd(loop, cfd, XPORT_EV_READ, on_client, c)) {
		close(cfd);
		return;
	}
}

int ft_control_open(struct xport_loop *loop, const char *path, ft_status_fn *fn, void *opaque,
		    struct ft_control **out, char *err, size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ft_control *c;
	mode_t old;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "control socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->fn = fn;
	c->opaque = opaque;
	strcpy(c->path, path);
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		goto fail;
	unlink(path);
	old = umask(0177);
	int rc = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(c->fd, 8) < 0)
		goto fail;
	if (xport_loop_add_fd(loop, c->fd, XPORT_EV_READ, on_accept, c)) {
		errno = ENOMEM;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	rc = -errno;
	snprintf(err, err_len, "control socket %s: %s", path, strerror(errno));
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return rc;
}

void ft_control_close(struct ft_control *c)
{
	if (!c)
		return;
	xport_loop_del_fd(c->loop, c->fd);
	close(c->fd);
	unlink(c->path);
	free(c);
}
