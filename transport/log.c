/* SPDX-License-Identifier: MIT */
/* Daemon logging: log_warn appends strerror(errno), log_warnx does not, fatal exits (start-up only). */
#include "transport/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* Exit status of fatal()/fatalx(): documented in docs/transport.md. */
#define LOG_FATAL_EXIT 70

static const char *log_prog = "ftvm";
static int log_verbose = 1;
static bool log_syslog;
static void (*log_hook)(enum log_level, const char *, void *);
static void *log_hook_arg;

void log_init(const char *prog, int verbose, bool use_syslog)
{
	log_prog = prog ? prog : "ftvm";
	log_verbose = verbose;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

void log_set_hook(void (*hook)(enum log_level, const char *, void *), void *arg)
{
	log_hook = hook;
	log_hook_arg = arg;
}

static void log_emit(enum log_level level, const char *fmt, va_list ap, const char *suffix)
{
	static const int prio[] = { LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	int n;

	if ((int)level > log_verbose)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (suffix && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", suffix);
	if (log_hook)
		log_hook(level, line, log_hook_arg);
	if (log_syslog)
		syslog(prio[level], "%s", line);
	else {
		/* Wall-clock time of day, so two hosts' logs of one failover can be read side by side. */
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%s: %02d:%02d:%02d.%03ld %s\n", log_prog, tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000000, line);
	}
}

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, fmt, ap, err);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, fmt, ap, NULL);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_INFO, fmt, ap, NULL);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, fmt, ap, err);
	va_end(ap);
	exit(LOG_FATAL_EXIT);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, fmt, ap, NULL);
	va_end(ap);
	exit(LOG_FATAL_EXIT);
}
