// SPDX-License-Identifier: GPL-2.0-only
/*
 * The two probes: wake_up_new_task sees every new task once it is fully set
 * up, do_exit sees every task that dies. They sort each task into process,
 * thread or kernel thread, bump a per-CPU counter, and the exit probe logs
 * process exits to the ring in exitlog.c.
 *
 * The handlers run with preemption disabled (and on x86, for a breakpoint
 * kprobe, in NMI-like context): they take no sleeping lock, allocate
 * nothing and only read fields that the task itself or RCU keeps valid.
 */

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "procscope.h"

static DEFINE_PER_CPU(struct procscope_counts, procscope_counts);

static int fork_handler(struct kprobe *kp, struct pt_regs *regs)
{
	struct task_struct *p;

	p = (struct task_struct *)regs_get_kernel_argument(regs, 0);
	if (p->flags & PF_KTHREAD)
		this_cpu_inc(procscope_counts.kthreads_created);
	else if (thread_group_leader(p))
		this_cpu_inc(procscope_counts.forks);
	else
		this_cpu_inc(procscope_counts.threads_created);
	return 0;
}

NOKPROBE_SYMBOL(fork_handler);

/*
 * A leader that dies because another thread of its group calls execve
 * (de_thread) is replaced, not gone: the process lives on.
 */
static bool exit_is_process_exit(struct task_struct *tsk)
{
	struct task_struct *exec_task;

	if (!thread_group_leader(tsk))
		return false;
	exec_task = READ_ONCE(tsk->signal->group_exec_task);
	return !exec_task || exec_task == tsk;
}

NOKPROBE_SYMBOL(exit_is_process_exit);

static void exit_record(struct procscope_exit *rec, long code)
{
	struct task_struct *tsk = current;
	struct signal_struct *sig = tsk->signal;
	struct task_struct *parent;
	struct pid_namespace *ns;
	unsigned long maxrss;

	rec->exit_ns = ktime_get_boot_fast_ns();
	rec->start_ns = tsk->start_boottime;
	rec->wstatus = (int)code;
	rec->kuid = __kuid_val(current_uid());
	rec->cpu_ns = tsk->se.sum_exec_runtime + READ_ONCE(sig->sum_sched_runtime);

	/* As getrusage(RUSAGE_SELF): our mm is ours until exit_mm(). */
	maxrss = READ_ONCE(sig->maxrss);
	if (tsk->mm)
		maxrss = max(maxrss, get_mm_hiwater_rss(tsk->mm));
	rec->maxrss_kib = (u64)maxrss << (PAGE_SHIFT - 10);

	memcpy(rec->comm, tsk->comm, sizeof(rec->comm));
	rec->comm[sizeof(rec->comm) - 1] = '\0';

	/* Reparenting happens later in do_exit (exit_notify). */
	rcu_read_lock();
	parent = rcu_dereference(tsk->real_parent);
	ns = task_active_pid_ns(tsk);
	rec->pid = tsk->tgid;
	rec->ppid = parent->tgid;
	rec->ns_inum = ns ? ns->ns.inum : 0;
	rec->ns_pid = ns ? task_tgid_nr_ns(tsk, ns) : 0;
	rec->ns_ppid = ns ? task_tgid_nr_ns(parent, ns) : 0;
	rcu_read_unlock();
}

NOKPROBE_SYMBOL(exit_record);

static int exit_handler(struct kprobe *kp, struct pt_regs *regs)
{
	struct procscope_exit rec;

	if (current->flags & PF_KTHREAD) {
		this_cpu_inc(procscope_counts.kthreads_exited);
		return 0;
	}
	if (!exit_is_process_exit(current)) {
		this_cpu_inc(procscope_counts.threads_exited);
		return 0;
	}
	this_cpu_inc(procscope_counts.exits);
	exit_record(&rec, (long)regs_get_kernel_argument(regs, 0));
	procscope_exitlog_add(&rec);
	return 0;
}

NOKPROBE_SYMBOL(exit_handler);

static struct kprobe fork_probe = {
	.pre_handler = fork_handler,
};

static struct kprobe exit_probe = {
	.pre_handler = exit_handler,
};

static struct kprobe *probes[] = { &fork_probe, &exit_probe };

int procscope_probes_init(const char *fork_symbol, const char *exit_symbol)
{
	int ret;

	fork_probe.symbol_name = fork_symbol;
	exit_probe.symbol_name = exit_symbol;

	ret = register_kprobes(probes, ARRAY_SIZE(probes));
	if (ret)
		pr_err("cannot probe %s and %s: error %d\n",
		       fork_symbol, exit_symbol, ret);
	return ret;
}

void procscope_probes_exit(void)
{
	unregister_kprobes(probes, ARRAY_SIZE(probes));
	if (fork_probe.nmissed || exit_probe.nmissed)
		pr_warn("probes missed %lu forks and %lu exits\n",
			fork_probe.nmissed, exit_probe.nmissed);
}

/* Hits the kprobes core dropped (a probe fired inside another handler). */
u64 procscope_probes_missed(void)
{
	return (u64)READ_ONCE(fork_probe.nmissed) +
	       READ_ONCE(exit_probe.nmissed);
}

void procscope_counts_read(struct procscope_counts *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct procscope_counts *c;

		c = per_cpu_ptr(&procscope_counts, cpu);
		sum->forks += READ_ONCE(c->forks);
		sum->threads_created += READ_ONCE(c->threads_created);
		sum->kthreads_created += READ_ONCE(c->kthreads_created);
		sum->exits += READ_ONCE(c->exits);
		sum->threads_exited += READ_ONCE(c->threads_exited);
		sum->kthreads_exited += READ_ONCE(c->kthreads_exited);
	}
}
