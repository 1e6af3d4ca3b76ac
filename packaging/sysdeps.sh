#!/bin/sh
# Install (as root) or name (otherwise) the Debian/Ubuntu packages a make target needs.
#   sysdeps.sh run|test|vm     check, then apt-get install what is missing
#   sysdeps.sh have-vm         exit 0 if the VM test tools are present
set -eu

# Qt's offscreen and xcb platforms, and venv.
RUN="python3-venv libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
     libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
     libxcb-randr0 libxcb-render-util0 libxcb-image0 fonts-dejavu-core"
# Tests: a real X server for the screenshot, desktop-file and AppStream validators,
# the peers the benchmarks compare with, and gcc for their spawner (bench/spawner.c).
TEST="$RUN xvfb xauth desktop-file-utils appstream htop tmux gcc libc6-dev"
# The VM harness: qemu, a static busybox for the initramfs, module tools, BTF for 6.12,
# and perl for checkpatch.
VM="qemu-system-x86 busybox-static cpio kmod pahole gcc make libc6-dev xz-utils zstd perl"

case "${1:-}" in
run) want=$RUN ;;
test) want=$TEST ;;
vm) want=$VM ;;
have-vm)
	command -v qemu-system-x86_64 >/dev/null && [ -x /bin/busybox ] && command -v pahole >/dev/null
	exit $? ;;
*) echo "usage: $0 run|test|vm|have-vm" >&2; exit 2 ;;
esac

command -v dpkg-query >/dev/null || {
	echo "sysdeps: not a Debian/Ubuntu system; install the equivalents of: $want" >&2
	exit 0
}

missing=""
for p in $want; do
	s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$s" in ii*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "sysdeps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "sysdeps: missing packages. Run:"
	echo "  sudo apt-get install --no-install-recommends$missing"
	[ "$1" = run ] && exit 1
	exit 0
fi
