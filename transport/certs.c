/* SPDX-License-Identifier: MIT */
/* Certificate authority for the replication channel, through the OpenSSL API (never the CLI). */
#include "transport/certs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "transport/log.h"

#define CERTS_VALID_S (10LL * 365 * 24 * 3600)

static int certs_add_ext(X509 *crt, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

/* A certificate for key signed by ca_key (self-signed when issuer is NULL). */
static X509 *certs_make(EVP_PKEY *key, const char *name, X509 *issuer, EVP_PKEY *ca_key, int64_t nb_s, int64_t na_s)
{
	X509 *crt = X509_new();
	BIGNUM *bn = BN_new();
	char san[300];
	bool ca = issuer == NULL;

	if (!crt || !bn || !BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) || !X509_set_version(crt, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(crt), (long)nb_s) ||
	    !X509_gmtime_adj(X509_getm_notAfter(crt), (long)na_s) || !X509_set_pubkey(crt, key) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(crt), "CN", MBSTRING_UTF8, (const unsigned char *)name, -1,
					-1, 0) ||
	    !X509_set_issuer_name(crt, X509_get_subject_name(ca ? crt : issuer)))
		goto fail;
	snprintf(san, sizeof(san), "DNS:%s", name);
	if (certs_add_ext(crt, ca ? crt : issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
	    certs_add_ext(crt, ca ? crt : issuer, NID_key_usage,
			  ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") ||
	    certs_add_ext(crt, ca ? crt : issuer, NID_subject_key_identifier, "hash") ||
	    certs_add_ext(crt, ca ? crt : issuer, NID_authority_key_identifier, "keyid:always"))
		goto fail;
	if (!ca && (certs_add_ext(crt, issuer, NID_subject_alt_name, san) ||
		    certs_add_ext(crt, issuer, NID_ext_key_usage, "serverAuth,clientAuth")))
		goto fail;
	if (!X509_sign(crt, ca ? key : ca_key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return crt;
fail:
	BN_free(bn);
	X509_free(crt);
	return NULL;
}

/* Files written by this run, so that a failure can take them back. */
struct certs_undo {
	char paths[2 * 65 + 2][4096];
	int n;
};

static void certs_undo_add(struct certs_undo *u, const char *path)
{
	if (u && u->n < (int)(sizeof(u->paths) / sizeof(u->paths[0])))
		snprintf(u->paths[u->n++], sizeof(u->paths[0]), "%s", path);
}

/* O_EXCL unless force: a key never silently replaces another one. */
static int certs_write(const char *dir, const char *name, X509 *crt, EVP_PKEY *key, bool force,
		       struct certs_undo *undo)
{
	char path[4096];
	FILE *f;
	int fd, ok;
	int excl = force ? O_TRUNC : O_EXCL;

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | excl | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "w"))) {
		log_warn("certs: %s", path);
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	certs_undo_add(undo, path);
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok) {
		log_warnx("certs: cannot write %s", path);
		return -EIO;
	}
	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | excl | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		log_warn("certs: %s", path);
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	certs_undo_add(undo, path);
	ok = PEM_write_X509(f, crt);
	if (fclose(f) != 0 || !ok) {
		log_warnx("certs: cannot write %s", path);
		return -EIO;
	}
	return 0;
}

static int certs_load_ca(const char *ca_dir, X509 **crt, EVP_PKEY **key)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ca.crt", ca_dir);
	f = fopen(path, "r");
	if (!f) {
		log_warn("certs: %s", path);
		return -ENOENT;
	}
	*crt = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	snprintf(path, sizeof(path), "%s/ca.key", ca_dir);
	f = fopen(path, "r");
	if (!f) {
		log_warn("certs: %s", path);
		X509_free(*crt);
		return -ENOENT;
	}
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!*crt || !*key) {
		log_warnx("certs: cannot parse the CA in %s", ca_dir);
		X509_free(*crt);
		EVP_PKEY_free(*key);
		return -EINVAL;
	}
	return 0;
}

