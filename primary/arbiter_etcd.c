/* SPDX-License-Identifier: MIT */
/*
 * arbiter_etcd: the pair's epoch and owner in an etcd v3 cluster, through its
 * JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant, keepalive,
 * revoke; keys and values base64) over HTTP or HTTPS with libcurl.
 *
 *   etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?OPTIONS]
 *     PREFIX          where the keys live (default /ftvm/pair): one per pair
 *     cacert=FILE     HTTPS, the CA that signed the members' certificates
 *     cert=FILE&key=FILE  HTTPS with this client certificate (etcd's --client-cert-auth)
 *     timeout_ms=N    one request to one member (default 1000); a call gives
 *                     up after N ms times the number of endpoints at most
 *     lease_s=N       the owner's lease (default 2; etcd's minimum is about
 *                     1.5 x its election timeout, and it rounds up to that)
 *
 * Three keys. PREFIX/epoch holds the epoch in decimal and PREFIX/owner its
 * owner; they have no lease, so an epoch never goes back. PREFIX/lease holds
 * "EPOCH OWNER" on the owner's lease: it vanishes when the owner stops
 * renewing. take(E) is one transaction: if PREFIX/epoch is E (absent for 0),
 * put E+1, the owner, and the lease key; otherwise read them back, to name
 * the winner: one round trip while a lease is at hand (keepalive keeps one).
 * An owner's keepalive renews its lease and then reads the epoch back: only
 * if it is still ours does the lease count as valid to the renewal's send
 * time plus 0.9 TTL. The winner's next keepalive also revokes the previous
 * owner's lease, so an old owner cut off from us learns sooner.
 *
 * Every request is bounded by timeout_ms; a member that times out, refuses,
 * or answers "no leader" is passed over for the next. A transaction that
 * timed out may still have committed: a retry that finds our own epoch on
 * our own lease counts as the win it was.
 */
#include "arbiter_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENDPOINTS 16
#define OWNER_MAX 128
#define RESP_MAX (1 << 20)

struct etcd_arbiter {
	struct ft_arbiter base;	/* first: arbiter.c's calls land here */
	CURL *curl;
	struct curl_slist *headers;
	char *eps[MAX_ENDPOINTS];
	int n_eps, good;	/* good: the member that answered last, tried first */
	char *cacert, *cert, *key;
	char prefix[256];
	long timeout_ms;
	uint32_t lease_s;
	char *resp;
	size_t resp_len;
	/* The lease this process holds (0: none), its TTL, and until when it surely lives. */
	int64_t lease_id;
	uint64_t ttl_ms, lease_until_ms;
	/* The epoch we won and still believe ours (0: none); lease_valid reads valid_until_ms. */
	uint64_t my_epoch;
	char my_owner[OWNER_MAX];
	int64_t revoke_id;	/* the previous owner's lease, revoked at our next keepalive */
	uint64_t takeover_wait_ms;	/* after our last win: how long the previous owner may think it holds */
	_Atomic uint64_t valid_until_ms;
};

/* What the range over PREFIX/ found. */
struct etcd_state {
	uint64_t epoch;
	char owner[OWNER_MAX];
	char lease_value[OWNER_MAX + 32];
	int64_t lease_id;	/* the lease PREFIX/lease hangs on, 0 if absent */
};

static const struct ft_arbiter_ops etcd_ops;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A lease of ttl_ms granted or renewed by a request sent at sent_ms lives on the leader until at
 * least sent_ms + ttl_ms of its clock; a tenth off covers clock drift (docs/split-brain.md). */
static uint64_t lease_deadline(uint64_t sent_ms, uint64_t ttl_ms)
{
	return sent_ms + ttl_ms - ttl_ms / 10;
}

static void b64(const char *in, char *out, size_t out_len)
{
	size_t n = strlen(in);

	if (out_len < 4 * ((n + 2) / 3) + 1) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
}

