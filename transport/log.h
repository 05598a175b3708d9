/* SPDX-License-Identifier: MIT */
/* Daemon logging in the relayd style: stderr or syslog, a debug mask, fatal only at start-up. */
#ifndef TRANSPORT_LOG_H
#define TRANSPORT_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_WARN = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

/* prog prefixes every line; verbose: 0 warnings only, 1 +info, 2 +debug; use_syslog instead of stderr. */
void log_init(const char *prog, int verbose, bool use_syslog);
void log_set_verbose(int verbose);
/* A test hook that sees every formatted line (after the level filter); NULL removes it. */
void log_set_hook(void (*hook)(enum log_level level, const char *line, void *arg), void *arg);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
