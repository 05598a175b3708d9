/* SPDX-License-Identifier: MIT */
/* version: 'ftvm --version' and 'ftvm version --json': the program, its formats and what this build has. */
#include "cli/cli.h"
#include "hv/rr/log.h"

#if __has_include("hv/snapshot.h")
#include "hv/snapshot.h"
#endif

#include <openssl/opensslv.h>
#include <stdio.h>
#include <string.h>

#ifndef FTVM_GIT
#define FTVM_GIT ""
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FTVM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FTVM_SANITIZED 1
#endif
#endif
#ifndef FTVM_SANITIZED
#define FTVM_SANITIZED 0
#endif
#ifdef HV_SNAPSHOT_MAJOR
#define FTVM_VM_SNAPSHOT 1
#else
#define FTVM_VM_SNAPSHOT 0
#endif
#ifdef __x86_64__
#define FTVM_JIT 1
#else
#define FTVM_JIT 0
#endif

/* What a script may test for; each is true of every build today except where noted. */
static const struct {
	const char *name;
	bool on;
} features[] = {
	{ "cpu-interp", true },
	{ "cpu-jit", FTVM_JIT },	/* the translator emits x86-64 */
	{ "net-user", true },		/* libslirp */
	{ "net-tap", true },
	{ "record-replay", true },
	{ "disk-snapshot", true },	/* --disk FILE,snapshot: a copy-on-write overlay */
	{ "vm-snapshot", FTVM_VM_SNAPSHOT },
	{ "tls-transport", true },
	{ "asan", FTVM_SANITIZED },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm version [--json]\n"
		"       ftvm --version\n"
		"  Print ftvm's version, the replay log format it writes and reads, and the\n"
		"  features this build has. --json prints one JSON object on stdout.\n");
}

int cli_version(int argc, char **argv)
{
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--json")) {
			fprintf(stderr, "ftvm version: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return FTVM_EXIT_USAGE;
		}
		json = true;
	}
	if (json) {
		printf("{\"version\":");
		cli_json_str(stdout, FTVM_VERSION);
		printf(",\"git\":");
		cli_json_str(stdout, FTVM_GIT);
		printf(",\"log_format\":\"%d.%d\",\"snapshot_format\":", RR_LOG_MAJOR, RR_LOG_MINOR);
#ifdef HV_SNAPSHOT_MAJOR
		printf("\"%d.%d\"", HV_SNAPSHOT_MAJOR, HV_SNAPSHOT_MINOR);
#else
		printf("null");
#endif
		printf(",\"openssl\":");
		cli_json_str(stdout, OPENSSL_VERSION_TEXT);
		printf(",\"max_harts\":%d,\"features\":{", HV_MAX_HARTS);
		for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
			printf("%s\"%s\":%s", i ? "," : "", features[i].name, features[i].on ? "true" : "false");
		printf("}}\n");
	} else {
		printf("ftvm %s%s%s\n", FTVM_VERSION, FTVM_GIT[0] ? " " : "", FTVM_GIT);
		printf("replay log format %d.%d (reads %d.0 to %d.%d)\n", RR_LOG_MAJOR, RR_LOG_MINOR, RR_LOG_MAJOR,
		       RR_LOG_MAJOR, RR_LOG_MINOR);
#ifdef HV_SNAPSHOT_MAJOR
		printf("snapshot format %d.%d (reads %d.0 to %d.%d)\n", HV_SNAPSHOT_MAJOR, HV_SNAPSHOT_MINOR,
		       HV_SNAPSHOT_MAJOR, HV_SNAPSHOT_MAJOR, HV_SNAPSHOT_MINOR);
#else
		printf("snapshot format: none in this build\n");
#endif
		printf("up to %d harts; %s\n", HV_MAX_HARTS, OPENSSL_VERSION_TEXT);
		printf("features:");
		for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
			printf(" %c%s", features[i].on ? '+' : '-', features[i].name);
		printf("\n");
	}
	return fflush(stdout) ? FTVM_EXIT_HOST_ERROR : 0;
}
