#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The log names its digest hash: a recording with either hash (XXH3-128 by default, SHA-256 as every
# log before the header named it) replays with every digest matching, 'ftvm log dump' names the hash,
# and a digest byte changed in the log is reported as a divergence at that DIGEST's step.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

rec() {	# rec NAME [record options...]: boot the default guest to poweroff, digests every 5M steps
	local name=$1
	shift
	timeout -k 5 300 "$FTVM" record --log "$TMP/$name.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
		--net none --no-console-input --digest-interval 5M --max-steps 60M \
		--append "console=ttyS0 panic=-1 ftvm.run=poweroff" "$@" >"$TMP/$name.rec" 2>&1
	local rc=$?
	# --max-steps may stop it first (exit 6): the log then ends with END 'recorder stopped'.
	[ $rc -eq 0 ] || [ $rc -eq 6 ] || { tail -n 20 "$TMP/$name.rec"; fail "recording $name: exit $rc"; }
}

# flip LOG NTH BYTE OUT: the NTH DIGEST event (from 0) with BYTE of its 32 xored with 0x01, chunk crc
# made right again, written to OUT; prints that DIGEST's step.
flip() {
	python3 - "$@" <<'EOF'
import struct, sys
path, nth, byte, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b, c=0):
    c ^= 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def varint(b, i):
    v = s = 0
    while True:
        v |= (b[i] & 0x7F) << s
        s += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i
d = bytearray(open(path, "rb").read())
off = 16 + struct.unpack_from("<I", d, 12)[0] + 4
seen = 0
while off < len(d):
    assert d[off:off + 4] == b"FTCK"
    first, = struct.unpack_from("<Q", d, off + 12)
    plen, nev = struct.unpack_from("<II", d, off + 28)
    p, step = off + 40, first
    for _ in range(nev):
        kind = d[p]
        delta, p = varint(d, p + 1)
        step += delta
        if kind in (1, 2):
            n, p = varint(d, p)
            p += n
        elif kind == 3:
            p = varint(d, varint(d, p)[1])[1]
        elif kind == 4:
            if seen == nth:
                d[p + byte] ^= 1
                struct.pack_into("<I", d, off + 36, crc32c(d[off + 40:off + 40 + plen], crc32c(d[off:off + 36])))
                open(out, "wb").write(d)
                print(step)
                sys.exit(0)
            seen += 1
            p += 32
        elif kind == 5:
            p += 8
        elif kind == 6:
            p = varint(d, p)[1]
    off += 40 + plen
sys.exit("fewer than %d DIGEST events" % (nth + 1))
EOF
}

# dump_digests LOG: the DIGEST events' 32 bytes in hex, one a line.
dump_digests() {
	"$FTVM" log dump --json "$1" | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o.get("type") == "event" and o.get("kind") == "digest":
        print(o["digest"])'
}

rec x
rec s --digest-hash sha256
for name in x s; do
	want=$([ $name = x ] && echo xxh3 || echo sha256)
	"$FTVM" log dump "$TMP/$name.ftlog" >"$TMP/$name.dump" || fail "log dump $name"
	grep -Eq "^  digest hash +$want" "$TMP/$name.dump" || { head -n 20 "$TMP/$name.dump"; fail "log dump of $name does not name $want"; }
	"$FTVM" log dump --json "$TMP/$name.ftlog" | head -n1 | grep -q "\"digest_hash\":\"$want\"" ||
		fail "log dump --json of $name does not name $want"
	dump_digests "$TMP/$name.ftlog" >"$TMP/$name.digests"
	n=$(wc -l <"$TMP/$name.digests")
	[ "$n" -ge 5 ] || fail "$name: $n DIGEST events, want at least 5"
	timeout -k 5 300 "$FTVM" replay "$TMP/$name.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
		--quiet --stats 2>"$TMP/$name.rep"
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 6 ] || [ $rc -eq 5 ] || { tail -n 5 "$TMP/$name.rep"; fail "replay of $name ($want): exit $rc"; }
	grep -q "diverged" "$TMP/$name.rep" && fail "replay of $name ($want) diverged"
	echo "ok: $want log: $n digests, replayed with every one matching"
done
# XXH3-128 fills 16 bytes, the other 16 are zero; SHA-256 all 32 (and the two differ).
! grep -qv '^[0-9a-f]\{32\}0\{32\}$' "$TMP/x.digests" ||
	fail "an XXH3-128 digest without 16 zero bytes at its end: $(grep -v '0\{32\}$' "$TMP/x.digests" | head -n1)"
grep -v '0\{32\}$' "$TMP/s.digests" | grep -q . || fail "SHA-256 digests end in 16 zero bytes"
[ "$(head -n1 "$TMP/x.digests")" != "$(head -n1 "$TMP/s.digests")" ] || fail "the two hashes give one digest"
# The SHA-256 log's header has no tag 12: it is what every ftvm before it wrote.
python3 - "$TMP/s.ftlog" "$TMP/x.ftlog" <<'EOF' || fail "header tags"
import struct, sys
def tags(path):
    d = open(path, "rb").read()
    n, t, off = struct.unpack_from("<I", d, 12)[0], [], 16
    while off < 16 + n:
        tag, ln = struct.unpack_from("<HI", d, off)
        t.append((tag, d[off + 6:off + 6 + ln]))
        off += 6 + ln
    return d[8:12], t
v, s = tags(sys.argv[1])
assert v == b"\x01\x00\x00\x00", v
assert 12 not in [t for t, _ in s], s
v, x = tags(sys.argv[2])
assert v == b"\x01\x00\x00\x00", v
assert (12, b"\x01\x00\x00\x00") in x, x
EOF

# A digest changed in the log: the replay stops at that DIGEST's step, exit 8.
for c in "x 2 3" "x 2 20" "s 2 31"; do
	set -- $c
	step=$(flip "$TMP/$1.ftlog" "$2" "$3" "$TMP/bad.ftlog") || fail "cannot change DIGEST $2 of $1"
	timeout -k 5 300 "$FTVM" replay "$TMP/bad.ftlog" --kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD" \
		--quiet 2>"$TMP/bad.err"
	rc=$?
	[ $rc -eq 8 ] || { cat "$TMP/bad.err"; fail "$1 log with DIGEST $2 byte $3 changed: exit $rc, want 8"; }
	grep -Eq "replay diverged at step $step \(chunk [0-9]+, event [0-9]+ digest\): state digest expected" "$TMP/bad.err" ||
		{ cat "$TMP/bad.err"; fail "$1 log, DIGEST $2 byte $3 changed: not reported at step $step"; }
	echo "ok: $1 log, DIGEST $2 byte $3 changed: divergence at step $step"
done
echo "both digest hashes record, replay, dump and catch a changed digest"
