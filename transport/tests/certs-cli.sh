#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 'ftvm certs init DIR --hosts a,b' gives a CA and per-host certificates that OpenSSL itself accepts;
# 'ftvm certs add' more hosts' certificates from the same CA.
set -u
BUILD=${BUILD:-build}
FTVM=${FTVM:-$BUILD/ftvm}
[ -x "$FTVM" ] || { echo "FAIL: $FTVM not built"; exit 1; }
command -v openssl >/dev/null || { echo "skip: no openssl command"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$FTVM" certs init "$tmp/c" --hosts primary,backup || fail "certs init"
for f in ca.crt ca.key primary.crt primary.key backup.crt backup.key; do
	[ -s "$tmp/c/$f" ] || fail "$f missing"
done
for k in ca.key primary.key backup.key; do
	[ "$(stat -c %a "$tmp/c/$k")" = 600 ] || fail "$k is not mode 0600"
done
for h in primary backup; do
	openssl verify -CAfile "$tmp/c/ca.crt" "$tmp/c/$h.crt" >/dev/null || fail "$h.crt does not verify"
	openssl x509 -in "$tmp/c/$h.crt" -noout -ext subjectAltName | grep -q "DNS:$h" || fail "$h.crt lacks DNS:$h"
	[ "$(openssl x509 -in "$tmp/c/$h.crt" -noout -pubkey | openssl sha256)" = \
	  "$(openssl pkey -in "$tmp/c/$h.key" -pubout | openssl sha256)" ] || fail "$h.key does not match $h.crt"
done
openssl verify -CAfile "$tmp/c/ca.crt" "$tmp/c/ca.crt" >/dev/null || fail "ca.crt is not self-signed"
# A second CA does not vouch for the first one's hosts.
"$FTVM" certs init "$tmp/other" --hosts primary >/dev/null || fail "second certs init"
openssl verify -CAfile "$tmp/other/ca.crt" "$tmp/c/primary.crt" >/dev/null 2>&1 && fail "a foreign CA verified primary.crt"
"$FTVM" certs init "$tmp/bad" >/dev/null 2>&1 && fail "certs init without --hosts succeeded"
# certs add: a spare's certificate from the same CA verifies against the certificate the others hold.
cp "$tmp/c/ca.crt" "$tmp/ca-before.crt"
"$FTVM" certs add "$tmp/c" --hosts spare >/dev/null || fail "certs add"
cmp -s "$tmp/c/ca.crt" "$tmp/ca-before.crt" || fail "certs add changed the CA"
openssl verify -CAfile "$tmp/ca-before.crt" "$tmp/c/spare.crt" >/dev/null || fail "spare.crt does not verify"
[ "$(stat -c %a "$tmp/c/spare.key")" = 600 ] || fail "spare.key is not mode 0600"
cp "$tmp/c/spare.crt" "$tmp/spare-before.crt"
"$FTVM" certs add "$tmp/c" --hosts third,spare >/dev/null 2>&1 && fail "certs add replaced spare.crt"
[ -e "$tmp/c/third.key" ] && fail "a refused certs add left third.key"
cmp -s "$tmp/c/spare.crt" "$tmp/spare-before.crt" || fail "a refused certs add changed spare.crt"
"$FTVM" certs add "$tmp/none" --hosts spare >/dev/null 2>&1 && fail "certs add without a CA succeeded"
[ -e "$tmp/none" ] && fail "certs add without a CA made its DIR"
echo "ftvm certs init: CA and host certificates verify with OpenSSL, keys are private; certs add signs with the same CA"
