// SPDX-License-Identifier: GPL-2.0-only
/*
 * procscope: a process monitor that never misses a process.
 *
 * Kprobes on wake_up_new_task and do_exit count every new and dying task
 * and log every process exit; /proc/procscope/ lists the live processes and
 * the exit log as text (docs/procfs-abi.md). This file holds the module
 * parameters and brings the parts up and down in order.
 */

#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/timekeeping.h>
#include <linux/uidgid.h>

#include "procscope.h"

static unsigned int exit_ring_size = 4096;
module_param(exit_ring_size, uint, 0444);
MODULE_PARM_DESC(exit_ring_size,
		 "Exit log capacity in records (power of two, 64 to 1048576)");

static bool hidepid = true;
module_param(hidepid, bool, 0644);
MODULE_PARM_DESC(hidepid,
		 "Show unprivileged readers only their own processes (default 1)");

static char fork_symbol[KSYM_NAME_LEN] = "wake_up_new_task";
module_param_string(fork_symbol, fork_symbol, KSYM_NAME_LEN, 0444);
MODULE_PARM_DESC(fork_symbol, "Function the fork probe attaches to");

static char exit_symbol[KSYM_NAME_LEN] = "do_exit";
module_param_string(exit_symbol, exit_symbol, KSYM_NAME_LEN, 0444);
MODULE_PARM_DESC(exit_symbol, "Function the exit probe attaches to");

/* -1 shows every UID; otherwise a UID in the initial user namespace. */
static s64 uid_filter = -1;

static int uid_filter_set(const char *val, const struct kernel_param *kp)
{
	s64 uid;
	int ret;

	ret = kstrtos64(val, 0, &uid);
	if (ret)
		return -EINVAL;
	if (uid < -1 || uid > (s64)U32_MAX - 1)
		return -EINVAL;
	WRITE_ONCE(*(s64 *)kp->arg, uid);
	return 0;
}

static int uid_filter_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n", READ_ONCE(*(s64 *)kp->arg));
}

static const struct kernel_param_ops uid_filter_ops = {
	.set = uid_filter_set,
	.get = uid_filter_get,
};

module_param_cb(uid_filter, &uid_filter_ops, &uid_filter, 0644);
MODULE_PARM_DESC(uid_filter, "Show only this UID (initial namespace); -1 for all");

u64 procscope_load_time_ns;

/* Whether a process or exit record of real UID @uid is shown to @view. */
bool procscope_uid_visible(const struct procscope_view *view, kuid_t uid)
{
	s64 only = READ_ONCE(uid_filter);

	if (only >= 0 && __kuid_val(uid) != (u32)only)
		return false;
	if (view->privileged || !READ_ONCE(hidepid))
		return true;
	return uid_eq(uid, view->uid);
}

static int __init procscope_init(void)
{
	int ret;

	procscope_load_time_ns = ktime_get_boottime_ns();

	ret = procscope_exitlog_init(exit_ring_size);
	if (ret)
		return ret;

	ret = procscope_probes_init(fork_symbol, exit_symbol);
	if (ret)
		goto err_free_exitlog;

	ret = procscope_procfs_init();
	if (ret)
		goto err_unregister_probes;

	pr_info("version %s loaded\n", PROCSCOPE_VERSION);
	return 0;

err_unregister_probes:
	procscope_probes_exit();
err_free_exitlog:
	procscope_exitlog_exit();
	return ret;
}

static void __exit procscope_exit(void)
{
	procscope_procfs_exit();
	procscope_probes_exit();
	procscope_exitlog_exit();
	pr_info("unloaded\n");
}

module_init(procscope_init);
module_exit(procscope_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("Procscope developers");
MODULE_DESCRIPTION("Counts and logs every process start and exit");
MODULE_VERSION(PROCSCOPE_VERSION);
