/* SPDX-License-Identifier: MIT */
/* cli: the ftvm command's subcommands and the helpers they share; exit codes in exit.h. */
#ifndef HV_CLI_H
#define HV_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/exit.h"
#include "hv/hv.h"

#define FTVM_VERSION "0.1.0"

#define DEFAULT_BIOS HV_DEFAULT_BIOS

/* A file of the default guest beside the ftvm binary: BUILD/ftvm -> BUILD/domT/NAME (malloc'ed). */
char *cli_beside_exe(const char *name);
int cli_replay(int argc, char **argv);

/* --trace prints every observed event; --stats counts them. */
struct cli_trace {
	bool print, count;
	uint64_t counts[HV_OBS_PAUSE_END + 1];
};
void cli_trace_attach(struct cli_trace *t, struct hv_machine *m);
void cli_trace_report(const struct cli_trace *t);
/* The counts as a JSON member: ,"observed":{...} (nothing without --stats). */
void cli_trace_json(const struct cli_trace *t, FILE *f);

int cli_run(int argc, char **argv);
/* The pair (pair.c, status.c): the daemons, and requests to their control sockets. */
int cli_primary(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_promote(int argc, char **argv);
int cli_protect(int argc, char **argv);
int cli_log(int argc, char **argv);	/* log_dump.c */
int cli_log_trim(int argc, char **argv);	/* log_trim.c: ftvm log trim */
int cli_snapshot(int argc, char **argv);	/* snapshot.c: save, info */
/* "512M", "2G", "65536": bytes, or -1 when malformed. */
int cli_parse_size(const char *s, uint64_t *out);
/* "interp" or "jit", or -1. */
int cli_parse_cpu(const char *s, enum hv_cpu_mode *out);
/* getopt_long (optstring ":", opterr 0) returned '?' or ':' for arg: say so, naming the command. */
void cli_bad_option(const char *cmd, int c, const char *arg);
/*
 * After a run: disk I/Os the host refused are told on stderr, and a status
 * that would say the run was clean becomes FTVM_EXIT_HOST_ERROR (report.c).
 */
int cli_disk_report(const char *cmd, const struct hv_machine *m, const char *disk, int status);
/* A --disk spec the guest cannot change the file through (",snapshot" or ",ro"). */
bool cli_disk_keeps_image(const char *spec);
/* --help, -h or help. */
bool cli_is_help(const char *arg);

/* JSON values for --json reports: a string, bytes as a string, bytes as lowercase hex. */
void cli_json_str(FILE *f, const char *s);
void cli_json_bytes(FILE *f, const uint8_t *s, size_t len);
void cli_json_hex(FILE *f, const uint8_t *b, size_t len);

/* 'ftvm version [--json]' and 'ftvm --version'. */
int cli_version(int argc, char **argv);

#endif
