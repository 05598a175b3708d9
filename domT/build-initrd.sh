#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds domT's static init and workloads for RV64 and packs them into $BUILD/domT/initrd.cpio.
#
# Usage: domT/build-initrd.sh   (env: BUILD (default build), RISCV_CC, CC)
# Also leaves the guest binaries in $BUILD/domT/bin/ and a host build of cpubench
# ($BUILD/domT/cpubench-host) whose checksum a correct guest must reproduce.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
RISCV_CC=${RISCV_CC:-riscv64-linux-gnu-gcc}
CC=${CC:-gcc}
out=$BUILD/domT
bin=$out/bin

die() { echo "build-initrd: error: $*" >&2; exit 1; }
command -v "$RISCV_CC" >/dev/null || die "$RISCV_CC not found (apt-get install gcc-riscv64-linux-gnu)"
[ -f /usr/riscv64-linux-gnu/lib/libc.a ] || [ "$RISCV_CC" != riscv64-linux-gnu-gcc ] ||
	die "static riscv64 glibc missing (apt-get install libc6-dev-riscv64-cross)"

# -ffp-contract=off: no fused multiply-add, so FP results match the host build bit for bit.
cflags=(-std=gnu11 -O2 -g -Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
	-Wshadow -Wpointer-arith -Wcast-qual -Wundef -Wwrite-strings -Wno-unused-parameter
	-Werror -fno-strict-aliasing -ffp-contract=off -D_GNU_SOURCE)
src=$here/init
mkdir -p "$bin"

echo "build-initrd: compiling guest programs with $RISCV_CC" >&2
"$RISCV_CC" "${cflags[@]}" -static -o "$bin/init" "$src/init.c" "$src/shell.c"
"$RISCV_CC" "${cflags[@]}" -static -o "$bin/ftkv" "$src/ftkv.c"
"$RISCV_CC" "${cflags[@]}" -static -o "$bin/cpubench" "$src/cpubench.c" "$src/crc32.c" -lm
"$RISCV_CC" "${cflags[@]}" -static -o "$bin/ftdisk" "$src/ftdisk.c" "$src/crc32.c"
"$CC" "${cflags[@]}" -o "$out/cpubench-host" "$src/cpubench.c" "$src/crc32.c" -lm
"$CC" "${cflags[@]}" -o "$out/mkcpio" "$here/mkcpio.c"

list=$out/initrd.list
cat >"$list" <<LIST
dir /dev 0755
nod /dev/console 0600 c 5 1
nod /dev/null 0666 c 1 3
dir /proc 0755
dir /sys 0755
dir /tmp 1777
dir /bin 0755
file /init $bin/init 0755
file /bin/ftkv $bin/ftkv 0755
file /bin/cpubench $bin/cpubench 0755
file /bin/ftdisk $bin/ftdisk 0755
LIST
"$out/mkcpio" "$list" >"$out/initrd.cpio.tmp"
mv "$out/initrd.cpio.tmp" "$out/initrd.cpio"
echo "build-initrd: $(stat -c %s "$out/initrd.cpio") bytes" >&2
echo "$out/initrd.cpio"
