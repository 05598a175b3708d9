/* SPDX-License-Identifier: MIT */
/* `ftvm certs init DIR --hosts a,b`: a private CA and one ECDSA P-256 certificate per host; `certs add`: more hosts. */
#ifndef TRANSPORT_CERTS_H
#define TRANSPORT_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* argv[0] is "certs". Returns 0, 2 (usage, a bad host name) or 1 (failure, refusal), like an exit status. */
int xport_certs_main(int argc, char **argv);

/*
 * Creates DIR (if needed), DIR/ca.crt, DIR/ca.key and DIR/<host>.crt/.key for
 * each host. -EEXIST, writing nothing, when any of them exists and !force;
 * -EINVAL for a bad host name; on any failure the files made so far (and
 * DIR, if it made it) are removed.
 */
__attribute__((warn_unused_result)) int xport_certs_init_opts(const char *dir, const char *const *hosts,
							      size_t nhosts, bool force);
/*
 * `ftvm certs add`: DIR/<host>.crt/.key for each host, signed by the CA
 * already in DIR. -ENOENT (or -EACCES) without it; -EEXIST, writing nothing,
 * when a host's file exists and !force; -EINVAL for a bad host name; on any
 * failure the files made so far are removed.
 */
__attribute__((warn_unused_result)) int xport_certs_add(const char *dir, const char *const *hosts, size_t nhosts,
							bool force);
/* xport_certs_init_opts without force. */
__attribute__((warn_unused_result)) int xport_certs_init(const char *dir, const char *const *hosts, size_t nhosts);

/*
 * Issues DIR/<name>.crt and .key signed by the CA in ca_dir, with SAN
 * DNS:<name>, valid from now + not_before_s to now + not_after_s (seconds,
 * negative for the past: tests make expired certificates with it).
 */
__attribute__((warn_unused_result)) int xport_certs_issue(const char *dir, const char *name, const char *ca_dir,
							  int64_t not_before_s, int64_t not_after_s);

#endif