/* Decode base64 of at most out_len - 1 bytes; -1 if it is not base64 or too long. */
static int unb64(const char *in, size_t in_len, char *out, size_t out_len)
{
	unsigned char tmp[1024];
	int n;

	if (in_len % 4 || in_len / 4 * 3 >= sizeof(tmp))
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)in_len);
	if (n < 0)
		return -1;
	if (in_len && in[in_len - 1] == '=')
		n--;
	if (in_len > 1 && in[in_len - 2] == '=')
		n--;
	if ((size_t)n >= out_len)
		return -1;
	memcpy(out, tmp, n);
	out[n] = '\0';
	return n;
}

/* The string value of "field" in json[0, end): its start and length, or NULL. No escapes expected. */
static const char *json_field(const char *json, const char *end, const char *field, size_t *len)
{
	char pat[64];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "\"%s\":\"", field);
	p = strstr(json, pat);
	if (!p || p >= end)
		return NULL;
	p += strlen(pat);
	for (q = p; q < end && *q && *q != '"'; q++)
		if (*q == '\\' && q[1])
			q++;
	if (q >= end || *q != '"')
		return NULL;
	*len = (size_t)(q - p);
	return p;
}

static void json_copy(const char *json, const char *field, char *out, size_t out_len)
{
	size_t n;
	const char *v = json_field(json, json + strlen(json), field, &n);

	snprintf(out, out_len, "%.*s", v ? (int)n : 0, v ? v : "");
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *opaque)
{
	struct etcd_arbiter *a = opaque;
	size_t n = size * nmemb;
	char *p;

	if (a->resp_len + n + 1 > RESP_MAX)
		return 0;
	p = realloc(a->resp, a->resp_len + n + 1);
	if (!p)
		return 0;
	a->resp = p;
	memcpy(a->resp + a->resp_len, data, n);
	a->resp_len += n;
	a->resp[a->resp_len] = '\0';
	return n;
}

/*
 * POST body to path on one member after another, from the last that answered,
 * until one gives a definite answer (left in a->resp). -ENOENT / -EINVAL when
 * etcd says not found / invalid (no other member would say otherwise), -EIO
 * when none answered, with what each said in err.
 */
static int post(struct etcd_arbiter *a, const char *path, const char *body, char *err, size_t err_len)
{
	char url[512], why[1024] = "", msg[256];
	size_t used = 0;

	for (int i = 0; i < a->n_eps; i++) {
		int ep = (a->good + i) % a->n_eps;
		long code = 0;
		CURLcode cc;

		snprintf(url, sizeof(url), "%s://%s%s", a->cacert || a->cert ? "https" : "http", a->eps[ep], path);
		a->resp_len = 0;
		if (a->resp)
			a->resp[0] = '\0';
		curl_easy_setopt(a->curl, CURLOPT_URL, url);
		curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
		cc = curl_easy_perform(a->curl);
		a->base.round_trips++;
		if (cc == CURLE_OK)
			curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &code);
		if (cc == CURLE_OK && code == 200 && a->resp) {
			a->good = ep;
			return 0;
		}
		if (cc != CURLE_OK) {
			snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(cc));
		} else {
			char text[200], grpc[16];
			json_copy(a->resp ? a->resp : "", "error", text, sizeof(text));
			json_copy(a->resp ? a->resp : "", "code", grpc, sizeof(grpc));
			if (!grpc[0] && a->resp) {
				const char *c = strstr(a->resp, "\"code\":");
				if (c)
					snprintf(grpc, sizeof(grpc), "%ld", strtol(c + 7, NULL, 10));
			}
			snprintf(msg, sizeof(msg), "HTTP %ld: %s", code, text[0] ? text : "(no message)");
			/* gRPC NOT_FOUND (5), INVALID_ARGUMENT (3): every member would say the same. */
			if (!strcmp(grpc, "5") || !strcmp(grpc, "3")) {
				a->good = ep;
				snprintf(err, err_len, "arbiter %s: %s: %s", a->base.name, a->eps[ep], msg);
				return !strcmp(grpc, "5") ? -ENOENT : -EINVAL;
			}
		}
		if (used < sizeof(why)) {
			int n = snprintf(why + used, sizeof(why) - used, "%s%s: %s", used ? "; " : "", a->eps[ep], msg);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	snprintf(err, err_len, "arbiter %s: unreachable, no member answered (%ld ms each): %s", a->base.name,
		 a->timeout_ms, why);
	return -EIO;
}

