// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest-side driver of the Procscope VM tests: a static binary that
 * creates exactly the processes and threads a check needs, and compares what
 * /proc/procscope reports with what it did. Running the comparison here, and
 * not in the shell, keeps the shell's own forks out of every measurement.
 *
 * Subcommands (each prints "FAIL: ..." lines and exits 1 when a check fails):
 *   exit CODE | signal SIG | name HEX [CMD...] | hold NAME | spawn N | threads N
 *   as UID CMD...          drop to UID (and GID UID), then exec CMD
 *   write FILE VALUE       write VALUE; print "ok" or the errno name
 *   counters N             forks/exits/threads counter deltas around known work
 *   exec-thread            a non-leader thread's execve is one process exit
 *   names                  odd names appear once, intact, in processes and exits
 *   storm N                N short-lived processes all appear in the exit log
 *   visible own|all|uid U  what this reader may see of processes and exits
 *   churn STOPFILE         fork/exit in a loop until STOPFILE exists
 *   readers STOPFILE       read every file in a loop until STOPFILE exists
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* $PROCSCOPE_DIR points the checks at a copy, to test this parser on a host. */
static char dir_path[256] = "/proc/procscope";
static char counters_path[300], processes_path[300], exits_path[300], version_path[300];
#define COMM_MAX	15

static int failures;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FAIL: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
	failures++;
}

static void die(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void die_path(const char *what, const char *path)
{
	printf("FAIL: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static long num_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "helper: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static void set_name(const char *name)
{
	if (prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0))
		die("prctl(PR_SET_NAME)");
}

/* Reap @pid and return its wait status. */
static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return status;
}

/* ---- reading the ABI ----------------------------------------------------- */

/* Read a whole small file into a malloc'd, NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !buf)
		return NULL;
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die("realloc");
		}
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

struct counters {
	long long forks, threads_created, exits, threads_exited, exit_seq_next;
};

static void read_counters(struct counters *c)
{
	char *buf = slurp(counters_path, NULL), *line, *save;
	char key[64];
	long long v;

	if (!buf)
		die_path("read", counters_path);
	memset(c, 0xff, sizeof(*c));	/* -1: missing key */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || sscanf(line, "%63s %lld", key, &v) != 2)
			continue;
		if (!strcmp(key, "forks"))
			c->forks = v;
		else if (!strcmp(key, "threads_created"))
			c->threads_created = v;
		else if (!strcmp(key, "exits"))
			c->exits = v;
		else if (!strcmp(key, "threads_exited"))
			c->threads_exited = v;
		else if (!strcmp(key, "exit_seq_next"))
			c->exit_seq_next = v;
	}
	free(buf);
	if (c->forks < 0 || c->threads_created < 0 || c->exits < 0 ||
	    c->threads_exited < 0 || c->exit_seq_next < 0) {
		printf("FAIL: %s lacks a counter this test needs\n", counters_path);
		exit(1);
	}
}

/* Undo the ABI's \xHH escaping in place; return the length or -1 if malformed. */
static int unescape(char *s)
{
	static const char hex[] = "0123456789abcdef";
	char *in = s, *out = s;

	for (; *in; in++) {
		if ((unsigned char)*in <= 0x20 || (unsigned char)*in >= 0x7f)
			return -1;
		if (*in != '\\') {
			*out++ = *in;
			continue;
		}
		if (in[1] != 'x' || !in[2] || !strchr(hex, in[2]) || !in[3] ||
		    !strchr(hex, in[3]))
			return -1;
		*out++ = (char)((strchr(hex, in[2]) - hex) << 4 | (strchr(hex, in[3]) - hex));
		in += 3;
	}
	*out = 0;
	return out - s;
}

/*
 * Split @line into exactly @want fields separated by one space; every field
 * but the last (comm) must be decimal, except field @letter (-1: none), which
 * must be one letter. Returns 0, or -1 with @why set.
 */
