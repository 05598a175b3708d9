#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A snapshot taken during a replay goes on with the rest of the log: Linux with a disk the guest
# writes and ftkv traffic over the network is recorded; 'ftvm snapshot save --log' replays it to
# the middle and saves; 'ftvm replay --from' loads that in a fresh process and replays the rest,
# every check and digest matching, to the same end. A snapshot of another log, one that names no
# place in a log, a wrong disk and a log cut before the snapshot's place are refused clearly.
set -u
. "$(dirname "$0")/lib.sh"
require_domT

port=$(free_port)
log=$TMP/run.ftlog
truncate -s 16M "$TMP/disk0.img"
printf 'ftvm' | dd of="$TMP/disk0.img" bs=1 seek=100000 conv=notrunc status=none
cp "$TMP/disk0.img" "$TMP/disk-rec.img"
images=(--kernel "$DOMT_IMAGE" --initrd "$DOMT_INITRD")
cat >"$TMP/rec.json" <<JSON
{"argv": ["$FTVM", "record", "--log", "$log", "--kernel", "$DOMT_IMAGE", "--initrd", "$DOMT_INITRD",
          "--disk", "$TMP/disk-rec.img", "--digest-interval", "5M", "--net", "user,hostfwd=tcp:127.0.0.1:$port-:7000", "--stats",
          "--append", "console=ttyS0 panic=-1 ftvm.run=disk-write,ftkv,shell ftvm.diskgen=5 ftvm.diskblocks=512"],
 "log": "$TMP/rec.log", "timeout": 300, "seed": 11,
 "steps": [["wait", "ftkv: listening", 120],
           ["ftkv", $port, 30, 60],
           ["wait", "domT#", 120],
           ["type", "echo snapshot-replay\n"], ["wait", "snapshot-replay\r\n", 30],
           ["type", "poweroff\n"]]}
JSON
python3 "$(dirname "$0")/rr_drive.py" "$TMP/rec.json" || { tail -30 "$TMP/rec.log"; fail "recording failed"; }
grep -q "domT: PASS disk-write" "$TMP/rec.log.console" || fail "the guest did not write its disk"
steps=$(grep -o "after [0-9]* steps" "$TMP/rec.log" | grep -o "[0-9]*")
[ "${steps:-0}" -gt 50000000 ] || fail "recorded only ${steps:-0} steps"

json_field() { tail -n 1 "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"$2\"])"; }

# The whole log, replayed from the boot: the reference.
cp "$TMP/disk0.img" "$TMP/disk-full.img"
timeout -k 5 300 "$FTVM" replay "$log" "${images[@]}" --disk "$TMP/disk-full.img" --quiet --json \
	>/dev/null 2>"$TMP/full.err" || { tail -3 "$TMP/full.err"; fail "the full replay"; }
full_checks=$(json_field "$TMP/full.err" checks)
full_digests=$(json_field "$TMP/full.err" digests)

# Save in the middle of a replay; the disk is then as it was at that step.
N=$((steps / 2))
cp "$TMP/disk0.img" "$TMP/disk-mid.img"
timeout -k 5 300 "$FTVM" snapshot save --log "$log" --at "$N" --out "$TMP/mid.snap" "${images[@]}" \
	--disk "$TMP/disk-mid.img" 2>"$TMP/save.err" || { cat "$TMP/save.err"; fail "snapshot save --log"; }
"$FTVM" snapshot info --json "$TMP/mid.snap" >"$TMP/info.json" || fail "snapshot info"
python3 - "$TMP/info.json" "$N" <<'PY' || fail "snapshot info does not show the log position"
import json, sys
i = json.load(open(sys.argv[1]))
assert i["steps"] == int(sys.argv[2]), i
assert i["log"]["events"] > 0 and i["dirty_pages_kept"], i
PY
cp "$TMP/disk-mid.img" "$TMP/disk-mid-copy.img"

# A fresh process goes on from the snapshot with the rest of the log.
timeout -k 5 300 "$FTVM" replay "$log" --from "$TMP/mid.snap" --disk "$TMP/disk-mid.img" --quiet --json \
	>/dev/null 2>"$TMP/rest.err"
rc=$?
[ $rc -eq 0 ] || { tail -3 "$TMP/rest.err"; fail "replay --from exit $rc"; }
[ "$(json_field "$TMP/rest.err" result)" = replayed ] || fail "the rest did not replay"
[ "$(json_field "$TMP/rest.err" step)" = "$steps" ] || fail "the rest ended at another step than $steps"
[ "$(json_field "$TMP/rest.err" end)" = poweroff ] || fail "the rest did not end with the poweroff"
rest_checks=$(json_field "$TMP/rest.err" checks)
rest_digests=$(json_field "$TMP/rest.err" digests)
[ "$rest_digests" -ge 1 ] && [ "$rest_checks" -ge 1 ] || fail "the rest checked nothing ($rest_checks, $rest_digests)"
[ "$rest_digests" -lt "$full_digests" ] && [ "$rest_checks" -lt "$full_checks" ] ||
	fail "the rest checked as much as the whole ($rest_checks/$full_checks, $rest_digests/$full_digests)"
cmp -s "$TMP/disk-mid.img" "$TMP/disk-full.img" || fail "the disk after the rest differs from the full replay's"
echo "ok: from step $N of $steps, $rest_checks of $full_checks checks and $rest_digests of $full_digests digests matched"

