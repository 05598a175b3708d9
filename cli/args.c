/* SPDX-License-Identifier: MIT */
/* args: parsers for option values shared by the subcommands, and the JSON writer their reports use. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	uint64_t mult = 1;

	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': mult = 1ULL << 10; end++; break;
	case 'm': case 'M': mult = 1ULL << 20; end++; break;
	case 'g': case 'G': mult = 1ULL << 30; end++; break;
	case 't': case 'T': mult = 1ULL << 40; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int cli_parse_cpu(const char *s, enum hv_cpu_mode *out)
{
	if (!strcmp(s, "interp"))
		*out = HV_CPU_INTERP;
	else if (!strcmp(s, "jit"))
		*out = HV_CPU_JIT;
	else
		return -1;
	return 0;
}

void cli_bad_option(const char *cmd, int c, const char *arg)
{
	if (c == ':')
		fprintf(stderr, "ftvm %s: %s needs a value\n", cmd, arg);
	else
		fprintf(stderr, "ftvm %s: unknown option '%s'\n", cmd, arg);
	fprintf(stderr, "Run 'ftvm %s --help' for its options.\n", cmd);
}

bool cli_disk_keeps_image(const char *spec)
{
	size_t n = strlen(spec);

	return (n > 9 && !strcmp(spec + n - 9, ",snapshot")) || (n > 3 && !strcmp(spec + n - 3, ",ro"));
}

bool cli_is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "help");
}

void cli_json_str(FILE *f, const char *s)
{
	cli_json_bytes(f, (const uint8_t *)s, strlen(s));
}

/* RFC 8259 section 7: quote, backslash and control characters escaped; other bytes >= 0x7f as \u00XX. */
void cli_json_bytes(FILE *f, const uint8_t *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		uint8_t b = s[i];
		if (b == '"' || b == '\\')
			fprintf(f, "\\%c", b);
		else if (b == '\n')
			fputs("\\n", f);
		else if (b == '\r')
			fputs("\\r", f);
		else if (b == '\t')
			fputs("\\t", f);
		else if (b < 0x20 || b >= 0x7f)
			fprintf(f, "\\u%04x", b);
		else
			fputc(b, f);
	}
	fputc('"', f);
}

void cli_json_hex(FILE *f, const uint8_t *b, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", b[i]);
	fputc('"', f);
}