static int split(char *line, char **f, int want, int letter, const char **why)
{
	int n = 0, i;
	char *p = line;

	while (n < want) {
		f[n++] = p;
		if (n == want)
			break;
		p = strchr(p, ' ');
		if (!p) {
			*why = "too few fields";
			return -1;
		}
		*p++ = 0;
	}
	if (strchr(f[want - 1], ' ')) {
		*why = "too many fields";
		return -1;
	}
	for (i = 0; i < want - 1; i++) {
		if (i == letter) {
			if (strlen(f[i]) != 1 || !strchr("RSDTtXZPI", f[i][0])) {
				*why = "bad state letter";
				return -1;
			}
			continue;
		}
		if (!f[i][0] || strspn(f[i], "0123456789") != strlen(f[i])) {
			*why = "field is not a decimal number";
			return -1;
		}
	}
	if (!f[want - 1][0]) {
		*why = "empty comm";
		return -1;
	}
	return 0;
}

/* The escaped comm of @f with its length, checked. */
static int comm_field(char *field, char *out)
{
	int len;

	if (strlen(field) > 4 * COMM_MAX)
		return -1;
	strcpy(out, field);
	len = unescape(out);
	return len >= 1 && len <= COMM_MAX ? len : -1;
}

struct proc_row {
	long pid, ppid, uid;
	char comm[4 * COMM_MAX + 1];
	int comm_len;
};

/*
 * Parse the processes listing. Every line must follow the ABI, and PIDs must
 * increase. Returns the number of rows (filled into @rows, up to @max).
 */
static int read_processes(struct proc_row *rows, int max)
{
	char *buf = slurp(processes_path, NULL), *line, *next, *f[10];
	const char *why = NULL;
	long last = -1;
	int n = 0, lineno = 0;

	if (!buf)
		die_path("read", processes_path);
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			fail("processes: last line has no newline");
			break;
		}
		*next++ = 0;
		if (lineno++ == 0) {
			if (strncmp(line, "# procscope 1 processes ", 24))
				fail("processes: bad header: %s", line);
			continue;
		}
		if (split(line, f, 10, 3, &why)) {
			fail("processes line %d: %s", lineno, why);
			continue;
		}
		if (atol(f[0]) <= last)
			fail("processes line %d: pid %s after %ld", lineno, f[0], last);
		last = atol(f[0]);
		if (n >= max)
			continue;
		rows[n].pid = atol(f[0]);
		rows[n].ppid = atol(f[1]);
		rows[n].uid = atol(f[2]);
		rows[n].comm_len = comm_field(f[9], rows[n].comm);
		if (rows[n].comm_len < 0)
			fail("processes line %d: bad comm %s", lineno, f[9]);
		n++;
	}
	free(buf);
	return n;
}

struct exit_rec {
	long long seq;
	long pid, ppid, uid, wstatus;
	char comm[4 * COMM_MAX + 1];
	int comm_len;
};

/*
 * Read what is new on the exits descriptor @fd, calling @fn for each record,
 * checking each read ends on a record boundary. Returns the records lost.
 */
static long long drain_exits(int fd, void (*fn)(struct exit_rec *, void *),
			     void *arg)
{
	static char buf[1 << 16];
	char *line, *next, *f[10];
	const char *why = NULL;
	long long lost = 0, n;
	struct exit_rec r;
	ssize_t len;
	int first;

	while ((len = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[len] = 0;
		if (buf[len - 1] != '\n')
			fail("exits: a read ended mid-record");
		first = 1;
		for (line = buf; *line; line = next, first = 0) {
			next = strchr(line, '\n');
			if (!next)
				break;
			*next++ = 0;
			if (sscanf(line, "lost %lld", &n) == 1) {
				if (!first)
					fail("exits: 'lost' line inside a read");
				lost += n;
				continue;
			}
			if (split(line, f, 10, -1, &why)) {
				fail("exits: %s: %.80s", why, line);
				continue;
			}
			r.seq = atoll(f[0]);
			r.pid = atol(f[1]);
			r.ppid = atol(f[2]);
			r.uid = atol(f[3]);
			r.wstatus = atol(f[4]);
			r.comm_len = comm_field(f[9], r.comm);
			if (r.comm_len < 0)
				fail("exits: bad comm %s", f[9]);
			else
				fn(&r, arg);
		}
	}
	if (len < 0)
		die_path("read", exits_path);
	return lost;
}

static int open_exits_at_end(void)
{
	int fd = open(exits_path, O_RDONLY);

	if (fd < 0)
		die_path("open", exits_path);
	if (lseek(fd, 0, SEEK_END) < 0)
		die("lseek(exits, 0, SEEK_END)");
	return fd;
}

/* ---- primitives ----------------------------------------------------------- */

static void *thread_noop(void *arg)
{
	return arg;
}

static void run_threads(int n)
{
	pthread_t *t = calloc(n, sizeof(*t));
	int i;

	for (i = 0; i < n; i++)
		if ((errno = pthread_create(&t[i], NULL, thread_noop, NULL)))
			die("pthread_create");
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}

static void run_spawn(int n, int code)
{
	int i;
	pid_t pid;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid)
			_exit(code);
		reap(pid);
	}
}

