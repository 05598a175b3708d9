# SPDX-License-Identifier: MIT
# Shared loop for run-qemu.sh and run-ftvm.sh; the caller defines isa_cmd ELF SMP (prints the command).
# ISA_FILTER (env) restricts the run to tests whose name contains it.

BUILD=${BUILD:-build}
TIMEOUT_S=${ISA_TIMEOUT_S:-20}

isa_run_all() {
	local elfs=("$BUILD"/isa/*.elf)
	if [ ! -e "${elfs[0]}" ]; then
		echo "no ISA tests built in $BUILD/isa (run: make isa)"
		return 77
	fi
	local failed=0 passed=0 elf name smp out rc
	out=$(mktemp)
	for elf in "${elfs[@]}"; do
		name=$(basename "$elf" .elf)
		[ -n "${ISA_FILTER:-}" ] && [[ "$name" != *$ISA_FILTER* ]] && continue
		smp=1
		[[ "$name" == smp_* ]] && smp=2
		timeout --kill-after=5 "$TIMEOUT_S" $(isa_cmd "$elf" "$smp") </dev/null >"$out" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			passed=$((passed + 1))
			echo "PASS $name"
		else
			failed=$((failed + 1))
			if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
				echo "FAIL $name (timeout after ${TIMEOUT_S}s, exit $rc)"
			else
				echo "FAIL $name (exit $rc)"
			fi
			sed 's/^/    /' "$out" | tail -n 20
		fi
	done
	rm -f "$out"
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}
