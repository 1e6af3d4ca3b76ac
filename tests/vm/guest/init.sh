#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of the Procscope test initramfs: mount the basics, run the named
# checks, and hand the result to the host. The host (tests/vm/run.py) parses
# these lines from the serial console:
#   @@BOOTED <uptime>             the guest reached /init
#   @@BEGIN <check>               the output up to @@END belongs to <check>
#   @@END <check> PASS|FAIL <ms>
#   @@DONE <failed-count>
# and the number of failed checks leaves through isa-debug-exit (port 0xf4).
# /etc/vmtest.env (written by the host) sets CHECKS, STORM_N, CYCLES, REPO, PYBIN,
# PYPATH.

/bin/busybox mkdir -p /bin /proc /sys /dev /tmp /mnt
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
dmesg -n 1			# keep kernel chatter off the console we parse
. /etc/vmtest.env
. /hostroot.sh

read -r up _ </proc/uptime
echo "@@BOOTED $up"

KO=/procscope.ko
PARAMS=/sys/module/procscope/parameters
FAILED=0
DMESG_START=$(dmesg | wc -l)

# Centiseconds since boot, without forking.
cs() {
	read -r up _ </proc/uptime
	CS=$((${up%.*} * 100 + 1${up#*.} - 100))
}

bad() {
	echo "FAIL: $*"
	st=1
}

loaded() {
	grep -q '^procscope ' /proc/modules
}

unload() {
	tries=0
	while loaded; do
		rmmod procscope 2>/dev/null && return 0
		tries=$((tries + 1))
		[ $tries -ge 50 ] && { rmmod procscope; return 1; }
		usleep 20000
	done
}

# (Re)load the module with the given parameters.
reload() {
	unload || return 1
	insmod $KO "$@"
}

run_check() {
	name=$1
	shift
	echo "@@BEGIN $name"
	cs
	t0=$CS
	("$@") 2>&1
	rc=$?
	cs
	if [ $rc -eq 0 ]; then
		res=PASS
	else
		res=FAIL
		FAILED=$((FAILED + 1))
		echo "--- dmesg tail"
		dmesg | tail -n 15
	fi
	echo "@@END $name $res $(((CS - t0) * 10))"
}

# 7: a probe that cannot be registered fails the load cleanly.
check_probe_fail() {
	st=0
	unload || bad "rmmod failed"
	for p in exit_symbol fork_symbol; do
		if insmod $KO $p=no_such_symbol_xyz; then
			bad "insmod with $p=no_such_symbol_xyz succeeded"
			rmmod procscope
		else
			echo "ok insmod with $p=no_such_symbol_xyz refused"
		fi
		[ -e /proc/procscope ] && bad "/proc/procscope exists after the failed load"
		loaded && bad "procscope listed in /proc/modules after the failed load"
	done
	insmod $KO || bad "a normal load after the failures failed"
	read -r v </proc/procscope/version || bad "version unreadable"
	echo "version: $v"
	case "$v" in "procscope 1 "*) ;; *) bad "version line '$v'" ;; esac
	return $st
}

# 1: counters equal what the helper created (measured inside the helper).
check_counters() {
	loaded || insmod $KO || return 1
	/helper counters 200
}

check_exec_thread() {
	loaded || insmod $KO || return 1
	/helper exec-thread
}

# 4: odd names come back as one row each, intact.
check_names() {
	loaded || insmod $KO || return 1
	/helper names
}

# 2: every short-lived process is in the exit log.
check_storm() {
	reload || return 1
	/helper storm "$STORM_N"
	st=$?
	grep -E '^(exits|exit_seq_next|exit_overwritten) ' /proc/procscope/counters
	return $st
}

expect_write() {
	want=$1
	shift
	got=$("$@")
	if [ "$got" = "$want" ]; then
		echo "ok $* -> $got"
	else
		bad "$* -> $got, expected $want"
	fi
}

# 5: who sees what; parameter writes.
check_access() {
	st=0
	reload || return 1
	/helper as 1000 /helper hold u1000-hold &
	hold=$!
	/helper as 1000 /helper visible own || st=1
	/helper visible all || st=1
	expect_write ok /helper write $PARAMS/hidepid 0
	/helper as 1000 /helper visible all || st=1
	expect_write ok /helper write $PARAMS/hidepid 1
	/helper as 1000 /helper visible own || st=1
	got=$(/helper as 1000 /helper write $PARAMS/uid_filter 1000)
	case "$got" in
	EACCES | EPERM) echo "ok uid_filter write by uid 1000 -> $got" ;;
	*) bad "uid_filter write by uid 1000 -> $got" ;;
	esac
	for v in abc -2 4294967295 1.5 12abc 0x; do
		expect_write EINVAL /helper write $PARAMS/uid_filter "$v"
	done
	read -r f <$PARAMS/uid_filter
	[ "$f" = -1 ] || bad "uid_filter is '$f' after refused writes, expected -1"
	echo 1000 >$PARAMS/uid_filter || bad "echo 1000 > uid_filter failed"
	/helper visible uid 1000 || st=1
	expect_write ok /helper write $PARAMS/uid_filter -1
	/helper visible all || st=1
	reload hidepid=0 || bad "load with hidepid=0 failed"
	/helper as 1000 /helper visible all || st=1
	reload || st=1
	kill $hold
	wait $hold 2>/dev/null
	return $st
}