/* Read what the last response's kvs say about PREFIX/epoch, /owner and /lease. */
static int parse_state(struct etcd_arbiter *a, struct etcd_state *st, char *err, size_t err_len)
{
	const char *p = a->resp, *end = a->resp + a->resp_len;
	size_t plen = strlen(a->prefix);

	memset(st, 0, sizeof(*st));
	while ((p = strstr(p, "\"key\":\"")) != NULL) {
		const char *next = strstr(p + 7, "\"key\":\"");
		const char *obj_end = next ? next : end, *v, *k;
		char key[300], value[OWNER_MAX + 32] = "", lease[32] = "";
		size_t n;

		k = json_field(p, obj_end, "key", &n);
		if (!k || unb64(k, n, key, sizeof(key)) < 0)
			goto bad;
		v = json_field(p, obj_end, "value", &n);
		if (v && unb64(v, n, value, sizeof(value)) < 0)
			goto bad;
		v = json_field(p, obj_end, "lease", &n);
		if (v)
			snprintf(lease, sizeof(lease), "%.*s", (int)n, v);
		p = obj_end;
		if (strncmp(key, a->prefix, plen) || key[plen] != '/')
			continue;
		if (!strcmp(key + plen, "/epoch")) {
			char *e;
			errno = 0;
			st->epoch = strtoull(value, &e, 10);
			if (errno || e == value || *e)
				goto bad;
		} else if (!strcmp(key + plen, "/owner")) {
			snprintf(st->owner, sizeof(st->owner), "%s", value);
		} else if (!strcmp(key + plen, "/lease")) {
			snprintf(st->lease_value, sizeof(st->lease_value), "%s", value);
			st->lease_id = strtoll(lease, NULL, 10);
		}
	}
	return 0;
bad:
	snprintf(err, err_len, "arbiter %s: unreadable contents under %s (want a decimal epoch and an owner)",
		 a->base.name, a->prefix);
	return -EBADMSG;
}

/* A range over every key under PREFIX/, as JSON for a request body. */
static void range_json(struct etcd_arbiter *a, char *out, size_t len)
{
	char k[300], e[300], k64[420], e64[420];

	snprintf(k, sizeof(k), "%s/", a->prefix);
	snprintf(e, sizeof(e), "%s0", a->prefix);	/* '0' follows '/' */
	b64(k, k64, sizeof(k64));
	b64(e, e64, sizeof(e64));
	snprintf(out, len, "{\"key\":\"%s\",\"range_end\":\"%s\"}", k64, e64);
}

static int etcd_read(struct ft_arbiter *base, uint64_t *epoch, char *owner, size_t owner_len,
		     char *err, size_t err_len)
{
	struct etcd_arbiter *a = (struct etcd_arbiter *)base;
	struct etcd_state st;
	char body[1024];
	int rc;

	range_json(a, body, sizeof(body));
	rc = post(a, "/v3/kv/range", body, err, err_len);
	if (!rc)
		rc = parse_state(a, &st, err, err_len);
	if (rc)
		return rc;
	*epoch = st.epoch;
	if (owner_len)
		snprintf(owner, owner_len, "%s", st.owner);
	return 0;
}

static int grant(struct etcd_arbiter *a, char *err, size_t err_len)
{
	char body[64], id[32], ttl[32];
	uint64_t sent = now_ms();
	int rc;

	a->lease_id = 0;
	snprintf(body, sizeof(body), "{\"TTL\":\"%" PRIu32 "\"}", a->lease_s);
	rc = post(a, "/v3/lease/grant", body, err, err_len);
	if (rc)
		return rc;
	json_copy(a->resp, "ID", id, sizeof(id));
	json_copy(a->resp, "TTL", ttl, sizeof(ttl));
	if (!id[0] || atoll(ttl) <= 0) {
		snprintf(err, err_len, "arbiter %s: lease grant answered without a lease: %.200s", a->base.name, a->resp);
		return -EBADMSG;
	}
	a->lease_id = strtoll(id, NULL, 10);
	a->ttl_ms = (uint64_t)atoll(ttl) * 1000;
	a->lease_until_ms = lease_deadline(sent, a->ttl_ms);
	return 0;
}

