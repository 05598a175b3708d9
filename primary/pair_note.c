/* SPDX-License-Identifier: MIT */
/* pair_note: the daemons' status note, shared between their threads, and their clock. */
#include "pair.h"
#include "transport/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void ft_note_init(struct ft_note *n)
{
	pthread_mutex_init(&n->lock, NULL);
	n->text[0] = '\0';
}

void ft_note_set(struct ft_note *n, const char *who, const char *fmt, ...)
{
	char text[sizeof(n->text)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&n->lock);
	snprintf(n->text, sizeof(n->text), "%s", text);
	pthread_mutex_unlock(&n->lock);
	log_warnx("%s: %s", who, text);
}

void ft_note_get(struct ft_note *n, char *buf, size_t len)
{
	pthread_mutex_lock(&n->lock);
	snprintf(buf, len, "%s", n->text);
	pthread_mutex_unlock(&n->lock);
}

void ft_note_fini(struct ft_note *n)
{
	pthread_mutex_destroy(&n->lock);
}

double ft_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