# 3: the project's own parser reads the listing, in a chroot of the host.
check_snapshot() {
	st=0
	loaded || insmod $KO || return 1
	r=/mnt/root
	hostroot_up $r || { bad "the host root could not be mounted"; return 1; }
	cp /helper $r/tmp/vm-helper
	read -r me _ </proc/self/stat
	chroot $r /tmp/vm-helper hold vmcheck-hold &
	hold=$!
	n=0
	while [ "$(cat /proc/$hold/comm 2>/dev/null)" != vmcheck-hold ] && [ $n -lt 100 ]; do
		usleep 50000
		n=$((n + 1))
	done
	echo "helper pid $hold, its parent (this shell) $me"
	timeout 300 chroot $r /usr/bin/env PYTHONPATH="$PYPATH" PYTHONDONTWRITEBYTECODE=1 \
		"$PYBIN" -m procscope snapshot --source lkm --json >/tmp/snap.json 2>/tmp/snap.err
	rc=$?
	echo "snapshot exit status $rc, $(wc -c </tmp/snap.json) bytes of output"
	if [ $rc -ne 0 ]; then
		bad "procscope snapshot failed"
		tail -n 20 /tmp/snap.err
	else
		cp /tmp/snap.json $r/tmp/snap.json
		chroot $r "$PYBIN" "$REPO/tests/vm/guest/check_snapshot.py" /tmp/snap.json \
			"$hold" "$me" vmcheck-hold || st=1
	fi
	kill $hold
	wait $hold 2>/dev/null
	hostroot_down $r
	return $st
}

# 6: load/unload cycles under fork and read load.
check_cycles() {
	st=0
	loaded || insmod $KO || return 1
	rm -f /tmp/stop
	/helper churn /tmp/stop >/tmp/churn.log 2>&1 &
	churn=$!
	/helper readers /tmp/stop >/tmp/readers.log 2>&1 &
	readers=$!
	i=0
	while [ $i -lt "$CYCLES" ]; do
		unload || bad "rmmod failed in cycle $i"
		[ -e /proc/procscope ] && bad "/proc/procscope left after rmmod in cycle $i"
		insmod $KO || bad "insmod failed in cycle $i"
		[ $st -ne 0 ] && break
		i=$((i + 1))
		[ $((i % 10)) -eq 0 ] && echo "cycle $i done"
	done
	touch /tmp/stop
	wait $churn $readers
	cat /tmp/churn.log /tmp/readers.log
	echo "$i load/unload cycles"
	return $st
}

# Every boot: nothing alarming in the kernel log since /init started.
check_dmesg() {
	pat='BUG:|WARNING:|Oops|lockdep|KASAN|UBSAN|circular locking|RCU stall|'
	pat="${pat}rcu_.*stall|general protection|Call Trace|list_del corruption|"
	pat="${pat}refcount_t|possible recursive locking|scheduling while atomic|kernel BUG"
	dmesg >/tmp/dmesg.txt
	before=$(head -n "$DMESG_START" /tmp/dmesg.txt | grep -cE "$pat")
	[ "$before" -gt 0 ] && echo "info: $before matching lines before /init ran (not counted)"
	tail -n +"$((DMESG_START + 1))" /tmp/dmesg.txt >/tmp/dmesg.new
	if grep -E "$pat" /tmp/dmesg.new >/tmp/dmesg.bad; then
		echo "FAIL: the kernel log has:"
		grep -E -A 12 "$pat" /tmp/dmesg.new | head -n 80
		return 1
	fi
	echo "ok $(wc -l </tmp/dmesg.new) new kernel log lines, none alarming"
	grep -i procscope /tmp/dmesg.new | tail -n 3
}

for c in $CHECKS; do
	run_check "$c" "check_$(echo "$c" | tr - _)"
done
echo "@@DONE $FAILED"
# The host sees (status << 1) | 1.
[ $FAILED -gt 127 ] && FAILED=127
printf "\\$(printf %o $FAILED)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