/* The transaction: compare PREFIX/epoch (and, to re-attach, /owner), then put what success says. */
static int txn(struct etcd_arbiter *a, uint64_t expect, const char *owner, bool puts_epoch,
	       bool *won, struct etcd_state *st, char *err, size_t err_len)
{
	char k_epoch[300], k_owner[300], k_lease[300], ke64[420], ko64[420], kl64[420];
	char v[OWNER_MAX + 32], ve64[64], vo64[200], vl64[240], cmp_e[64], range[1024];
	char body[4096];
	int rc;

	snprintf(k_epoch, sizeof(k_epoch), "%s/epoch", a->prefix);
	snprintf(k_owner, sizeof(k_owner), "%s/owner", a->prefix);
	snprintf(k_lease, sizeof(k_lease), "%s/lease", a->prefix);
	b64(k_epoch, ke64, sizeof(ke64));
	b64(k_owner, ko64, sizeof(ko64));
	b64(k_lease, kl64, sizeof(kl64));
	range_json(a, range, sizeof(range));
	snprintf(v, sizeof(v), "%" PRIu64, expect);
	b64(v, cmp_e, sizeof(cmp_e));
	uint64_t next = puts_epoch ? expect + 1 : expect;
	snprintf(v, sizeof(v), "%" PRIu64, next);
	b64(v, ve64, sizeof(ve64));
	b64(owner, vo64, sizeof(vo64));
	snprintf(v, sizeof(v), "%" PRIu64 " %s", next, owner);
	b64(v, vl64, sizeof(vl64));

	int n = snprintf(body, sizeof(body), "{\"compare\":[");
	if (expect == 0)	/* epoch 0 is the key's absence */
		n += snprintf(body + n, sizeof(body) - n,
			      "{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"0\"}", ke64);
	else
		n += snprintf(body + n, sizeof(body) - n, "{\"target\":\"VALUE\",\"key\":\"%s\",\"value\":\"%s\"}",
			      ke64, cmp_e);
	if (!puts_epoch)
		n += snprintf(body + n, sizeof(body) - n, ",{\"target\":\"VALUE\",\"key\":\"%s\",\"value\":\"%s\"}",
			      ko64, vo64);
	n += snprintf(body + n, sizeof(body) - n, "],\"success\":[{\"request_range\":%s}", range);
	if (puts_epoch)
		n += snprintf(body + n, sizeof(body) - n,
			      ",{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}"
			      ",{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}", ke64, ve64, ko64, vo64);
	n += snprintf(body + n, sizeof(body) - n,
		      ",{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" PRId64 "\"}}]"
		      ",\"failure\":[{\"request_range\":%s}]}", kl64, vl64, a->lease_id, range);
	if (n >= (int)sizeof(body)) {
		snprintf(err, err_len, "arbiter %s: request too long", a->base.name);
		return -EINVAL;
	}
	rc = post(a, "/v3/kv/txn", body, err, err_len);
	if (rc)
		return rc;
	*won = strstr(a->resp, "\"succeeded\":true") != NULL;
	return parse_state(a, st, err, err_len);
}

/* Revoke the lease a previous owner's PREFIX/lease hung on: its next keepalive finds it gone. */
static void revoke_lease(struct etcd_arbiter *a, int64_t id)
{
	char body[64], err[512];

	if (!id || id == a->lease_id)
		return;
	snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", id);
	if (post(a, "/v3/lease/revoke", body, err, sizeof(err)) && !strstr(err, "not found"))
		fprintf(stderr, "ftvm: %s (revoking the previous owner's lease)\n", err);
}

