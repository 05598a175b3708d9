// SPDX-License-Identifier: MIT
// mkcpio: writes a reproducible newc cpio archive from a list, so the initrd needs no root for /dev/console.
//
// Usage: mkcpio LIST > archive.cpio
// LIST lines (a subset of the kernel's usr/gen_init_cpio format; '#' starts a comment):
//   dir   NAME MODE
//   file  NAME HOSTPATH MODE
//   nod   NAME MODE c|b MAJOR MINOR
//   slink NAME TARGET MODE
// Owner is root, mtime is 0 and inode numbers count up from 1, so the same inputs
// always give the same bytes (the initrd is part of what a deterministic run consumes).
// Format: "New ASCII Format" in the cpio(5) man page / kernel Documentation/driver-api/early-userspace.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long next_ino = 1;
static unsigned long out_bytes;

static void out(const void *p, size_t len)
{
	if (len && fwrite(p, 1, len, stdout) != len) {
		perror("mkcpio: write");
		exit(1);
	}
	out_bytes += len;
}

static void pad(unsigned align)
{
	static const char zeros[512];

	out(zeros, (align - out_bytes % align) % align);
}

static void entry(const char *name, unsigned mode, unsigned nlink, unsigned rmaj, unsigned rmin,
		  const void *data, size_t data_len)
{
	char hdr[160];

	if (data_len > 0xffffffffu) {
		fprintf(stderr, "mkcpio: %s: too large for newc\n", name);
		exit(1);
	}
	if (snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		     (unsigned)next_ino++, mode, 0u, 0u, nlink, 0u, (unsigned)data_len, 0u, 0u, rmaj,
		     rmin, (unsigned)strlen(name) + 1, 0u) != 110) {
		fprintf(stderr, "mkcpio: %s: header field overflow\n", name);
		exit(1);
	}
	out(hdr, 110);
	out(name, strlen(name) + 1);
	pad(4);
	out(data, data_len);
	pad(4);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto fail;
	buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != (size_t)n)
		goto fail;
	fclose(f);
	*len = n;
	return buf;
fail:
	fprintf(stderr, "mkcpio: %s: %s\n", path, strerror(errno ? errno : EIO));
	exit(1);
}

int main(int argc, char **argv)
{
	char line[4096], name[1024], arg[1024], kind[16];
	unsigned mode, maj, min;
	char type;
	FILE *list;
	int lineno = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mkcpio LIST > archive.cpio\n");
		return 2;
	}
	list = fopen(argv[1], "r");
	if (!list) {
		perror(argv[1]);
		return 1;
	}
	while (fgets(line, sizeof(line), list)) {
		lineno++;
		line[strcspn(line, "#\n")] = '\0';
		if (sscanf(line, "%15s", kind) != 1)
			continue;
		if (!strcmp(kind, "dir") && sscanf(line, "%*s %1023s %o", name, &mode) == 2) {
			entry(name + (name[0] == '/'), S_IFDIR | mode, 2, 0, 0, NULL, 0);
		} else if (!strcmp(kind, "file") &&
			   sscanf(line, "%*s %1023s %1023s %o", name, arg, &mode) == 3) {
			size_t len;
			char *data = slurp(arg, &len);

			entry(name + (name[0] == '/'), S_IFREG | mode, 1, 0, 0, data, len);
			free(data);
		} else if (!strcmp(kind, "nod") &&
			   sscanf(line, "%*s %1023s %o %c %u %u", name, &mode, &type, &maj, &min) == 5 &&
			   (type == 'c' || type == 'b')) {
			entry(name + (name[0] == '/'), (type == 'c' ? S_IFCHR : S_IFBLK) | mode, 1, maj,
			      min, NULL, 0);
		} else if (!strcmp(kind, "slink") &&
			   sscanf(line, "%*s %1023s %1023s %o", name, arg, &mode) == 3) {
			entry(name + (name[0] == '/'), S_IFLNK | mode, 1, 0, 0, arg, strlen(arg));
		} else {
			fprintf(stderr, "mkcpio: %s:%d: cannot parse '%s'\n", argv[1], lineno, line);
			return 1;
		}
	}
	fclose(list);
	next_ino = 0;
	entry("TRAILER!!!", 0, 1, 0, 0, NULL, 0);
	pad(512);
	if (fflush(stdout)) {
		perror("mkcpio: write");
		return 1;
	}
	return 0;
}
