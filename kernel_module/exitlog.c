// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exit log: a ring of the last exit_ring_size process exits, written by
 * the do_exit probe, and /proc/procscope/exits to read it.
 *
 * The file offset is a sequence number, so each reader resumes where it
 * stopped and learns exactly how many records the ring overwrote before it
 * came back. A read copies a batch of records out under the ring lock and
 * formats them after dropping it, so the probe never waits on a reader.
 */

#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "procscope.h"

#define RING_MIN	64U
#define RING_MAX	1048576U
#define READ_BATCH	32U
#define READ_TEXT	32768U

static DEFINE_SPINLOCK(ring_lock);
static struct procscope_exit *ring;
static u64 ring_mask;
static u64 ring_next;		/* sequence number of the next record */

/* One open file: its view and the buffers one read works in. */
struct exits_reader {
	struct mutex lock;	/* one read or seek at a time */
	struct procscope_view view;
	struct procscope_exit batch[READ_BATCH];
	char text[READ_TEXT];
};

int procscope_exitlog_init(unsigned int ring_size)
{
	u64 size = roundup_pow_of_two(clamp(ring_size, RING_MIN, RING_MAX));

	ring = kvcalloc(size, sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return -ENOMEM;
	ring_mask = size - 1;
	ring_next = 0;
	return 0;
}

void procscope_exitlog_exit(void)
{
	kvfree(ring);
	ring = NULL;
}

/* Called from the do_exit probe: no sleeping, no allocation. */
void procscope_exitlog_add(const struct procscope_exit *rec)
{
	struct procscope_exit *slot;
	unsigned long flags;

	spin_lock_irqsave(&ring_lock, flags);
	slot = &ring[ring_next & ring_mask];
	*slot = *rec;
	slot->seq = ring_next++;
	spin_unlock_irqrestore(&ring_lock, flags);
}

NOKPROBE_SYMBOL(procscope_exitlog_add);

void procscope_exitlog_stats(u64 *next_seq, u64 *size, u64 *overwritten)
{
	unsigned long flags;
	u64 next;

	spin_lock_irqsave(&ring_lock, flags);
	next = ring_next;
	spin_unlock_irqrestore(&ring_lock, flags);

	*next_seq = next;
	*size = ring_mask + 1;
	*overwritten = next > ring_mask + 1 ? next - (ring_mask + 1) : 0;
}

/*
 * Copy up to READ_BATCH records from sequence @pos on into @batch. Sets
 * @first to the sequence of batch[0]: @pos, or the oldest record still
 * held if the ring has overwritten @pos. Returns how many were copied.
 */
static unsigned int ring_copy(u64 pos, struct procscope_exit *batch,
			      u64 *first)
{
	unsigned long flags;
	unsigned int n = 0;
	u64 oldest;

	spin_lock_irqsave(&ring_lock, flags);
	oldest = ring_next > ring_mask + 1 ? ring_next - (ring_mask + 1) : 0;
	pos = max(pos, oldest);
	*first = pos;
	while (pos < ring_next && n < READ_BATCH)
		batch[n++] = ring[pos++ & ring_mask];
	spin_unlock_irqrestore(&ring_lock, flags);
	return n;
}

/*
 * Format @rec as the reader sees it into @buf (at least PROCSCOPE_LINE_MAX
 * bytes). Returns the length, or 0 when the record is hidden from it.
 */
static size_t format_exit(const struct procscope_view *view,
			  const struct procscope_exit *rec, char *buf)
{
	kuid_t kuid = KUIDT_INIT(rec->kuid);
	u32 pid, ppid;
	size_t len;

	if (!procscope_uid_visible(view, kuid))
		return 0;
	if (view->pid_ns == &init_pid_ns) {
		pid = rec->pid;
		ppid = rec->ppid;
	} else if (view->pid_ns->ns.inum == rec->ns_inum) {
		pid = rec->ns_pid;
		ppid = rec->ns_ppid;
	} else {
		return 0;	/* the process was outside the reader's namespace */
	}

	len = scnprintf(buf, PROCSCOPE_LINE_MAX,
			"%llu %u %u %u %d %llu %llu %llu %llu ",
			rec->seq, pid, ppid,
			from_kuid_munged(view->user_ns, kuid), rec->wstatus,
			rec->start_ns, rec->exit_ns, rec->cpu_ns, rec->maxrss_kib);
	len += procscope_escape_comm(buf + len, PROCSCOPE_LINE_MAX - len,
				     rec->comm);
	buf[len++] = '\n';
	return len;
}

/*
 * Fill r->text with at most @size bytes of whole lines, starting at
 * sequence *@pos, and move *@pos past the records consumed.
 */
static size_t exits_fill(struct exits_reader *r, size_t size, u64 *pos)
{
	size_t used = 0;
	unsigned int n, i;
	u64 first;

	size = min(size, sizeof(r->text));
	do {
		n = ring_copy(*pos, r->batch, &first);
		if (first > *pos) {
			/* Only at the start of a read: the caller saw none yet. */
			if (used)
				break;
			used = scnprintf(r->text, size, "lost %llu\n",
					 first - *pos);
			*pos = first;
		}
		for (i = 0; i < n; i++) {
			if (size - used < PROCSCOPE_LINE_MAX)
				return used;
			used += format_exit(&r->view, &r->batch[i],
					    r->text + used);
			*pos = r->batch[i].seq + 1;
		}
		cond_resched();
	} while (n == READ_BATCH && size - used >= PROCSCOPE_LINE_MAX);
	return used;
}

static ssize_t exits_read(struct file *file, char __user *buf, size_t count,
			  loff_t *ppos)
{
	struct exits_reader *r = file->private_data;
	size_t len;
	u64 pos;

	if (count < PROCSCOPE_LINE_MAX)
		return -EINVAL;
	if (*ppos < 0)
		return -EINVAL;

	mutex_lock(&r->lock);
	pos = *ppos;
	len = exits_fill(r, count, &pos);
	if (len && copy_to_user(buf, r->text, len)) {
		mutex_unlock(&r->lock);
		return -EFAULT;
	}
	*ppos = pos;
	mutex_unlock(&r->lock);
	return len;
}

static loff_t exits_llseek(struct file *file, loff_t offset, int whence)
{
	struct exits_reader *r = file->private_data;
	u64 next, size, overwritten;
	loff_t ret;

	procscope_exitlog_stats(&next, &size, &overwritten);
	mutex_lock(&r->lock);
	ret = generic_file_llseek_size(file, offset, whence, OFFSET_MAX, next);
	mutex_unlock(&r->lock);
	return ret;
}

static int exits_open(struct inode *inode, struct file *file)
{
	struct exits_reader *r;

	r = kvzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	mutex_init(&r->lock);
	procscope_view_init(&r->view, file);
	file->private_data = r;
	return 0;
}

static int exits_release(struct inode *inode, struct file *file)
{
	struct exits_reader *r = file->private_data;

	mutex_destroy(&r->lock);
	kvfree(r);
	return 0;
}

const struct proc_ops procscope_exits_ops = {
	.proc_open	= exits_open,
	.proc_read	= exits_read,
	.proc_lseek	= exits_llseek,
	.proc_release	= exits_release,
};