static bool certs_name_ok(const char *name)
{
	if (!*name || strlen(name) > 253 || !strcmp(name, "ca"))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

static int certs_issue(const char *dir, const char *name, const char *ca_dir, int64_t not_before_s,
		       int64_t not_after_s, bool force, struct certs_undo *undo)
{
	X509 *ca = NULL, *crt = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	int err;

	if (!certs_name_ok(name)) {
		log_warnx("certs: bad host name \"%s\"", name);
		return -EINVAL;
	}
	err = certs_load_ca(ca_dir, &ca, &ca_key);
	if (err)
		return err;
	err = -EINVAL;
	key = EVP_EC_gen("P-256");
	if (!key)
		goto out;
	crt = certs_make(key, name, ca, ca_key, not_before_s, not_after_s);
	if (!crt) {
		log_warnx("certs: cannot make a certificate for %s", name);
		goto out;
	}
	err = certs_write(dir, name, crt, key, force, undo);
out:
	X509_free(ca);
	X509_free(crt);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return err;
}

int xport_certs_issue(const char *dir, const char *name, const char *ca_dir, int64_t not_before_s,
		      int64_t not_after_s)
{
	return certs_issue(dir, name, ca_dir, not_before_s, not_after_s, true, NULL);
}

/* The first file of DIR's CA or hosts that exists already, or NULL. */
static const char *certs_existing(const char *dir, const char *const *hosts, size_t nhosts, char *path,
				  size_t path_len)
{
	static const char *const ext[] = { "key", "crt" };

	for (size_t i = 0; i <= nhosts; i++)
		for (int e = 0; e < 2; e++) {
			snprintf(path, path_len, "%s/%s.%s", dir, i ? hosts[i - 1] : "ca", ext[e]);
			if (access(path, F_OK) == 0)
				return path;
		}
	return NULL;
}

int xport_certs_init_opts(const char *dir, const char *const *hosts, size_t nhosts, bool force)
{
	struct certs_undo *undo = calloc(1, sizeof(*undo));
	char path[4096];
	bool made_dir = false;
	EVP_PKEY *key;
	X509 *crt;
	int err;

	if (!undo)
		return -ENOMEM;
	/* Everything that can be refused is refused before anything is written. */
	for (size_t i = 0; i < nhosts; i++)
		if (!certs_name_ok(hosts[i])) {
			log_warnx("certs: bad host name \"%s\" (letters, digits, '-' and '.'; not \"ca\")", hosts[i]);
			free(undo);
			return -EINVAL;
		}
	if (!force && certs_existing(dir, hosts, nhosts, path, sizeof(path))) {
		log_warnx("certs: %s exists: refusing to replace it (certificates already deployed would stop "
			  "verifying); use another DIR, or --force to make a new CA", path);
		free(undo);
		return -EEXIST;
	}
	if (mkdir(dir, 0700) == 0) {
		made_dir = true;
	} else if (errno != EEXIST) {
		err = -errno;
		log_warn("certs: mkdir %s", dir);
		free(undo);
		return err;
	}
	key = EVP_EC_gen("P-256");
	crt = key ? certs_make(key, "ftvm CA", NULL, NULL, -300, CERTS_VALID_S) : NULL;
	err = crt ? certs_write(dir, "ca", crt, key, force, undo) : -EINVAL;
	X509_free(crt);
	EVP_PKEY_free(key);
	for (size_t i = 0; !err && i < nhosts; i++)
		err = certs_issue(dir, hosts[i], dir, -300, CERTS_VALID_S, force, undo);
	if (err) {
		/* Nothing half-made stays behind: no CA without its hosts, no empty directory. */
		for (int i = 0; i < undo->n; i++)
			unlink(undo->paths[i]);
		if (made_dir)
			rmdir(dir);
	}
	free(undo);
	return err;
}

int xport_certs_add(const char *dir, const char *const *hosts, size_t nhosts, bool force)
{
	struct certs_undo *undo = calloc(1, sizeof(*undo));
	char path[4096];
	int err = 0;

	if (!undo)
		return -ENOMEM;
	for (size_t i = 0; !err && i < nhosts; i++)
		if (!certs_name_ok(hosts[i])) {
			log_warnx("certs: bad host name \"%s\" (letters, digits, '-' and '.'; not \"ca\")", hosts[i]);
			err = -EINVAL;
		}
	for (int e = 0; !err && e < 2; e++) {
		snprintf(path, sizeof(path), "%s/ca.%s", dir, e ? "crt" : "key");
		if (access(path, R_OK)) {
			err = -errno;
			log_warnx("certs: %s: %s (certs add signs with the CA that 'ftvm certs init' made there)", path,
				  strerror(errno));
		}
	}
	for (size_t i = 0; !err && !force && i < nhosts * 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", dir, hosts[i / 2], i % 2 ? "crt" : "key");
		if (access(path, F_OK) == 0) {
			log_warnx("certs: %s exists: refusing to replace it (--force replaces it)", path);
			err = -EEXIST;
		}
	}
	for (size_t i = 0; !err && i < nhosts; i++)
		err = certs_issue(dir, hosts[i], dir, -300, CERTS_VALID_S, force, undo);
	if (err)
		for (int i = 0; i < undo->n; i++)
			unlink(undo->paths[i]);
	free(undo);
	return err;
}

int xport_certs_init(const char *dir, const char *const *hosts, size_t nhosts)
{
	return xport_certs_init_opts(dir, hosts, nhosts, false);
}

static void certs_usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm certs init DIR --hosts HOST[,HOST...] [--force]\n"
		"       ftvm certs add DIR --hosts HOST[,HOST...] [--force]\n"
		"  init: make a private CA (DIR/ca.crt, DIR/ca.key) and, for each host, DIR/HOST.crt\n"
		"  and DIR/HOST.key (ECDSA P-256, SAN DNS:HOST, valid 10 years). Keys are mode 0600.\n"
		"  add: certificates for more hosts (a spare for 'ftvm protect'), signed by the CA\n"
		"  already in DIR, so the hosts that have theirs accept them.\n"
		"  A file that exists already is never replaced unless --force is given: a new CA\n"
		"  makes every certificate signed by the old one stop verifying.\n"
		"  Repeated hosts count once. On failure nothing is left behind.\n"
		"Exit status: 0 done, 1 failed or refused, 2 bad usage.\n");
}