static int hexval(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* ---- checks --------------------------------------------------------------- */

#define EXPECT(what, got, want)						\
	do {								\
		long long g_ = (got), w_ = (want);			\
		if (g_ != w_)						\
			fail("%s: delta %lld, expected %lld", what, g_, w_); \
		else							\
			printf("ok %s: %lld\n", what, g_);		\
	} while (0)

static void expect_deltas(const char *what, struct counters *a,
			  struct counters *b, long forks, long threads)
{
	char label[96];

	snprintf(label, sizeof(label), "%s forks", what);
	EXPECT(label, b->forks - a->forks, forks);
	snprintf(label, sizeof(label), "%s exits", what);
	EXPECT(label, b->exits - a->exits, forks);
	snprintf(label, sizeof(label), "%s threads_created", what);
	EXPECT(label, b->threads_created - a->threads_created, threads);
	snprintf(label, sizeof(label), "%s threads_exited", what);
	EXPECT(label, b->threads_exited - a->threads_exited, threads);
	snprintf(label, sizeof(label), "%s exit_seq_next", what);
	EXPECT(label, b->exit_seq_next - a->exit_seq_next, forks);
}

static int cmd_counters(int n)
{
	struct counters a, b;
	pid_t pid;
	int i;

	read_counters(&a);
	run_spawn(n, 0);
	read_counters(&b);
	expect_deltas("processes", &a, &b, n, 0);

	read_counters(&a);
	run_threads(n);
	read_counters(&b);
	expect_deltas("threads", &a, &b, 0, n);

	/* n/10 processes with 3 threads each; vfork too. */
	read_counters(&a);
	for (i = 0; i < n / 10; i++) {
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			run_threads(3);
			_exit(0);
		}
		reap(pid);
		pid = vfork();
		if (pid < 0)
			die("vfork");
		if (!pid)
			_exit(0);
		reap(pid);
	}
	read_counters(&b);
	expect_deltas("mixed", &a, &b, 2 * (n / 10), 3 * (n / 10));
	return failures ? 1 : 0;
}

static void *thread_exec(void *arg)
{
	char *argv[] = { "helper", "exit", "5", NULL };

	execv((const char *)arg, argv);
	_exit(99);
}

struct find_pid {
	long pid;
	int count;
	struct exit_rec rec;
};

static void match_pid(struct exit_rec *r, void *arg)
{
	struct find_pid *f = arg;

	if (r->pid == f->pid) {
		f->count++;
		f->rec = *r;
	}
}

static int cmd_exec_thread(void)
{
	struct counters a, b;
	struct find_pid fp = { 0 };
	static char self[4096];
	pthread_t t;
	int fd, status;
	pid_t pid;

	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
		die("readlink /proc/self/exe");
	fd = open_exits_at_end();
	read_counters(&a);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		if ((errno = pthread_create(&t, NULL, thread_exec, self)))
			die("pthread_create");
		pause();
		_exit(98);
	}
	status = reap(pid);
	read_counters(&b);
	if (status != 5 << 8)
		fail("the exec'd child ended with wait status %d, not %d", status, 5 << 8);
	EXPECT("forks", b.forks - a.forks, 1);
	EXPECT("threads_created", b.threads_created - a.threads_created, 1);
	EXPECT("exits", b.exits - a.exits, 1);
	printf("info threads_exited delta: %lld\n", b.threads_exited - a.threads_exited);
	fp.pid = pid;
	drain_exits(fd, match_pid, &fp);
	if (fp.count != 1)
		fail("%d exit records for pid %d, expected 1", fp.count, pid);
	else if (fp.rec.wstatus != 5 << 8 || strcmp(fp.rec.comm, "helper"))
		fail("exit record of pid %d: wstatus %ld comm '%s', expected %d 'helper'",
		     pid, fp.rec.wstatus, fp.rec.comm, 5 << 8);
	else
		printf("ok one exit record: wstatus %ld comm %s\n", fp.rec.wstatus, fp.rec.comm);
	close(fd);
	return failures ? 1 : 0;
}

