/* SPDX-License-Identifier: MIT */
/* args: parsers for option values shared by the subcommands. */
#include "cli.h"

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
