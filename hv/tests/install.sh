#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 'make install DESTDIR=... PREFIX=/usr' stages ftvm, its default guest and the docs; the installed
# 'ftvm run' finds that guest by itself and boots it to power-off; 'make uninstall' removes it all.
set -u
. "$(dirname "$0")/lib.sh"
require_domT
root=$TMP/root
make -s --no-print-directory BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr install >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "make install"; }
for f in usr/bin/ftvm usr/lib/ftvm/ftvm usr/lib/ftvm/domT/Image usr/lib/ftvm/domT/initrd.cpio \
	usr/share/doc/ftvm/README.md usr/share/doc/ftvm/snapshot-format.md; do
	[ -e "$root/$f" ] || fail "make install did not install /$f"
done
[ "$(readlink "$root/usr/bin/ftvm")" = ../lib/ftvm/ftvm ] || fail "bin/ftvm is not a relative link to lib/ftvm/ftvm"

# No --kernel: the installed binary must find the guest installed beside it, not the build tree's.
(cd "$TMP" && timeout -k 5 240 "$root/usr/bin/ftvm" run --net none --no-console-input --max-steps 2000000000 \
	--append "console=ttyS0 panic=-1 ftvm.run=poweroff") >"$TMP/console" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "domT init: ready" "$TMP/console" || { show_console; fail "installed ftvm run: exit $rc"; }

make -s --no-print-directory BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr uninstall >"$TMP/uninstall.log" 2>&1 ||
	{ cat "$TMP/uninstall.log"; fail "make uninstall"; }
left=$(find "$root" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "installed under DESTDIR, booted the installed guest to power-off, uninstalled cleanly"
