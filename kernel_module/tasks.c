// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/procscope/processes: one line per thread group, in PID order.
 *
 * A seq_file whose position is the next TGID to show (0 is the header), so
 * ->start finds its place again from *pos, as proc_pid_readdir() does, and
 * no task pointer lives across reads. The walk holds rcu_read_lock() from
 * ->start to ->stop, that is for one buffer-full of lines.
 */

#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/seqlock.h>

#include "procscope.h"

/* Hidden tasks skipped in a row before the walk lets RCU breathe. */
#define SKIP_BATCH	256

/*
 * The first visible thread group with TGID >= @tgid, or NULL. Under RCU;
 * may drop and retake it between tasks, which is safe because the search
 * restarts from a number, never from a pointer.
 */
static struct task_struct *next_visible(struct seq_file *m, loff_t *pos)
{
	const struct procscope_view *view = m->private;
	unsigned int skipped = 0;
	struct task_struct *p;
	struct pid *pid;
	int tgid = *pos;

	for (;;) {
		pid = find_ge_pid(tgid, view->pid_ns);
		if (!pid)
			return NULL;
		tgid = pid_nr_ns(pid, view->pid_ns);
		p = pid_task(pid, PIDTYPE_TGID);
		if (p && procscope_uid_visible(view, task_uid(p))) {
			*pos = tgid;
			return p;
		}
		tgid++;
		if (++skipped % SKIP_BATCH == 0) {
			rcu_read_unlock();
			cond_resched();
			rcu_read_lock();
		}
	}
}

static void *processes_start(struct seq_file *m, loff_t *pos)
	__acquires(RCU)
{
	rcu_read_lock();
	if (*pos == 0)
		return SEQ_START_TOKEN;
	if (*pos > PID_MAX_LIMIT)
		return NULL;
	return next_visible(m, pos);
}

static void *processes_next(struct seq_file *m, void *v, loff_t *pos)
{
	/* *pos is the TGID just shown, or 0 for the header. */
	++*pos;
	return next_visible(m, pos);
}

static void processes_stop(struct seq_file *m, void *v)
	__releases(RCU)
{
	rcu_read_unlock();
}

/* CPU time of the live threads plus what the dead ones left in signal. */
static u64 group_cpu_ns(struct task_struct *p)
{
	struct signal_struct *sig = p->signal;
	struct task_struct *t;
	unsigned int seq;
	u64 sum;

	/* __exit_signal() moves a dying thread's time under stats_lock. */
	do {
		seq = read_seqbegin(&sig->stats_lock);
		sum = sig->sum_sched_runtime;
		for_each_thread(p, t)
			sum += READ_ONCE(t->se.sum_exec_runtime);
	} while (read_seqretry(&sig->stats_lock, seq));
	return sum;
}

/*
 * RSS in KiB of the group's mm, taken under task_lock as
 * find_lock_task_mm() does (it is not exported): the leader may have
 * exited already while other threads still hold the mm.
 */
static u64 group_rss_kib(struct task_struct *p)
{
	struct task_struct *t;
	u64 pages = 0;

	if (p->flags & PF_KTHREAD)
		return 0;
	for_each_thread(p, t) {
		task_lock(t);
		if (t->mm) {
			pages = get_mm_rss(t->mm);
			task_unlock(t);
			break;
		}
		task_unlock(t);
	}
	return pages << (PAGE_SHIFT - 10);
}

static int processes_show(struct seq_file *m, void *v)
{
	const struct procscope_view *view = m->private;
	struct task_struct *p = v;
	char comm[TASK_COMM_LEN];
	pid_t ppid;

	if (v == SEQ_START_TOKEN) {
		seq_printf(m, "# procscope %d processes pid ppid uid state threads cpu_ns rss_kib start_ns kthread comm\n",
			   PROCSCOPE_ABI);
		return 0;
	}

	ppid = pid_alive(p) ?
		task_tgid_nr_ns(rcu_dereference(p->real_parent), view->pid_ns) : 0;
	memcpy(comm, p->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';

	seq_printf(m, "%d %d %u %c %d %llu %llu %llu %d ",
		   task_tgid_nr_ns(p, view->pid_ns), ppid,
		   from_kuid_munged(view->user_ns, task_uid(p)),
		   task_state_to_char(p), get_nr_threads(p),
		   group_cpu_ns(p), group_rss_kib(p), p->start_boottime,
		   !!(p->flags & PF_KTHREAD));
	procscope_seq_comm(m, comm);
	seq_putc(m, '\n');
	return 0;
}

static const struct seq_operations processes_seq_ops = {
	.start	= processes_start,
	.next	= processes_next,
	.stop	= processes_stop,
	.show	= processes_show,
};

static int processes_open(struct inode *inode, struct file *file)
{
	struct procscope_view *view;

	view = __seq_open_private(file, &processes_seq_ops, sizeof(*view));
	if (!view)
		return -ENOMEM;
	procscope_view_init(view, file);
	return 0;
}

const struct proc_ops procscope_processes_ops = {
	.proc_open	= processes_open,
	.proc_read_iter	= seq_read_iter,
	.proc_lseek	= seq_lseek,
	.proc_release	= seq_release_private,
};
