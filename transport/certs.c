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

static int certs_write(const char *dir, const char *name, X509 *crt, EVP_PKEY *key)
{
	char path[4096];
	FILE *f;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "w"))) {
		log_warn("certs: %s", path);
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok) {
		log_warnx("certs: cannot write %s", path);
		return -EIO;
	}
	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	f = fopen(path, "w");
	if (!f) {
		log_warn("certs: %s", path);
		return -EIO;
	}
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

int xport_certs_issue(const char *dir, const char *name, const char *ca_dir, int64_t not_before_s,
		      int64_t not_after_s)
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
	err = certs_write(dir, name, crt, key);
out:
	X509_free(ca);
	X509_free(crt);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return err;
}

int xport_certs_init(const char *dir, const char *const *hosts, size_t nhosts)
{
	EVP_PKEY *key;
	X509 *crt;
	int err;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_warn("certs: mkdir %s", dir);
		return -errno;
	}
	for (size_t i = 0; i < nhosts; i++)
		if (!certs_name_ok(hosts[i])) {
			log_warnx("certs: bad host name \"%s\"", hosts[i]);
			return -EINVAL;
		}
	key = EVP_EC_gen("P-256");
	if (!key)
		return -ENOMEM;
	crt = certs_make(key, "ftvm CA", NULL, NULL, -300, CERTS_VALID_S);
	err = crt ? certs_write(dir, "ca", crt, key) : -EINVAL;
	X509_free(crt);
	EVP_PKEY_free(key);
	for (size_t i = 0; !err && i < nhosts; i++)
		err = xport_certs_issue(dir, hosts[i], dir, -300, CERTS_VALID_S);
	return err;
}

static void certs_usage(void)
{
	fprintf(stderr, "usage: ftvm certs init DIR --hosts HOST[,HOST...]\n");
}

int xport_certs_main(int argc, char **argv)
{
	const char *hosts[64];
	size_t n = 0;
	char *list, *save = NULL;
	int err;

	if (argc != 5 || strcmp(argv[1], "init") != 0 || strcmp(argv[3], "--hosts") != 0) {
		certs_usage();
		return 64;
	}
	list = strdup(argv[4]);
	if (!list)
		return 1;
	for (char *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		if (n == 64) {
			fprintf(stderr, "certs: at most 64 hosts\n");
			free(list);
			return 64;
		}
		hosts[n++] = h;
	}
	err = n ? xport_certs_init(argv[2], hosts, n) : -EINVAL;
	if (!n)
		certs_usage();
	else if (!err)
		printf("certs: wrote %s/ca.crt, ca.key and %zu host certificate(s)\n", argv[2], n);
	free(list);
	return err ? (n ? 1 : 64) : 0;
}