static void lost_msg(struct etcd_arbiter *a, const struct etcd_state *st, uint64_t expect, char *err,
		     size_t err_len)
{
	snprintf(err, err_len, "arbiter %s: epoch is %" PRIu64 " (owner %s), not %" PRIu64, a->base.name,
		 st->epoch, st->owner[0] ? st->owner : "none", expect);
}

static uint64_t etcd_lease_ms(const struct ft_arbiter *base);

static int etcd_take(struct ft_arbiter *base, uint64_t expect, const char *owner, char *err,
		     size_t err_len)
{
	struct etcd_arbiter *a = (struct etcd_arbiter *)base;
	struct etcd_state st;
	bool won = false;
	int rc;

	if (strlen(owner) >= OWNER_MAX || !owner[0] || strchr(owner, '\n')) {
		snprintf(err, err_len, "arbiter: owner name empty, too long or with a newline");
		return -EINVAL;
	}
	for (int tries = 0; tries < 2; tries++) {
		if (!a->lease_id || now_ms() >= a->lease_until_ms) {
			rc = grant(a, err, err_len);
			if (rc)
				return rc;
		}
		rc = txn(a, expect, owner, true, &won, &st, err, err_len);
		if (rc != -ENOENT)	/* -ENOENT: our lease expired on the store meanwhile */
			break;
		a->lease_id = 0;
	}
	if (rc)
		return rc;
	bool recovered = false;
	if (!won) {
		char mine[OWNER_MAX + 32];
		snprintf(mine, sizeof(mine), "%" PRIu64 " %s", expect + 1, owner);
		/* An attempt that timed out on another member had committed after all. */
		won = recovered = st.epoch == expect + 1 && !strcmp(st.owner, owner) &&
				  !strcmp(st.lease_value, mine) && st.lease_id == a->lease_id;
	}
	if (!won) {
		lost_msg(a, &st, expect, err, err_len);
		return -EAGAIN;
	}
	a->my_epoch = expect + 1;
	snprintf(a->my_owner, sizeof(a->my_owner), "%s", owner);
	atomic_store(&a->valid_until_ms, a->lease_until_ms);
	/* Revoked at the next keepalive, off the way to going live (docs/split-brain.md). */
	a->revoke_id = st.lease_id != a->lease_id ? st.lease_id : 0;
	/*
	 * The previous owner's lease was alive at our win (or, recovering a win, we cannot
	 * tell): it may release output until its local deadline, at most 0.9 of its TTL
	 * (taken as ours: both sides share the spec) after it last renewed.
	 */
	a->takeover_wait_ms = a->revoke_id || recovered ? etcd_lease_ms(base) + etcd_lease_ms(base) / 10 : 0;
	return 0;
}

/*
 * This host's previous process won epoch (a switchover's last step): own it
 * here too. No lease of ours holds it yet; the next keepalive attaches one
 * only while the epoch is still ours, and fails (-EAGAIN) once it moved on.
 */
static void etcd_adopt(struct ft_arbiter *base, uint64_t epoch, const char *owner)
{
	struct etcd_arbiter *a = (struct etcd_arbiter *)base;

	a->my_epoch = epoch;
	snprintf(a->my_owner, sizeof(a->my_owner), "%s", owner);
}

/* The epoch we won is still the arbiter's, with us as owner: 0, -EAGAIN (and we own nothing), -errno. */
static int check_still_ours(struct etcd_arbiter *a, char *err, size_t err_len)
{
	struct etcd_state st;
	char body[1024];
	int rc;

	range_json(a, body, sizeof(body));
	rc = post(a, "/v3/kv/range", body, err, err_len);
	if (!rc)
		rc = parse_state(a, &st, err, err_len);
	if (rc)
		return rc;
	if (st.epoch == a->my_epoch && !strcmp(st.owner, a->my_owner))
		return 0;
	atomic_store(&a->valid_until_ms, 0);
	lost_msg(a, &st, a->my_epoch, err, err_len);
	a->my_epoch = 0;
	return -EAGAIN;
}

