/* SPDX-License-Identifier: MIT */
/*
 * console: console input as a source of non-determinism. The host side reads the terminal or pty;
 * its bytes go to and come from the log as CONSOLE_IN events.
 */
#include "hv/rr/det.h"
#include "hv/rr/rr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01

static struct termios saved_tio;
static int saved_fd = -1;

static void restore_tty(void)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSANOW, &saved_tio);
	saved_fd = -1;
}

int det_console_open(struct det_console *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	if (fd < 0)
		return 0;
	if (isatty(fd) && tcgetattr(fd, &saved_tio) == 0) {
		struct termios tio = saved_tio;
		cfmakeraw(&tio);	/* the guest sends its own \r\n */
		if (tcsetattr(fd, TCSANOW, &tio) == 0) {
			saved_fd = fd;
			c->raw = true;
			atexit(restore_tty);
		}
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return 0;
}

void det_console_close(struct det_console *c)
{
	if (c->raw)
		restore_tty();
	c->fd = -1;
}

int det_console_pollfd(struct det_console *c, struct pollfd *pfd)
{
	if (c->fd < 0 || c->len == DET_CONSOLE_BUF)
		return 0;
	pfd->fd = c->fd;
	pfd->events = POLLIN;
	pfd->revents = 0;
	return 1;
}

size_t det_console_push(struct det_console *c, const uint8_t *data, size_t len)
{
	size_t n = DET_CONSOLE_BUF - c->len;

	if (n > len)
		n = len;
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	return n;
}

/* Ctrl-A is QEMU's escape: x quits, Ctrl-A sends one Ctrl-A, anything else passes both. */
static void take_byte(struct det_console *c, uint8_t b)
{
	if (c->saw_escape) {
		c->saw_escape = false;
		if (b == 'x' || b == 'X') {
			c->quit = true;
			return;
		}
		if (b != CTRL_A)
			det_console_push(c, (const uint8_t[]){ CTRL_A }, 1);
		det_console_push(c, &b, 1);
		return;
	}
	if (b == CTRL_A && c->raw) {
		c->saw_escape = true;
		return;
	}
	det_console_push(c, &b, 1);
}

void det_console_read(struct det_console *c)
{
	uint8_t tmp[512];

	while (c->fd >= 0 && c->len + 2 <= DET_CONSOLE_BUF) {
		size_t want = DET_CONSOLE_BUF - c->len - 1;
		ssize_t n = read(c->fd, tmp, want < sizeof(tmp) ? want : sizeof(tmp));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {	/* EOF or error: the guest just gets no more input */
			c->fd = -1;
			return;
		}
		for (ssize_t i = 0; i < n; i++)
			take_byte(c, tmp[i]);
	}
}

int det_console_flush(struct det_console *c, struct hv_machine *m, det_apply_fn apply,
		      void *opaque)
{
	size_t room = hv_console_rx_room(m);
	size_t n = c->len < room ? c->len : room;
	int rc;

	if (!n)
		return 0;
	struct hv_event ev = { .kind = HV_EV_CONSOLE_IN, .step = hv_steps(m), .data = c->buf,
			       .len = n };
	rc = apply(opaque, &ev);
	if (rc)
		return rc;
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	c->bytes += n;
	return 0;
}

/* The log form. */
int rr_console_save(const struct hv_event *in, struct rr_event *out)
{
	if (in->len < RR_CONSOLE_MIN || in->len > RR_CONSOLE_MAX)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = RR_CONSOLE_IN;
	out->step = in->step;
	out->data = in->data;
	out->len = in->len;
	return 0;
}

int rr_console_load(const struct rr_event *in, struct hv_event *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = HV_EV_CONSOLE_IN;
	out->step = in->step;
	out->data = in->data;
	out->len = in->len;
	return 0;
}