# Refusals, each with its reason.
cp "$TMP/disk-mid-copy.img" "$TMP/disk-bad.img"
printf 'x' | dd of="$TMP/disk-bad.img" bs=1 seek=4096 conv=notrunc status=none
refused "a disk changed since the save" "differs from the one saved" \
	replay "$log" --from "$TMP/mid.snap" --disk "$TMP/disk-bad.img"
timeout -k 5 120 "$FTVM" record --log "$TMP/other.ftlog" "${images[@]}" --disk "$TMP/disk0.img,snapshot" \
	--net user --no-console-input --max-steps 30000000 >/dev/null 2>&1
[ $? -eq 6 ] || fail "recording the other log"
refused "another log" "another log" \
	replay "$TMP/other.ftlog" --from "$TMP/mid.snap" --disk "$TMP/disk-mid-copy.img"
cp "$TMP/disk0.img" "$TMP/disk-run.img"
"$FTVM" snapshot save --at 30000000 --out "$TMP/run.snap" "${images[@]}" --disk "$TMP/disk-run.img" \
	--net user >/dev/null 2>&1 || fail "a plain snapshot"
refused "a snapshot of a plain run" "names no place in a log" \
	replay "$log" --from "$TMP/run.snap" --disk "$TMP/disk-run.img"
# Cut at the first chunk that ends past a quarter of the run: well before the snapshot's place.
cut=$("$FTVM" log dump --json "$log" | python3 -c '
import json, sys
for line in sys.stdin:
    c = json.loads(line)
    if c["type"] == "chunk" and c["end_step"] > int(sys.argv[1]):
        print(c["offset"]); break' $((steps / 4)))
[ -n "$cut" ] || fail "no chunk past a quarter of the run"
head -c "$cut" "$log" >"$TMP/cut.ftlog"
refused "a log cut before the snapshot's place" "before the snapshot's place" \
	replay "$TMP/cut.ftlog" --from "$TMP/mid.snap" --disk "$TMP/disk-mid-copy.img"
refused "--bisect with --from" "not with --from" \
	replay "$log" --from "$TMP/mid.snap" --bisect
# Trimmed to the snapshot's chunk: the chunks before it are freed, the file keeps its size, and
# the rest replays from the snapshot as from the whole log.
cp --sparse=always "$log" "$TMP/trim.ftlog"
blocks_before=$(stat -c %b "$TMP/trim.ftlog")
"$FTVM" log trim "$TMP/trim.ftlog" --from "$TMP/mid.snap" >"$TMP/trim.out" 2>&1 ||
	{ cat "$TMP/trim.out"; fail "log trim"; }
blocks_after=$(stat -c %b "$TMP/trim.ftlog")
[ "$(stat -c %s "$TMP/trim.ftlog")" = "$(stat -c %s "$log")" ] || fail "the trimmed log changed its size"
hole=$("$FTVM" log dump --json "$TMP/trim.ftlog" | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["trimmed_bytes"])')
[ "${hole:-0}" -gt 0 ] || fail "log trim left no hole"
# Whole 4 KiB blocks in the hole are given back (the recording here is short: its log may hold none).
[ "$hole" -lt 8192 ] || [ "$blocks_after" -lt "$blocks_before" ] ||
	fail "log trim freed nothing of a $hole-byte hole ($blocks_before -> $blocks_after blocks)"
echo "ok: $(cat "$TMP/trim.out")"
"$FTVM" log dump "$TMP/trim.ftlog" >"$TMP/trim.dump" || fail "log dump of the trimmed log"
grep -q "^trimmed: " "$TMP/trim.dump" || fail "log dump does not say the log was trimmed"
grep -q "^summary: .*ended cleanly" "$TMP/trim.dump" || fail "log dump does not read the trimmed log to its end"
cp "$TMP/disk-mid-copy.img" "$TMP/disk-trim.img"
timeout -k 5 300 "$FTVM" replay "$TMP/trim.ftlog" --from "$TMP/mid.snap" --disk "$TMP/disk-trim.img" --quiet \
	--json >/dev/null 2>"$TMP/trim.err" || { tail -3 "$TMP/trim.err"; fail "replay of the trimmed log --from"; }
[ "$(json_field "$TMP/trim.err" step)" = "$steps" ] || fail "the trimmed log ended at another step than $steps"
[ "$(json_field "$TMP/trim.err" checks)" = "$rest_checks" ] &&
	[ "$(json_field "$TMP/trim.err" digests)" = "$rest_digests" ] ||
	fail "the trimmed log checked other than the whole log from the same snapshot"
cmp -s "$TMP/disk-trim.img" "$TMP/disk-full.img" || fail "the disk after the trimmed log differs"
"$FTVM" log trim "$TMP/trim.ftlog" --from "$TMP/mid.snap" | grep -q "nothing to free" ||
	fail "a second trim to the same place"
cp "$TMP/disk0.img" "$TMP/disk-start.img"
refused "a trimmed log replayed from its start" "the log was trimmed" \
	replay "$TMP/trim.ftlog" "${images[@]}" --disk "$TMP/disk-start.img"
refused "log trim with a snapshot of another log" "another log" \
	log trim "$TMP/other.ftlog" --from "$TMP/mid.snap"
refused "log trim with a snapshot of a plain run" "names no place in a log" \
	log trim "$TMP/trim.ftlog" --from "$TMP/run.snap"

echo "PASS"