/* Names that would break a naive line format, and ones that look escaped. */
static const char *const odd_names[] = {
	"new\nline", "\x1b[31mred\x1b[0m", "\xff\xfe\xc3(bad", "back\\slash",
	"sp ace\ttab", "\x7f\x01\x02\x1f", "lit\\x41eral", "exactly15bytes!",
	"0123456789abcdefXYZ", "caf\xc3\xa9", "-", "\r\n", "\\x0a",
};

#define N_ODD (sizeof(odd_names) / sizeof(odd_names[0]))

struct name_exits {
	pid_t pids[N_ODD];
	int count[N_ODD];
	int good[N_ODD];
};

static void expected_name(int i, char *out)
{
	strncpy(out, odd_names[i], COMM_MAX);
	out[COMM_MAX] = 0;
}

static void match_name_exit(struct exit_rec *r, void *arg)
{
	struct name_exits *ne = arg;
	char want[COMM_MAX + 1];
	unsigned int i;

	for (i = 0; i < N_ODD; i++) {
		if (r->pid != ne->pids[i])
			continue;
		expected_name(i, want);
		ne->count[i]++;
		ne->good[i] = r->comm_len == (int)strlen(want) &&
			      !memcmp(r->comm, want, r->comm_len) && r->wstatus == 7 << 8;
	}
}

static int cmd_names(void)
{
	static struct proc_row rows[65536];
	struct name_exits ne = { 0 };
	int ready[2], go[2], fd, n, j, found;
	char want[COMM_MAX + 1], c;
	unsigned int i;

	if (pipe(ready) || pipe(go))
		die("pipe");
	fd = open_exits_at_end();
	for (i = 0; i < N_ODD; i++) {
		ne.pids[i] = fork();
		if (ne.pids[i] < 0)
			die("fork");
		if (!ne.pids[i]) {
			set_name(odd_names[i]);
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
				_exit(97);
			_exit(7);
		}
		if (read(ready[0], &c, 1) != 1)
			die("read ready pipe");
	}
	n = read_processes(rows, 65536);
	for (i = 0; i < N_ODD; i++) {
		expected_name(i, want);
		found = 0;
		for (j = 0; j < n; j++) {
			if (rows[j].pid != ne.pids[i])
				continue;
			found++;
			if (rows[j].comm_len != (int)strlen(want) ||
			    memcmp(rows[j].comm, want, rows[j].comm_len))
				fail("processes: name %u of pid %d came back changed", i,
				     ne.pids[i]);
		}
		if (found != 1)
			fail("processes: pid %d (name %u) in %d rows, expected 1",
			     ne.pids[i], i, found);
	}
	for (i = 0; i < N_ODD; i++)
		if (write(go[1], "g", 1) != 1)
			die("write go pipe");
	for (i = 0; i < N_ODD; i++)
		reap(ne.pids[i]);
	drain_exits(fd, match_name_exit, &ne);
	for (i = 0; i < N_ODD; i++) {
		if (ne.count[i] != 1)
			fail("exits: pid %d (name %u) in %d records, expected 1",
			     ne.pids[i], i, ne.count[i]);
		else if (!ne.good[i])
			fail("exits: pid %d (name %u): name or status changed",
			     ne.pids[i], i);
	}
	printf("%s %u odd names in processes (%d rows parsed) and exits\n",
	       failures ? "checked" : "ok", (unsigned int)N_ODD, n);
	close(fd);
	return failures ? 1 : 0;
}

struct storm {
	int *index;	/* pid -> 1 + child number, 0 for none */
	long pid_max;
	pid_t self;
	struct {
		pid_t pid;
		int wstatus;
		char comm[COMM_MAX + 1];
		int seen;
	} *kids;
	long wrong, dup, foreign;
};

