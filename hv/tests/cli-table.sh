#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ftvm's command-line conventions, table-driven: each line of cli-table.txt is an argv, the exit
# status it must give and a substring its output must contain.
set -u
. "$(dirname "$0")/lib.sh"
require_ftvm
ELF=$BUILD/isa/rv64i_alu.elf
[ -f "$ELF" ] || fail "$ELF is not built (make isa)"
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin

# Fixtures the table refers to.
mkfifo "$TMP/fifo"
printf "fw_dynamic.bin goes here\n" >"$TMP/notes.txt"
python3 -c 'import random,sys; r=random.Random(1); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(65536)))' >"$TMP/garbage"
# 56 bytes of header then the RISC-V Image magic "RSC\x05".
python3 -c 'import sys; sys.stdout.buffer.write(b"\x13\x00\x00\x00" * 14 + b"RSC\x05" + b"\0" * 4096)' >"$TMP/fake-Image"
head -c 1048576 /dev/zero >"$TMP/ro.img"
chmod 0444 "$TMP/ro.img"
head -c 1048576 /dev/zero >"$TMP/rw.img"
LOG=$TMP/alu.ftlog
"$FTVM" record --log "$LOG" --kernel "$ELF" --bios none --no-console-input >/dev/null 2>&1 || fail "cannot record $ELF"
# The same log with harts = 4096: the SMP value (tag 2) follows the 16-byte fixed header and the
# 14-byte memory TLV; the header's crc32c covers everything before it.
SMPLOG=$TMP/smp4096.ftlog
python3 - "$LOG" "$SMPLOG" <<'PY' || fail "cannot make the smp=4096 log"
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
log = bytearray(open(sys.argv[1], 'rb').read())
body = struct.unpack_from('<I', log, 12)[0]
assert struct.unpack_from('<HI', log, 30) == (2, 4), 'smp TLV not where expected'
assert struct.unpack_from('<I', log, 16 + body)[0] == crc32c(log[:16 + body]), 'crc32c disagrees'
struct.pack_into('<I', log, 36, 4096)
struct.pack_into('<I', log, 16 + body, crc32c(log[:16 + body]))
open(sys.argv[2], 'wb').write(log)
PY

n=0 bad=0
while IFS= read -r line; do
	case "$line" in ''|'#'*) continue;; esac
	want_rc=$(echo "${line%%|*}" | tr -d ' ')
	rest=${line#*|}
	want=${rest%%|*}
	want=$(echo "$want" | sed 's/^ *//; s/ *$//')
	args=${rest#*|}
	want=${want//\$TMP/$TMP}
	want=${want//\$ELF/$ELF}
	eval "set -- $args"
	n=$((n + 1))
	timeout 30 "$FTVM" "$@" </dev/null >"$TMP/out" 2>&1
	rc=$?
	if [ "$rc" != "$want_rc" ] || ! grep -qF -- "$want" "$TMP/out"; then
		bad=$((bad + 1))
		echo "FAIL: ftvm$args: exit $rc (want $want_rc), output lacks or has: '$want'"
		sed 's/^/    /' "$TMP/out" | head -n 8
	else
		echo "ok: ftvm$args -> $rc: $(grep -F -m1 -- "$want" "$TMP/out" | cut -c1-100)"
	fi
done <"$(dirname "$0")/cli-table.txt"

# The man page and the bash completion know every option each command's --help prints.
root=$(cd "$(dirname "$0")/../.." && pwd)
for cmd in run record replay primary backup status promote protect "log dump" "certs init" snapshot version; do
	for opt in $("$FTVM" $cmd --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -qF -- "\\-\\-${opt#--}" "$root/docs/ftvm.1" ||
			{ bad=$((bad + 1)); echo "FAIL: docs/ftvm.1 lacks 'ftvm $cmd $opt'"; }
		grep -qw -- "$opt" "$root/cli/ftvm.bash" ||
			{ bad=$((bad + 1)); echo "FAIL: cli/ftvm.bash lacks 'ftvm $cmd $opt'"; }
	done
done
# Every --json output parses as JSON (the reports: the last line of stderr; log dump: every line).
json_ok() {	# json_ok WHAT FILE MODE(last|lines)
	python3 - "$2" "$3" <<'PY' || { bad=$((bad + 1)); echo "FAIL: $1 is not valid JSON"; }
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
for l in (lines[-1:] if sys.argv[2] == "last" else lines):
    json.loads(l)
PY
}
"$FTVM" version --json >"$TMP/j" && json_ok "version --json" "$TMP/j" lines
"$FTVM" log dump --json "$LOG" >"$TMP/j" && json_ok "log dump --json" "$TMP/j" lines
"$FTVM" record --log "$TMP/j.ftlog" --kernel "$ELF" --bios none --no-console-input --stats --json >/dev/null 2>"$TMP/j" &&
	json_ok "record --stats --json" "$TMP/j" last
"$FTVM" replay "$LOG" --kernel "$ELF" --perturb 150:10:3 --json >/dev/null 2>"$TMP/j"
json_ok "replay --json (diverged)" "$TMP/j" last

# The completion completes: commands, options, option values.
complete_to() {	# complete_to WANT WORDS...: the last word is the one being completed
	local want=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_ftvm
	[[ " ${COMPREPLY[*]} " == *" $want "* ]] ||
		{ bad=$((bad + 1)); echo "FAIL: completing '$*' gives '${COMPREPLY[*]}', not '$want'"; }
}
complete() { :; }	# the file registers itself; here only _ftvm is wanted
. "$root/cli/ftvm.bash"
complete_to record ftvm rec
complete_to --digest-interval ftvm record --dig
complete_to --digest-hash ftvm record --digest-h
complete_to sha256 ftvm record --digest-hash s
complete_to jit ftvm run --cpu j
complete_to --then-live ftvm replay x.ftlog --then
complete_to dump ftvm log d
complete_to --force ftvm certs init dir --fo
complete_to --json ftvm snapshot info --js
complete_to --arbiter ftvm primary --arb
complete_to --control ftvm status --con
[ $bad -eq 0 ] || fail "$bad of $n command-line cases"
echo "$n command-line cases behave as the table says"