static int etcd_keepalive(struct ft_arbiter *base, char *err, size_t err_len)
{
	struct etcd_arbiter *a = (struct etcd_arbiter *)base;
	struct etcd_state st;
	bool won;
	int rc;

	if (a->revoke_id) {
		revoke_lease(a, a->revoke_id);
		a->revoke_id = 0;
	}
	if (a->lease_id && now_ms() < a->lease_until_ms) {
		char body[64], ttl[32];
		uint64_t sent = now_ms();
		snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", a->lease_id);
		rc = post(a, "/v3/lease/keepalive", body, err, err_len);
		if (rc)
			return rc;
		json_copy(a->resp, "TTL", ttl, sizeof(ttl));
		if (atoll(ttl) > 0) {
			a->ttl_ms = (uint64_t)atoll(ttl) * 1000;
			a->lease_until_ms = lease_deadline(sent, a->ttl_ms);
			if (!a->my_epoch)
				return 0;
			/*
			 * Renewed; but is the epoch still ours? A successor's win leaves our lease
			 * alive until revoked. Only a read after the renewal, seeing our epoch,
			 * extends our validity: a win it does not see came after the renewal was
			 * sent, and the successor waits out a whole lease from its win.
			 */
			rc = check_still_ours(a, err, err_len);
			if (!rc)
				atomic_store(&a->valid_until_ms, a->lease_until_ms);
			return rc;
		}
	}
	/* No lease, or it lapsed or was revoked: a new one, re-attached only if the epoch is still ours. */
	atomic_store(&a->valid_until_ms, 0);
	rc = grant(a, err, err_len);
	if (rc || !a->my_epoch)
		return rc;
	rc = txn(a, a->my_epoch, a->my_owner, false, &won, &st, err, err_len);
	if (rc)
		return rc;
	if (!won) {
		lost_msg(a, &st, a->my_epoch, err, err_len);
		a->my_epoch = 0;
		return -EAGAIN;
	}
	atomic_store(&a->valid_until_ms, a->lease_until_ms);
	return 0;
}

static bool etcd_lease_valid(const struct ft_arbiter *base, uint64_t now)
{
	const struct etcd_arbiter *a = (const struct etcd_arbiter *)base;

	return now < atomic_load(&a->valid_until_ms);
}

static uint64_t etcd_lease_ms(const struct ft_arbiter *base)
{
	const struct etcd_arbiter *a = (const struct etcd_arbiter *)base;

	return a->ttl_ms ? a->ttl_ms : (uint64_t)a->lease_s * 1000;
}

static uint64_t etcd_takeover_wait_ms(const struct ft_arbiter *base)
{
	return ((const struct etcd_arbiter *)base)->takeover_wait_ms;
}

