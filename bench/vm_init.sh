#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of the benchmark initramfs (built by bench/vm.py). One boot measures:
#   1. module overhead: spawner forkloop / threadloop with the module unloaded
#      and loaded, alternating (ABBA), ROUNDS rounds
#   2. then, with the module loaded, in a chroot of the host's userland (9p +
#      overlay), bench/vm_guest.py: lkm capture, lkm read, lkm self-CPU
# Lines for the host: "@@BOOTED", "@@O <loop> <loaded|unloaded> <round> <ns>",
# "@@R <part> <json>" (from vm_guest.py), "@@ERR <text>", "@@DONE".
# /etc/bench.env (written by the host) sets ROUNDS, FORK_N, THREAD_N, PARTS,
# GUEST_ARGS, REPO, PYBIN, PYPATH.

/bin/busybox mkdir -p /bin /proc /sys /dev /tmp /mnt
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
dmesg -n 1
. /etc/bench.env
. /hostroot.sh
echo "@@BOOTED $(cut -d' ' -f1 /proc/uptime)"

loaded() {
	grep -q '^procscope ' /proc/modules
}

one() {	# one() LOOP STATE ROUND: time one loop in one module state
	if [ "$2" = loaded ]; then
		loaded || insmod /procscope.ko || echo "@@ERR insmod failed"
	else
		loaded && { rmmod procscope || echo "@@ERR rmmod failed"; }
	fi
	if [ "$1" = fork ]; then n=$FORK_N; else n=$THREAD_N; fi
	# Let the load or unload finish its deferred work (RCU, kprobe optimizer,
	# module freeing) and warm the loop up before timing it.
	usleep 500000
	/spawner ${1}loop 100 >/dev/null
	echo "@@O $1 $2 $3 $(/spawner ${1}loop $n)"
}

case " $PARTS " in *" module_overhead "*)
	/spawner forkloop 200 >/dev/null	# warm-up: page in the binary
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for loop in fork thread; do
			if [ $((r % 2)) -eq 1 ]; then
				one $loop unloaded $r
				one $loop loaded $r
			else
				one $loop loaded $r
				one $loop unloaded $r
			fi
		done
		r=$((r + 1))
	done
	;;
esac

loaded || insmod /procscope.ko || echo "@@ERR insmod failed"
if [ -n "$GUEST_ARGS" ]; then
	r=/mnt/root
	if hostroot_up $r; then
		cp /spawner $r/tmp/spawner
		chroot $r /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp TERM=xterm-256color \
			PYTHONPATH="$PYPATH" PYTHONDONTWRITEBYTECODE=1 QT_QPA_PLATFORM=offscreen \
			"$PYBIN" "$REPO/bench/vm_guest.py" --spawner /tmp/spawner $GUEST_ARGS 2>&1
	else
		echo "@@ERR the host root could not be mounted"
	fi
fi
echo "@@DONE"
printf '\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
