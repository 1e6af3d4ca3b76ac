// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmarks' process factory: many children, each with a known name.
 *
 *   spawner seq N LOG          N children one after another: fork, the child
 *                              names itself ps%05d (its index) and _exits; the
 *                              parent reaps it before the next fork
 *   spawner burst N B LOG      the same N children, B at a time: B forks, then
 *                              B reaps
 *   spawner hold N             N children that pause(); prints "ready" once
 *                              all exist, and kills them all when stdin closes
 *                              or on SIGTERM
 *   spawner forkloop N         fork + _exit + waitpid, N times; prints the ns
 *   spawner threadloop N       pthread_create + pthread_join, N times; prints
 *                              the ns
 *
 * LOG gets one "pid comm" line per child, written after the run so the
 * logging does not slow the spawning. Built static (gcc -O2 -static -pthread)
 * so the same binary runs on the host and in a busybox initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static pid_t spawn_named(long index)
{
	pid_t pid = fork();

	if (pid == 0) {
		char name[16];

		snprintf(name, sizeof(name), "ps%05ld", index % 100000);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		_exit(0);
	}
	if (pid < 0)
		die("fork");
	return pid;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
}

static void write_log(const char *path, const pid_t *pids, long n)
{
	FILE *f = fopen(path, "w");
	long i;

	if (!f)
		die(path);
	for (i = 0; i < n; i++)
		fprintf(f, "%d ps%05ld\n", pids[i], i % 100000);
	if (fclose(f))
		die(path);
}

static int run_spawn(long n, long burst, const char *log)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	long long t0;
	long i, j;

	if (!pids)
		die("calloc");
	t0 = now_ns();
	for (i = 0; i < n; i += burst) {
		long end = i + burst < n ? i + burst : n;

		for (j = i; j < end; j++)
			pids[j] = spawn_named(j);
		for (j = i; j < end; j++)
			reap(pids[j]);
	}
	printf("spawned %ld in %lld ns\n", n, now_ns() - t0);
	write_log(log, pids, n);
	free(pids);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int run_hold(long n)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	struct sigaction sa = { .sa_handler = on_term };
	char buf[64];
	long i;

	if (!pids)
		die("calloc");
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < n && !stop; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char name[16];

			signal(SIGTERM, SIG_DFL);
			snprintf(name, sizeof(name), "hold%05ld", i % 100000);
			prctl(PR_SET_NAME, name, 0, 0, 0);
			/* die with the parent, whatever kills it */
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (getppid() == 1)
				_exit(0);
			for (;;)
				pause();
		}
		if (pids[i] < 0) {
			perror("fork");
			break;
		}
	}
	printf("ready %ld\n", i);
	fflush(stdout);
	while (!stop && read(0, buf, sizeof(buf)) > 0)
		;
	n = i;
	for (i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < n; i++)
		reap(pids[i]);
	free(pids);
	return 0;
}

static int run_forkloop(long n)
{
	long long t0 = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0)
			die("fork");
		reap(pid);
	}
	printf("%lld\n", now_ns() - t0);
	return 0;
}

static void *thread_body(void *arg)
{
	return arg;
}

static int run_threadloop(long n)
{
	long long t0 = now_ns();
	pthread_t t;
	long i;

	for (i = 0; i < n; i++) {
		if (pthread_create(&t, NULL, thread_body, NULL))
			die("pthread_create");
		pthread_join(t, NULL);
	}
	printf("%lld\n", now_ns() - t0);
	return 0;
}

static long count_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "spawner: not a positive count: %s\n", s);
		exit(2);
	}
	return v;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: spawner seq N LOG | burst N B LOG | hold N | forkloop N | threadloop N\n");
	return 2;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "seq"))
		return run_spawn(count_arg(argv[2]), 1, argv[3]);
	if (argc == 5 && !strcmp(argv[1], "burst"))
		return run_spawn(count_arg(argv[2]), count_arg(argv[3]), argv[4]);
	if (argc == 3 && !strcmp(argv[1], "hold"))
		return run_hold(count_arg(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "forkloop"))
		return run_forkloop(count_arg(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "threadloop"))
		return run_threadloop(count_arg(argv[2]));
	return usage();
}
