/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the parts of the procscope module share: the probes count and log
 * exits, the process listing walks the tasks, and procfs publishes both
 * under /proc/procscope/ (the format is docs/procfs-abi.md).
 */

#ifndef PROCSCOPE_H
#define PROCSCOPE_H

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/types.h>

#define PROCSCOPE_VERSION	"0.1.0"
#define PROCSCOPE_ABI		1

/* The longest `exits` line, `lost` line included; see docs/procfs-abi.md. */
#define PROCSCOPE_LINE_MAX	256

/* Event counters since load, summed over the CPUs when read. */
struct procscope_counts {
	u64 forks;
	u64 threads_created;
	u64 kthreads_created;
	u64 exits;
	u64 threads_exited;
	u64 kthreads_exited;
};

/* One process exit, as the do_exit probe saw it. */
struct procscope_exit {
	u64 seq;
	u64 start_ns;
	u64 exit_ns;
	u64 cpu_ns;
	u64 maxrss_kib;
	u32 pid;		/* TGID in the initial PID namespace */
	u32 ppid;		/* real parent's TGID, initial namespace */
	u32 ns_pid;		/* the same two in the task's own namespace */
	u32 ns_ppid;
	unsigned int ns_inum;	/* which namespace that is */
	u32 kuid;		/* real UID, initial user namespace */
	int wstatus;
	char comm[TASK_COMM_LEN];
};

/* What one opener of a listing may see, fixed when the file is opened. */
struct procscope_view {
	struct pid_namespace *pid_ns;	/* of the /proc mount */
	struct user_namespace *user_ns;	/* of the opener */
	kuid_t uid;			/* opener's real UID */
	bool privileged;		/* CAP_SYS_PTRACE in the initial ns */
};

/* main.c */
extern u64 procscope_load_time_ns;
bool procscope_uid_visible(const struct procscope_view *view, kuid_t uid);

/* probes.c */
int procscope_probes_init(const char *fork_symbol, const char *exit_symbol);
void procscope_probes_exit(void);
void procscope_counts_read(struct procscope_counts *sum);
u64 procscope_probes_missed(void);

/* exitlog.c */
int procscope_exitlog_init(unsigned int ring_size);
void procscope_exitlog_exit(void);
void procscope_exitlog_add(const struct procscope_exit *rec);
void procscope_exitlog_stats(u64 *next_seq, u64 *size, u64 *overwritten);
extern const struct proc_ops procscope_exits_ops;

/* tasks.c */
extern const struct proc_ops procscope_processes_ops;

/* procfs.c */
int procscope_procfs_init(void);
void procscope_procfs_exit(void);
void procscope_view_init(struct procscope_view *view, struct file *file);
void procscope_seq_comm(struct seq_file *m, const char *comm);
size_t procscope_escape_comm(char *buf, size_t size, const char *comm);

#endif /* PROCSCOPE_H */