static void storm_record(struct exit_rec *r, void *arg)
{
	struct storm *s = arg;
	int k;

	if (r->ppid != s->self) {
		if (r->pid > 0 && r->pid <= s->pid_max && s->index[r->pid])
			s->foreign++;	/* one of ours, with the wrong ppid */
		return;
	}
	if (r->pid <= 0 || r->pid > s->pid_max || !s->index[r->pid]) {
		fail("storm: exit record for pid %ld (ppid = us) that we never made", r->pid);
		return;
	}
	k = s->index[r->pid] - 1;
	if (s->kids[k].seen++) {
		s->dup++;
		return;
	}
	if (r->wstatus != s->kids[k].wstatus || strcmp(r->comm, s->kids[k].comm)) {
		if (s->wrong++ < 10)
			fail("storm: pid %ld: got wstatus %ld comm '%s', expected %d '%s'",
			     r->pid, r->wstatus, r->comm, s->kids[k].wstatus,
			     s->kids[k].comm);
	}
}

static const int storm_signals[] = { SIGKILL, SIGTERM, SIGUSR1, SIGSEGV, SIGABRT };

/* Every 1000th child dumps core, so its status carries the 0x80 flag. */
static int storm_dumps_core(int i)
{
	return i % 1000 == 999;
}

static int cmd_storm(int n)
{
	struct storm s = { 0 };
	long long lost = 0;
	char *pidmax = slurp("/proc/sys/kernel/pid_max", NULL);
	int i, fd, status, sig, missing = 0;
	struct rlimit no_core = { 0, RLIM_INFINITY };
	struct rlimit core = { RLIM_INFINITY, RLIM_INFINITY };
	pid_t pid;

	if (!pidmax)
		die("read pid_max");
	s.pid_max = atol(pidmax);
	s.index = calloc(s.pid_max + 1, sizeof(*s.index));
	s.kids = calloc(n, sizeof(*s.kids));
	s.self = getpid();
	if (!s.index || !s.kids)
		die("calloc");
	if (setrlimit(RLIMIT_CORE, &no_core))
		die("setrlimit");
	fd = open_exits_at_end();
	for (i = 0; i < n; i++) {
		sig = storm_dumps_core(i) ? SIGQUIT : storm_signals[i % 5];
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			char name[16];

			switch (i % 4) {
			case 0:
				execl("/bin/true", "true", NULL);
				_exit(90);
			case 1:
				execl("/bin/false", "false", NULL);
				_exit(90);
			case 2:
				snprintf(name, sizeof(name), "st%d", i);
				set_name(name);
				_exit(i & 0xff);
			default:
				snprintf(name, sizeof(name), "sig%d-%d", sig, i);
				set_name(name);
				if (storm_dumps_core(i) && (setrlimit(RLIMIT_CORE, &core) ||
							    chdir("/tmp")))
					_exit(92);
				signal(sig, SIG_DFL);
				raise(sig);
				_exit(91);
			}
		}
		s.kids[i].pid = pid;
		if (pid <= s.pid_max)
			s.index[pid] = i + 1;
		switch (i % 4) {
		case 0:
			strcpy(s.kids[i].comm, "true");
			s.kids[i].wstatus = 0;
			break;
		case 1:
			strcpy(s.kids[i].comm, "false");
			s.kids[i].wstatus = 1 << 8;
			break;
		case 2:
			snprintf(s.kids[i].comm, COMM_MAX + 1, "st%d", i);
			s.kids[i].wstatus = (i & 0xff) << 8;
			break;
		default:
			snprintf(s.kids[i].comm, COMM_MAX + 1, "sig%d-%d", sig, i);
			s.kids[i].wstatus = sig | (storm_dumps_core(i) ? 0x80 : 0);
		}
		status = reap(pid);
		if (status != s.kids[i].wstatus && failures < 10)
			fail("storm: child %d: wait status %d, expected %d", i, status,
			     s.kids[i].wstatus);
		if (i % 256 == 255)
			lost += drain_exits(fd, storm_record, &s);
	}
	lost += drain_exits(fd, storm_record, &s);
	for (i = 0; i < n; i++)
		if (!s.kids[i].seen && missing++ < 10)
			fail("storm: child %d (pid %d, %s) missing from the exit log", i,
			     s.kids[i].pid, s.kids[i].comm);
	if (missing || s.wrong || s.dup || s.foreign || lost)
		fail("storm: %d spawned, %d missing, %ld wrong, %ld duplicated, "
		     "%ld with a wrong ppid, %lld lost", n, missing, s.wrong, s.dup,
		     s.foreign, lost);
	else
		printf("ok storm: all %d exits recorded with comm, ppid and status\n", n);
	close(fd);
	return failures ? 1 : 0;
}

