#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# hv's Linux system tests once more with every run, record and replay under --cpu jit
# (a wrapper in front of $FTVM adds the option), so each passes under both --cpu modes.
set -u
BUILD=${BUILD:-build}
FTVM=${FTVM:-$BUILD/ftvm}
real=$(cd "$(dirname "$FTVM")" && pwd)/$(basename "$FTVM")
[ -x "$real" ] || { echo "FAIL: $real is not built"; exit 1; }
dir=$(mktemp -d /tmp/ftvm-jit.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/ftvm" <<SH
#!/bin/sh
case "\$1" in
run|record|replay) sub=\$1; shift; exec "$real" "\$sub" --cpu jit "\$@" ;;
*) exec "$real" "\$@" ;;
esac
SH
chmod +x "$dir/ftvm"
here=$(dirname "$0")/../../tests
failed=0
for t in ${LINUX_JIT_TESTS:-linux-boot.sh disk-persist.sh disk-snapshot.sh ftkv-user-net.sh console-pty.sh \
		twin-run.sh snapshot-linux.sh rr-linux.sh rr-jitter.sh rr-crash.sh rr-diverge.sh \
		rr-output-commit.sh rr-output-commit-fulldisk.sh rr-golive-tap.sh}; do
	if FTVM="$dir/ftvm" "$here/$t" >"$dir/out" 2>&1; then
		echo "PASS $t under --cpu jit"
	else
		rc=$?
		if [ $rc -eq 77 ]; then
			echo "SKIP $t: $(tail -1 "$dir/out")"
		else
			echo "FAIL $t under --cpu jit (exit $rc)"
			tail -20 "$dir/out" | sed 's/^/    /'
			failed=$((failed + 1))
		fi
	fi
done
[ $failed -eq 0 ]
