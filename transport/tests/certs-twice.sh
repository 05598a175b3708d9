#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 'ftvm certs init' is safe with the user's files: a second run over the same DIR is refused and
# leaves the CA as it was; hosts are deduplicated; a failure leaves nothing behind.
set -u
BUILD=${BUILD:-build}
FTVM=${FTVM:-$BUILD/ftvm}
[ -x "$FTVM" ] || { echo "FAIL: $FTVM not built"; exit 1; }
command -v openssl >/dev/null || { echo "skip: no openssl command"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$FTVM" certs init "$tmp/c" --hosts primary,backup >/dev/null || fail "first certs init"
sums=$(cd "$tmp/c" && sha256sum ca.key ca.crt primary.key primary.crt backup.key backup.crt)

# Twice: refused, exit 1, the existing file named, nothing changed.
"$FTVM" certs init "$tmp/c" --hosts primary,backup >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] || { cat "$tmp/out"; fail "second certs init: exit $rc, want 1"; }
grep -q "$tmp/c/ca.key exists" "$tmp/out" || { cat "$tmp/out"; fail "the refusal does not name ca.key"; }
[ "$(cd "$tmp/c" && sha256sum ca.key ca.crt primary.key primary.crt backup.key backup.crt)" = "$sums" ] ||
	fail "a refused certs init changed the CA or a host certificate"
# Adding a host to an existing CA is refused too (it would make a new CA): nothing new appears.
"$FTVM" certs init "$tmp/c" --hosts third >/dev/null 2>&1 && fail "certs init over an existing CA succeeded"
[ -e "$tmp/c/third.key" ] && fail "a refused certs init left third.key"
echo "ok: a second certs init is refused and the CA is unchanged"

# --force makes a new CA: the old host certificates no longer verify against it.
"$FTVM" certs init "$tmp/c" --hosts primary --force >/dev/null || fail "certs init --force"
[ "$(sha256sum <"$tmp/c/ca.key")" != "$(echo "$sums" | awk '$2=="ca.key"{print $1}')  -" ] || fail "--force kept the old CA key"
openssl verify -CAfile "$tmp/c/ca.crt" "$tmp/c/primary.crt" >/dev/null || fail "--force: primary.crt does not verify"
openssl verify -CAfile "$tmp/c/ca.crt" "$tmp/c/backup.crt" >/dev/null 2>&1 && fail "the old backup.crt verifies against a new CA"
echo "ok: --force replaces the CA"

# Repeated hosts count once.
"$FTVM" certs init "$tmp/d" --hosts a,a,b,a >"$tmp/out" || fail "certs init with repeated hosts"
grep -q "2 host certificate(s)" "$tmp/out" || { cat "$tmp/out"; fail "repeated hosts were counted twice"; }
echo "ok: --hosts a,a,b,a writes 2 host certificates"

# A bad host name: usage error, and no directory left behind.
"$FTVM" certs init "$tmp/e" --hosts good,'bad name' >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$tmp/out"; fail "bad host name: exit $rc, want 2"; }
[ -e "$tmp/e" ] && fail "a bad host name left $tmp/e behind"
# A failure half-way (a host's key path is a directory) takes back what it wrote.
mkdir -p "$tmp/f/late.key"
"$FTVM" certs init "$tmp/f" --hosts early,late --force >/dev/null 2>&1 && fail "certs init over a directory succeeded"
[ -z "$(ls "$tmp/f" | grep -v '^late.key$')" ] || fail "a failed certs init left: $(ls "$tmp/f")"
echo "ok: a failed certs init leaves nothing behind"