struct vis {
	long uid;		/* the only uid allowed, or -1 */
	long seen_uid0, seen_mine, bad;
	long mine_pid;
};

static void vis_record(struct exit_rec *r, void *arg)
{
	struct vis *v = arg;

	if (r->uid == 0)
		v->seen_uid0++;
	if (r->pid == v->mine_pid)
		v->seen_mine++;
	if (v->uid >= 0 && r->uid != v->uid && v->bad++ < 5)
		fail("exits: uid %ld record (pid %ld %s) visible", r->uid, r->pid, r->comm);
}

/*
 * own: only rows of our uid, including our own process and exited child.
 * all: everything, pid 1 and root's exits included.
 * uid U: only rows of uid U (uid_filter), at least one of them.
 */
static int cmd_visible(const char *mode, long filter_uid)
{
	static struct proc_row rows[65536];
	struct vis v = { .uid = -1 };
	int n, j, saw_self = 0, saw_init = 0, saw_uid = 0, fd;

	if (!strcmp(mode, "own"))
		v.uid = getuid();
	else if (!strcmp(mode, "uid"))
		v.uid = filter_uid;
	v.mine_pid = fork();
	if (v.mine_pid < 0)
		die("fork");
	if (!v.mine_pid)
		_exit(3);
	reap(v.mine_pid);

	n = read_processes(rows, 65536);
	for (j = 0; j < n; j++) {
		saw_self |= rows[j].pid == getpid();
		saw_init |= rows[j].pid == 1;
		saw_uid |= rows[j].uid == v.uid;
		if (v.uid >= 0 && rows[j].uid != v.uid && v.bad++ < 5)
			fail("processes: uid %ld row (pid %ld) visible to uid %d", rows[j].uid,
			     rows[j].pid, getuid());
	}
	if (strcmp(mode, "uid") && !saw_self)
		fail("processes: the reader's own pid %d is missing", getpid());
	if (!strcmp(mode, "all") && !saw_init)
		fail("processes: pid 1 is missing");
	if (!strcmp(mode, "uid") && !saw_uid)
		fail("processes: no row of uid %ld", v.uid);

	fd = open(exits_path, O_RDONLY);
	if (fd < 0)
		die_path("open", exits_path);
	drain_exits(fd, vis_record, &v);
	close(fd);
	if (getuid() == v.uid && v.seen_mine != 1)
		fail("exits: own child %ld seen %ld times", v.mine_pid, v.seen_mine);
	if (!strcmp(mode, "all") && (!v.seen_uid0 || v.seen_mine != 1))
		fail("exits: root records %ld, own child %ld (expected > 0 and 1)",
		     v.seen_uid0, v.seen_mine);
	printf("%s visible %s as uid %d: %d process rows\n", failures ? "checked" : "ok",
	       mode, getuid(), n);
	return failures ? 1 : 0;
}

static int cmd_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t r;

	if (fd < 0) {
		printf("%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "error");
		return 1;
	}
	r = write(fd, value, strlen(value));
	if (r < 0) {
		printf("%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "error");
		close(fd);
		return 1;
	}
	close(fd);
	printf("ok\n");
	return 0;
}

static int cmd_churn(const char *stop)
{
	long n = 0;

	while (access(stop, F_OK)) {
		run_spawn(8, 0);
		run_threads(2);
		n += 8;
	}
	printf("churn: %ld processes\n", n);
	return 0;
}

static int cmd_readers(const char *stop)
{
	const char *const files[] = {
		version_path, counters_path, processes_path, exits_path,
	};
	static char buf[1 << 16];
	long reads = 0, errors = 0;
	int held = -1, fd;
	unsigned int i;

	while (access(stop, F_OK)) {
		/* A descriptor kept open across unload and reload. */
		if (held < 0)
			held = open(exits_path, O_RDONLY);
		if (held >= 0 && read(held, buf, sizeof(buf)) < 0 && errno != EINVAL) {
			close(held);
			held = -1;
		}
		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			fd = open(files[i], O_RDONLY);
			if (fd < 0) {
				errors++;
				continue;
			}
			while (read(fd, buf, sizeof(buf)) > 0)
				reads++;
			close(fd);
		}
	}
	printf("readers: %ld reads, %ld failed opens\n", reads, errors);
	return 0;
}

