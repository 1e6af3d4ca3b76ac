// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/procscope/: the directory, the two small files (version, counters),
 * and what every file shares: who the reader is, and how a task name is
 * escaped so that no byte of it can break a line.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/user_namespace.h>

#include "procscope.h"

static struct proc_dir_entry *procscope_dir;

/* Decide at open, from the opener's credentials, what the reader sees. */
void procscope_view_init(struct procscope_view *view, struct file *file)
{
	const struct cred *cred = file->f_cred;

	view->pid_ns = proc_pid_ns(file_inode(file)->i_sb);
	view->user_ns = cred->user_ns;
	view->uid = cred->uid;
	view->privileged = file_ns_capable(file, &init_user_ns,
					   CAP_SYS_PTRACE);
}

/*
 * Write @comm into @buf with every byte <= 0x20, >= 0x7f and the backslash
 * as \xHH. An empty name, which prctl(PR_SET_NAME) allows, is written as
 * \x00: the one byte no name can hold. @size must be at least
 * 4 * TASK_COMM_LEN. Returns the length, without a terminating NUL.
 */
size_t procscope_escape_comm(char *buf, size_t size, const char *comm)
{
	size_t len = 0;
	int i;

	if (WARN_ON_ONCE(size < 4 * TASK_COMM_LEN))
		return 0;
	if (!comm[0])
		return scnprintf(buf, size, "\\x00");
	for (i = 0; i < TASK_COMM_LEN - 1 && comm[i]; i++) {
		unsigned char c = comm[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\') {
			buf[len++] = '\\';
			buf[len++] = 'x';
			buf[len++] = hex_asc_hi(c);
			buf[len++] = hex_asc_lo(c);
		} else {
			buf[len++] = c;
		}
	}
	return len;
}

void procscope_seq_comm(struct seq_file *m, const char *comm)
{
	char buf[4 * TASK_COMM_LEN];

	seq_write(m, buf, procscope_escape_comm(buf, sizeof(buf), comm));
}

static int version_show(struct seq_file *m, void *v)
{
	seq_printf(m, "procscope %d %s\n", PROCSCOPE_ABI, PROCSCOPE_VERSION);
	return 0;
}

static int counters_show(struct seq_file *m, void *v)
{
	struct procscope_counts c;
	u64 next, size, overwritten;

	procscope_counts_read(&c);
	procscope_exitlog_stats(&next, &size, &overwritten);

	seq_printf(m, "# procscope %d counters\n", PROCSCOPE_ABI);
	seq_printf(m, "load_time_ns %llu\n", procscope_load_time_ns);
	seq_printf(m, "forks %llu\n", c.forks);
	seq_printf(m, "threads_created %llu\n", c.threads_created);
	seq_printf(m, "kthreads_created %llu\n", c.kthreads_created);
	seq_printf(m, "exits %llu\n", c.exits);
	seq_printf(m, "threads_exited %llu\n", c.threads_exited);
	seq_printf(m, "kthreads_exited %llu\n", c.kthreads_exited);
	seq_printf(m, "exit_seq_next %llu\n", next);
	seq_printf(m, "exit_ring_size %llu\n", size);
	seq_printf(m, "exit_overwritten %llu\n", overwritten);
	seq_printf(m, "probes_missed %llu\n", procscope_probes_missed());
	return 0;
}

int procscope_procfs_init(void)
{
	procscope_dir = proc_mkdir("procscope", NULL);
	if (!procscope_dir)
		return -ENOMEM;

	if (!proc_create_single("version", 0444, procscope_dir, version_show) ||
	    !proc_create_single("counters", 0444, procscope_dir, counters_show) ||
	    !proc_create("processes", 0444, procscope_dir,
			 &procscope_processes_ops) ||
	    !proc_create("exits", 0444, procscope_dir, &procscope_exits_ops))
		goto err_remove_dir;
	return 0;

err_remove_dir:
	proc_remove(procscope_dir);
	return -ENOMEM;
}

void procscope_procfs_exit(void)
{
	proc_remove(procscope_dir);
}
