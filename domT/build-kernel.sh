#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the domT guest kernel Image into a content-keyed cache outside the repo; prints its path last.
#
# Usage: domT/build-kernel.sh            (env: CACHE, JOBS, LINUX_TARBALL)
# The key is sha256(linux.config + this script + linux-source package version):
# if $CACHE/kernel-<key>/Image exists nothing is done.  The result directory also
# holds vmlinux and System.map for symbolising guest panics.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${CACHE:-$HOME/.cache/ftvm}
LINUX_PKG=linux-source-6.1
LINUX_TARBALL=${LINUX_TARBALL:-/usr/src/$LINUX_PKG.tar.xz}
CROSS=riscv64-linux-gnu-
JOBS=${JOBS:-$(nproc)}

die() { echo "build-kernel: error: $*" >&2; exit 1; }
stage() { echo "build-kernel: $*" >&2; }

version=$(dpkg-query -W -f='${Version}' "$LINUX_PKG" 2>/dev/null) ||
	die "package $LINUX_PKG is not installed (apt-get install $LINUX_PKG)"
[ -r "$LINUX_TARBALL" ] || die "$LINUX_TARBALL missing (apt-get install --reinstall $LINUX_PKG)"
command -v ${CROSS}gcc >/dev/null || die "${CROSS}gcc not found (apt-get install gcc-riscv64-linux-gnu)"
for tool in flex bison bc; do
	command -v $tool >/dev/null || die "$tool not found (apt-get install $tool)"
done

key=$( { cat "$here/linux.config" "$here/build-kernel.sh"; echo "$LINUX_PKG $version"; } |
	sha256sum | cut -c1-16)
out=$CACHE/kernel-$key
if [ -f "$out/Image" ]; then
	echo "$out/Image"
	exit 0
fi

mkdir -p "$CACHE"
# One kernel build at a time: a second caller waits, then finds the result.
exec 9>"$CACHE/kernel.lock"
if ! flock -n 9; then
	stage "another kernel build is running; waiting for it"
	flock 9
fi
if [ -f "$out/Image" ]; then
	echo "$out/Image"
	exit 0
fi

src=$CACHE/src-$LINUX_PKG-$version
if [ ! -f "$src/.unpacked" ]; then
	stage "unpacking $LINUX_TARBALL into $src"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xf "$LINUX_TARBALL" -C "$src" --strip-components=1
	touch "$src/.unpacked"
fi

obj=$CACHE/build-$key
rm -rf "$obj"
mkdir -p "$obj"
# Fixed build identity so the same inputs give the same Image bytes on every host
# (primary and backup must boot identical guests).
export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 1970" KBUILD_BUILD_USER=ftvm
export KBUILD_BUILD_HOST=ftvm KBUILD_BUILD_VERSION=1
kmake() { make -C "$src" O="$obj" ARCH=riscv CROSS_COMPILE=$CROSS "$@"; }

stage "configuring: tinyconfig + $here/linux.config"
kmake -s tinyconfig >"$obj/tinyconfig.log"
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$here/linux.config" >"$obj/merge.log" 2>&1 ||
	{ cat "$obj/merge.log" >&2; die "merge_config failed"; }
kmake -s olddefconfig

# merge_config only warns about symbols that did not stick; a guest missing
# virtio or the UART fails much later and more confusingly, so check here.
missing=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	sym=${want#\# }; sym=${sym%%[= ]*}
	if ! grep -qxF "$want" "$obj/.config"; then
		# A disabled symbol whose dependencies are off does not appear at all.
		case $want in "#"*) grep -qE "^$sym=" "$obj/.config" || continue ;; esac
		got=$(grep -E "^(# )?$sym[= ]" "$obj/.config" || echo "(absent)")
		echo "build-kernel: config: wanted '$want', got '$got'" >&2
		missing=1
	fi
done <"$here/linux.config"
[ $missing -eq 0 ] || die "kernel config fragment did not apply (see above)"

stage "building Image with -j$JOBS in $obj"
start=$(date +%s)
kmake -j"$JOBS" Image >&2	# stdout carries only the Image path
stage "built in $(( $(date +%s) - start ))s"

tmp=$(mktemp -d "$CACHE/kernel-$key.tmp.XXXXXX")
cp "$obj/arch/riscv/boot/Image" "$obj/vmlinux" "$obj/System.map" "$obj/.config" "$tmp/"
mv "$tmp/.config" "$tmp/config"
mv -T "$tmp" "$out"
rm -rf "$obj"
stage "done"
echo "$out/Image"