static int cmd_as(long uid, char **argv)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
		die("dropping privileges");
	execv(argv[0], argv);
	die(argv[0]);
	return 1;
}

static int cmd_name(const char *hex, char **argv)
{
	char name[COMM_MAX + 1] = { 0 };
	size_t i, len = strlen(hex);

	if (len % 2 || len > 2 * COMM_MAX || strspn(hex, "0123456789abcdefABCDEF") != len) {
		fprintf(stderr, "helper: name wants up to 15 bytes in hex\n");
		return 2;
	}
	for (i = 0; i < len / 2; i++)
		name[i] = (char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	set_name(name);
	if (argv[0]) {
		execv(argv[0], argv);	/* exec resets comm; the caller asked */
		die(argv[0]);
	}
	pause();
	return 0;
}

static int usage(void)
{
	fputs("usage: helper exit CODE | signal SIG | name HEX [CMD...] | hold NAME |\n"
	      "       spawn N | threads N | as UID CMD... | write FILE VALUE |\n"
	      "       counters N | exec-thread | names | storm N |\n"
	      "       visible own|all|uid U | churn STOP | readers STOP\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("PROCSCOPE_DIR"))
		snprintf(dir_path, sizeof(dir_path), "%s", getenv("PROCSCOPE_DIR"));
	snprintf(counters_path, sizeof(counters_path), "%s/counters", dir_path);
	snprintf(processes_path, sizeof(processes_path), "%s/processes", dir_path);
	snprintf(exits_path, sizeof(exits_path), "%s/exits", dir_path);
	snprintf(version_path, sizeof(version_path), "%s/version", dir_path);
	if (!strcmp(cmd, "exit") && argc == 3)
		_exit(num_arg(argv[2]));
	if (!strcmp(cmd, "signal") && argc == 3) {
		signal(num_arg(argv[2]), SIG_DFL);
		raise(num_arg(argv[2]));
		return 1;
	}
	if (!strcmp(cmd, "name") && argc >= 3)
		return cmd_name(argv[2], argv + 3);
	if (!strcmp(cmd, "hold") && argc == 3) {
		set_name(argv[2]);
		pause();
		return 0;
	}
	if (!strcmp(cmd, "spawn") && argc == 3) {
		run_spawn(num_arg(argv[2]), 0);
		return 0;
	}
	if (!strcmp(cmd, "threads") && argc == 3) {
		run_threads(num_arg(argv[2]));
		return 0;
	}
	if (!strcmp(cmd, "as") && argc >= 4)
		return cmd_as(num_arg(argv[2]), argv + 3);
	if (!strcmp(cmd, "write") && argc == 4)
		return cmd_write(argv[2], argv[3]);
	if (!strcmp(cmd, "counters") && argc == 3)
		return cmd_counters(num_arg(argv[2]));
	if (!strcmp(cmd, "exec-thread") && argc == 2)
		return cmd_exec_thread();
	if (!strcmp(cmd, "names") && argc == 2)
		return cmd_names();
	if (!strcmp(cmd, "storm") && argc == 3)
		return cmd_storm(num_arg(argv[2]));
	if (!strcmp(cmd, "visible") && argc >= 3)
		return cmd_visible(argv[2], argc > 3 ? num_arg(argv[3]) : -1);
	if (!strcmp(cmd, "churn") && argc == 3)
		return cmd_churn(argv[2]);
	if (!strcmp(cmd, "readers") && argc == 3)
		return cmd_readers(argv[2]);
	return usage();
}