static void etcd_free(struct ft_arbiter *base)
{
	struct etcd_arbiter *a = (struct etcd_arbiter *)base;

	if (a->curl)
		curl_easy_cleanup(a->curl);
	curl_slist_free_all(a->headers);
	for (int i = 0; i < a->n_eps; i++)
		free(a->eps[i]);
	free(a->cacert);
	free(a->cert);
	free(a->key);
	free(a->resp);
	free(a);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* One query option NAME=VALUE. */
static int option(struct etcd_arbiter *a, char *opt, char *err, size_t err_len)
{
	char *val = strchr(opt, '='), *end;
	long n;

	if (!val || !val[1])
		goto bad;
	*val++ = '\0';
	if (!strcmp(opt, "cacert") || !strcmp(opt, "cert") || !strcmp(opt, "key")) {
		char **slot = !strcmp(opt, "cacert") ? &a->cacert : !strcmp(opt, "cert") ? &a->cert : &a->key;
		if (access(val, R_OK)) {
			snprintf(err, err_len, "arbiter %s: %s=%s: %s", a->base.name, opt, val, strerror(errno));
			return -EINVAL;
		}
		free(*slot);
		*slot = strdup(val);
		return *slot ? 0 : -ENOMEM;
	}
	n = strtol(val, &end, 10);
	if (*end)
		goto bad;
	if (!strcmp(opt, "timeout_ms") && n >= 10 && n <= 60000) {
		a->timeout_ms = n;
		return 0;
	}
	if (!strcmp(opt, "lease_s") && n >= 1 && n <= 3600) {
		a->lease_s = (uint32_t)n;
		return 0;
	}
bad:
	snprintf(err, err_len, "arbiter %s: option %s: want cacert=FILE, cert=FILE, key=FILE, "
		 "timeout_ms=10..60000 or lease_s=1..3600", a->base.name, opt);
	return -EINVAL;
}

int ft_arbiter_etcd_open(const char *spec, struct ft_arbiter **out, char *err, size_t err_len)
{
	struct etcd_arbiter *a = calloc(1, sizeof(*a));
	char *s = NULL, *query, *path, *tok, *save;
	int rc = -EINVAL;

	*out = NULL;
	if (!a || !(s = strdup(spec + 7))) {
		free(a);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	a->base.ops = &etcd_ops;
	snprintf(a->base.name, sizeof(a->base.name), "%s", spec);
	a->timeout_ms = 1000;
	a->lease_s = 2;
	snprintf(a->prefix, sizeof(a->prefix), "/ftvm/pair");
	query = strchr(s, '?');
	if (query)
		*query++ = '\0';
	path = strchr(s, '/');
	if (path) {
		size_t n = strlen(path);
		while (n > 1 && path[n - 1] == '/')
			path[--n] = '\0';
		if (n < 2 || n >= sizeof(a->prefix) - 8) {
			snprintf(err, err_len, "arbiter %s: the key prefix must be /SOMETHING, under 240 bytes", spec);
			goto out;
		}
		snprintf(a->prefix, sizeof(a->prefix), "%s", path);
		*path = '\0';
	}
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *colon = strrchr(tok, ':');
		if (a->n_eps == MAX_ENDPOINTS || !colon || colon == tok || !colon[1] ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(tok) > 300) {
			snprintf(err, err_len, "arbiter %s: endpoint '%s': want HOST:PORT (at most %d)", spec, tok,
				 MAX_ENDPOINTS);
			goto out;
		}
		if (!(a->eps[a->n_eps++] = strdup(tok))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (!a->n_eps) {
		snprintf(err, err_len, "arbiter %s: want etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?OPTIONS]", spec);
		goto out;
	}
	for (tok = query ? strtok_r(query, "&", &save) : NULL; tok; tok = strtok_r(NULL, "&", &save))
		if ((rc = option(a, tok, err, err_len)))
			goto out;
	if (!a->cert != !a->key) {
		snprintf(err, err_len, "arbiter %s: cert= and key= go together", spec);
		rc = -EINVAL;
		goto out;
	}
	pthread_once(&curl_once, curl_init);
	a->curl = curl_easy_init();
	a->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!a->curl || !a->headers) {
		snprintf(err, err_len, "arbiter %s: cannot set up libcurl", spec);
		rc = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, a->headers);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, a->timeout_ms);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, a->timeout_ms);
	curl_easy_setopt(a->curl, CURLOPT_TCP_NODELAY, 1L);
	if (a->cacert)
		curl_easy_setopt(a->curl, CURLOPT_CAINFO, a->cacert);
	if (a->cert) {
		curl_easy_setopt(a->curl, CURLOPT_SSLCERT, a->cert);
		curl_easy_setopt(a->curl, CURLOPT_SSLKEY, a->key);
	}
	*out = &a->base;
	a = NULL;
	rc = 0;
out:
	free(s);
	if (a)
		etcd_free(&a->base);
	return rc;
}

static const struct ft_arbiter_ops etcd_ops = {
	.read = etcd_read, .take = etcd_take, .keepalive = etcd_keepalive, .adopt = etcd_adopt,
	.lease_valid = etcd_lease_valid, .lease_ms = etcd_lease_ms, .takeover_wait_ms = etcd_takeover_wait_ms,
	.free = etcd_free,
};
