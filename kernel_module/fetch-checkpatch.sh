#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Put checkpatch.pl and the two data files it reads into $1 (a cache dir),
# taken from Debian's linux-source package, because the headers packages
# do not ship them.
set -eu

cache=${1:?usage: fetch-checkpatch.sh CACHE_DIR}
pkg=${CHECKPATCH_PACKAGE:-linux-source-6.1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fetching checkpatch.pl from $pkg into $cache"
if ! (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1); then
	# A fresh machine may have no package lists yet.
	[ "$(id -u)" = 0 ] || { echo "cannot download $pkg: run 'sudo apt-get update'" >&2; exit 1; }
	apt-get update -qq
	(cd "$tmp" && apt-get download "$pkg" >/dev/null)
fi
dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb |
	tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
	xz -dc |
	tar -x -C "$tmp" --wildcards --strip-components=1 \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
mkdir -p "$cache/scripts"
cp "$tmp"/scripts/checkpatch.pl "$tmp"/scripts/spelling.txt \
   "$tmp"/scripts/const_structs.checkpatch "$cache/scripts/"
chmod +x "$cache/scripts/checkpatch.pl"
