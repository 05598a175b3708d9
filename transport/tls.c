/* SPDX-License-Identifier: MIT */
/* TLS 1.3 context: our certificate and key, one trusted CA, peer certificates required both ways. */
#include "transport/xport_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "transport/log.h"

int xport_tls_ctx(const struct xport_config *cfg, SSL_CTX **out)
{
	char err[256];
	SSL_CTX *ctx;

	if (!cfg->cert_file || !cfg->key_file || !cfg->ca_file || !cfg->peer_name || !*cfg->peer_name) {
		log_warnx("transport: cert, key, CA and expected peer name are all required");
		return -EINVAL;
	}
	ctx = SSL_CTX_new(TLS_method());
	if (!ctx)
		return -ENOMEM;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto fail;
	/* AES-128-GCM first: the same AEAD strength class as the others, and the fastest with AES-NI. */
	if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"))
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		log_warnx("transport: cannot load certificate %s: %s", cfg->cert_file, xport_tls_error(NULL, err, sizeof(err)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("transport: cannot load key %s: %s", cfg->key_file, xport_tls_error(NULL, err, sizeof(err)));
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
		log_warnx("transport: cannot load CA %s: %s", cfg->ca_file, xport_tls_error(NULL, err, sizeof(err)));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Records are sealed into memory (conn.c), which never pushes back: one SSL_write seals a whole buffer. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Read whole socket buffers instead of one record header then body: half the syscalls. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
	/* Sessions are long-lived and every reconnect re-authenticates fully. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -EINVAL;
}

const char *xport_tls_error(SSL *ssl, char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	int n;

	if (e)
		n = snprintf(buf, size, "%s", ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown TLS error");
	else
		n = snprintf(buf, size, "%s", errno ? strerror(errno) : "connection closed");
	if (vr != X509_V_OK && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " (certificate: %s)", X509_verify_cert_error_string(vr));
	ERR_clear_error();
	return buf;
}