#define CERTS_EXIT_FAIL 1
#define CERTS_EXIT_USAGE 2
#define CERTS_MAX_HOSTS 64

int xport_certs_main(int argc, char **argv)
{
	const char *hosts[CERTS_MAX_HOSTS], *dir = NULL, *list_arg = NULL, *me;
	size_t n = 0;
	char *list = NULL, *save = NULL;
	bool force = false;
	int err;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
			certs_usage(stdout);
			return 0;
		}
	if (argc < 2 || (strcmp(argv[1], "init") && strcmp(argv[1], "add"))) {
		if (argc >= 2)
			fprintf(stderr, "ftvm certs: unknown subcommand '%s'\n", argv[1]);
		certs_usage(stderr);
		return CERTS_EXIT_USAGE;
	}
	me = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (!strcmp(argv[i], "--hosts") && i + 1 < argc) {
			list_arg = argv[++i];
		} else if (!strncmp(argv[i], "--hosts=", 8)) {
			list_arg = argv[i] + 8;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "ftvm certs %s: %s option '%s'\n", me,
				!strcmp(argv[i], "--hosts") ? "a value is needed for the" : "unknown", argv[i]);
			certs_usage(stderr);
			return CERTS_EXIT_USAGE;
		} else if (dir) {
			fprintf(stderr, "ftvm certs %s: one DIR only ('%s' and '%s')\n", me, dir, argv[i]);
			return CERTS_EXIT_USAGE;
		} else {
			dir = argv[i];
		}
	}
	if (!dir || !list_arg) {
		fprintf(stderr, "ftvm certs %s: %s is required\n", me, !dir ? "DIR" : "--hosts HOST[,HOST...]");
		certs_usage(stderr);
		return CERTS_EXIT_USAGE;
	}
	list = strdup(list_arg);
	if (!list)
		return CERTS_EXIT_FAIL;
	for (char *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		bool dup = false;
		for (size_t i = 0; i < n; i++)
			dup |= !strcmp(hosts[i], h);
		if (dup)
			continue;
		if (n == CERTS_MAX_HOSTS) {
			fprintf(stderr, "ftvm certs %s: at most %d hosts\n", me, CERTS_MAX_HOSTS);
			free(list);
			return CERTS_EXIT_USAGE;
		}
		hosts[n++] = h;
	}
	if (!n) {
		fprintf(stderr, "ftvm certs %s: --hosts names no host\n", me);
		free(list);
		return CERTS_EXIT_USAGE;
	}
	err = strcmp(me, "add") ? xport_certs_init_opts(dir, hosts, n, force) : xport_certs_add(dir, hosts, n, force);
	if (!err) {
		if (strcmp(me, "add"))
			printf("certs: wrote %s/ca.crt, ca.key and %zu host certificate(s):", dir, n);
		else
			printf("certs: wrote %zu host certificate(s) signed by %s/ca.crt:", n, dir);
		for (size_t i = 0; i < n; i++)
			printf(" %s", hosts[i]);
		printf("\n");
	}
	free(list);
	return err == -EINVAL ? CERTS_EXIT_USAGE : err ? CERTS_EXIT_FAIL : 0;
}
