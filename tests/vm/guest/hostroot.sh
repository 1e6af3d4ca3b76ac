# Sourced by the guests' /init (tests/vm/guest/init.sh and bench/vm_init.sh), which
# run the host's own userland (Python, the venv, this checkout) in a chroot.
#
# hostroot_up R: the 9p stack from /modules/order, the host's / (virtio-9p, read-only)
# under a tmpfs overlay at R, and fresh proc, sys, dev, devpts, /dev/shm and /run in it.
# /tmp is left to the overlay: the checkout under test may live there (CI clones
# anywhere), and the overlay's tmpfs upper already makes it writable.
# On failure it says why and returns 1.
# hostroot_down R: the reverse.

hostroot_up() {
	_r=$1
	for _m in $(cat /modules/order); do
		[ -d "/sys/module/$(echo "$_m" | tr - _)" ] && continue
		insmod "/modules/$_m.ko" || { echo "insmod $_m failed"; return 1; }
	done
	mkdir -p /mnt/host /mnt/rw "$_r"
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 \
		hostroot /mnt/host || { echo "9p mount of the host root failed"; return 1; }
	mount -t tmpfs tmpfs /mnt/rw
	mkdir -p /mnt/rw/upper /mnt/rw/work
	mount -t overlay overlay \
		-o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work \
		"$_r" || { echo "overlay mount failed"; return 1; }
	mount -t proc proc "$_r/proc"
	mount -t sysfs sysfs "$_r/sys"
	mount -t devtmpfs devtmpfs "$_r/dev"
	mkdir -p "$_r/dev/pts" "$_r/dev/shm"
	mount -t devpts devpts "$_r/dev/pts"
	mount -t tmpfs tmpfs "$_r/dev/shm"
	mount -t tmpfs tmpfs "$_r/run"
}

hostroot_down() {
	for _m in run dev/shm dev/pts dev sys proc; do
		umount "$1/$_m"
	done
	umount "$1" /mnt/rw /mnt/host
}
