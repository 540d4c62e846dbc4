/*
 * shop.c - run the shop example: a small distributed program on loopback, every part in its own
 * process writing its own trace file into DIR.
 *
 *     build/examples/shop/shop [--requests N] [--workers N] [--timeout SECONDS] DIR
 *
 *   client --HTTP--> gateway --HTTP--> inventory
 *                       |    --HTTP--> payment
 *                       +--"order placed"--> worker 1 .. N    (one publish, N deliveries)
 *
 * The client places N orders (default 5) one after the other; each order is one trace that spans
 * every process. The launcher itself is not traced: it only starts and stops the others, found
 * next to its own executable.
 *
 * Start-up never guesses: each server listens on a port the kernel picks and writes it to a
 * readiness pipe, and the launcher starts the next process only once it has read it. The workers
 * need no such signal: each gets one end of a socket pair whose other end goes to the gateway,
 * and messages wait in the socket until the worker reads them.
 *
 * Shut-down is ordered so that nothing in flight is lost: when the client is done, the gateway
 * gets SIGTERM and closes the worker sockets as it exits; the workers finish the orders already
 * sent, see end-of-file and exit; then the backends get SIGTERM. Each server seals its trace file
 * (hx_shutdown) on the way out. Everything runs under one deadline (--timeout, default 60 s);
 * on a failure, a timeout, or SIGINT/SIGTERM to the launcher every child still running gets
 * SIGTERM, then SIGKILL after a grace period, and is reaped. Children also ask the kernel for
 * SIGTERM should the launcher die without cleaning up (PR_SET_PDEATHSIG), so none is orphaned.
 *
 * Exit status: 0 when every process exited with 0 (the client only does when every order was
 * placed), 1 otherwise, 2 for a usage error.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 32
#define MAX_PROCS (4 + MAX_WORKERS)
#define MAX_ARGS (16 + 2 * MAX_WORKERS) /* the gateway's command line is the longest */
#define GRACE_MS 5000 /* how long a process may take to exit after SIGTERM */

typedef struct proc {
	char name[32];
	pid_t pid;
	int exited;      /* reaped; `status` is its wait status */
	int status;
} proc;

/* The launcher's state; one instance, on main's stack. */
typedef struct shop {
	char bindir[PATH_MAX];
	const char *dir;
	int sigfd;                /* SIGCHLD, SIGINT, SIGTERM, SIGHUP: blocked, read from here */
	sigset_t old_mask;        /* restored in each child before exec */
	pid_t self;
	proc procs[MAX_PROCS];
	size_t nprocs;
	int interrupted;          /* SIGINT/SIGTERM/SIGHUP arrived */
	struct timespec deadline; /* CLOCK_MONOTONIC */
} shop;

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

static struct timespec in_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* Collect every child that has exited, without blocking. */
static void reap(shop *s)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < s->nprocs; i++) {
			if (s->procs[i].pid == pid) {
				s->procs[i].exited = 1;
				s->procs[i].status = status;
			}
		}
	}
}

/* Wait for a signal (or fd `other` to become readable, if >= 0) until `deadline`. Returns 1 when
 * `other` is readable, 0 when a signal was handled or the time is up, -1 when the launcher was
 * told to stop (s->interrupted). */
static int wait_event(shop *s, int other, const struct timespec *deadline)
{
	struct pollfd p[2] = {{.fd = s->sigfd, .events = POLLIN}, {.fd = other, .events = POLLIN}};
	int n = poll(p, other >= 0 ? 2 : 1, (int)ms_left(deadline));
	if (n < 0 && errno != EINTR) {
		perror("shop: poll");
		s->interrupted = 1;
		return -1;
	}
	if (n > 0 && (p[0].revents & POLLIN)) {
		struct signalfd_siginfo si;
		while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo != SIGCHLD) {
				fprintf(stderr, "shop: %s: stopping\n", strsignal((int)si.ssi_signo));
				s->interrupted = 1;
			}
		}
		reap(s);
	}
	if (s->interrupted)
		return -1;
	return n > 0 && other >= 0 && (p[1].revents & (POLLIN | POLLHUP)) ? 1 : 0;
}

/* Start bindir/argv[0] with `keep` (fds that must survive exec: every fd the launcher makes is
 * close-on-exec, so a child inherits only what it is given). Returns the proc or NULL. */
static proc *spawn(shop *s, const char *name, char **argv, const int *keep, size_t nkeep)
{
	char path[PATH_MAX + 64];
	if (s->nprocs == MAX_PROCS)
		return NULL;
	snprintf(path, sizeof path, "%s/%s", s->bindir, argv[0]);
	pid_t pid = fork();
	if (pid < 0) {
		perror("shop: fork");
		return NULL;
	}
	if (pid == 0) {
		/* The kernel sends SIGTERM if the launcher dies; checking the parent afterwards closes
		 * the window where it died before the request was made. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != s->self)
			_exit(127);
		sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
		for (size_t i = 0; i < nkeep; i++)
			fcntl(keep[i], F_SETFD, 0);
		execv(path, argv);
		fprintf(stderr, "shop: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	proc *p = &s->procs[s->nprocs++];
	snprintf(p->name, sizeof p->name, "%s", name);
	p->pid = pid;
	return p;
}

/* Start a server that reports its port on a readiness pipe ("--ready-fd FD" is added in front of
 * the rest of argv) and wait for the port. Returns the port, or 0 when the server failed; *out is
 * the server's proc whenever it was started. */
static unsigned start_server(shop *s, const char *name, char **argv, const int *keep, size_t nkeep, proc **out)
{
	int fds[2];
	char fdtext[16];
	char *args[MAX_ARGS];
	size_t n = 0;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		perror("shop: pipe");
		return 0;
	}
	snprintf(fdtext, sizeof fdtext, "%d", fds[1]);
	args[n++] = argv[0];
	args[n++] = "--ready-fd";
	args[n++] = fdtext;
	for (size_t i = 1; argv[i] && n < MAX_ARGS - 1; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	int all[MAX_WORKERS + 1];
	all[0] = fds[1];
	for (size_t i = 0; i < nkeep && i < MAX_WORKERS; i++)
		all[i + 1] = keep[i];
	proc *p = *out = spawn(s, name, args, all, nkeep + 1);
	close(fds[1]); /* the child's copy is the only writer: its exit means end-of-file here */
	unsigned port = 0;
	if (p) {
		char line[16];
		size_t got = 0;
		for (;;) {
			int r = wait_event(s, fds[0], &s->deadline);
			if (r < 0)
				break;
			if (r == 0) {
				if (!ms_left(&s->deadline)) {
					fprintf(stderr, "shop: %s did not get ready in time\n", name);
					break;
				}
				continue;
			}
			ssize_t k = read(fds[0], line + got, sizeof line - 1 - got);
			if (k <= 0) {
				if (k < 0 && errno == EINTR)
					continue;
				break; /* end-of-file: the server exited, or closed the pipe without a port */
			}
			got += (size_t)k;
			line[got] = '\0';
			if (strchr(line, '\n') || got == sizeof line - 1)
				break;
		}
		line[got] = '\0';
		unsigned long v = strtoul(line, NULL, 10);
		if (got && v > 0 && v < 65536)
			port = (unsigned)v;
		else if (!s->interrupted && ms_left(&s->deadline))
			fprintf(stderr, "shop: %s failed to start\n", name);
	}
	close(fds[0]);
	if (port)
		printf("shop: %-10s listening on 127.0.0.1:%u (pid %ld)\n", name, port, (long)p->pid);
	return port;
}

/* Wait until `p` has exited or the deadline passed. Returns 0 when it exited with status 0. */
static int wait_exit(shop *s, proc *p, const struct timespec *deadline)
{
	reap(s);
	while (!p->exited) {
		if (wait_event(s, -1, deadline) < 0)
			return -1;
		if (!p->exited && !ms_left(deadline)) {
			fprintf(stderr, "shop: %s did not exit in time\n", p->name);
			return -1;
		}
	}
	if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0)
		return 0;
	if (WIFSIGNALED(p->status))
		fprintf(stderr, "shop: %s died of %s\n", p->name, strsignal(WTERMSIG(p->status)));
	else
		fprintf(stderr, "shop: %s exited with %d\n", p->name, WEXITSTATUS(p->status));
	return -1;
}

/* Stop `p` with SIGTERM and wait for it. Returns 0 when it exited cleanly. */
static int stop(shop *s, proc *p)
{
	reap(s);
	if (!p->exited)
		kill(p->pid, SIGTERM);
	struct timespec grace = in_ms(GRACE_MS);
	return wait_exit(s, p, &grace);
}

/* The failure path: SIGTERM to every child still running, SIGKILL to those that outlive the
 * grace period, and reap them all. Nothing is left behind. */
static void stop_all(shop *s)
{
	reap(s);
	for (size_t i = 0; i < s->nprocs; i++)
		if (!s->procs[i].exited)
			kill(s->procs[i].pid, SIGTERM);
	struct timespec grace = in_ms(GRACE_MS);
	for (;;) {
		size_t running = 0;
		for (size_t i = 0; i < s->nprocs; i++)
			running += !s->procs[i].exited;
		if (!running || !ms_left(&grace))
			break;
		s->interrupted = 0; /* a second ^C must not cut the grace period short */
		wait_event(s, -1, &grace);
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		proc *p = &s->procs[i];
		if (p->exited)
			continue;
		fprintf(stderr, "shop: %s ignored SIGTERM: killing it\n", p->name);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
		p->exited = 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shop [--requests N] [--workers N] [--timeout SECONDS] DIR\n"
	           "  Runs the shop example on loopback, each process tracing into DIR.\n"
	           "  --requests N   orders the client places, one trace each (default 5)\n"
	           "  --workers N    subscribers to the order events, 1..%d (default 3)\n"
	           "  --timeout S    give up (and stop everything) after S seconds (default 60)\n",
	        MAX_WORKERS);
}

static int parse(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Everything between start-up and a clean stop; returns 0 on success. On failure the caller
 * stops whatever is still running. */
static int run(shop *s, unsigned long requests, unsigned long workers)
{
	char *dir = (char *)s->dir;
	proc *inventory_proc, *payment_proc, *gateway_proc;
	char *inv_argv[] = {"shop-inventory", dir, NULL};
	unsigned inventory = start_server(s, "inventory", inv_argv, NULL, 0, &inventory_proc);
	if (!inventory)
		return -1;
	char *pay_argv[] = {"shop-payment", dir, NULL};
	unsigned payment = start_server(s, "payment", pay_argv, NULL, 0, &payment_proc);
	if (!payment)
		return -1;

	/* One socket pair per worker: the worker reads one end, the gateway writes the other. */
	int gw_ends[MAX_WORKERS] = {0};
	size_t nworkers = 0;
	proc *worker[MAX_WORKERS] = {NULL};
	for (; nworkers < workers; nworkers++) {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
			perror("shop: socketpair");
			goto fail;
		}
		char index[24], fd[16], name[32];
		snprintf(index, sizeof index, "%zu", nworkers + 1);
		snprintf(fd, sizeof fd, "%d", sp[1]);
		snprintf(name, sizeof name, "worker-%zu", nworkers + 1);
		char *argv[] = {"shop-worker", "--index", index, "--fd", fd, dir, NULL};
		worker[nworkers] = spawn(s, name, argv, &sp[1], 1);
		close(sp[1]);
		gw_ends[nworkers] = sp[0];
		if (!worker[nworkers]) {
			nworkers++;
			goto fail;
		}
	}
	printf("shop: %lu workers subscribed to order events\n", workers);

	char inv_port[16], pay_port[16], fdtext[MAX_WORKERS][16];
	char *gw_argv[MAX_ARGS];
	size_t n = 0;
	snprintf(inv_port, sizeof inv_port, "%u", inventory);
	snprintf(pay_port, sizeof pay_port, "%u", payment);
	gw_argv[n++] = "shop-gateway";
	gw_argv[n++] = "--inventory";
	gw_argv[n++] = inv_port;
	gw_argv[n++] = "--payment";
	gw_argv[n++] = pay_port;
	for (size_t i = 0; i < nworkers; i++) {
		snprintf(fdtext[i], sizeof fdtext[i], "%d", gw_ends[i]);
		gw_argv[n++] = "--subscriber";
		gw_argv[n++] = fdtext[i];
	}
	gw_argv[n++] = dir;
	gw_argv[n] = NULL;
	unsigned gateway = start_server(s, "gateway", gw_argv, gw_ends, nworkers, &gateway_proc);
	/* The gateway holds its own copies now: ours would keep the workers from seeing end-of-file. */
	for (size_t i = 0; i < nworkers; i++)
		close(gw_ends[i]);
	if (!gateway)
		return -1;

	char gw_port[16], count[16];
	snprintf(gw_port, sizeof gw_port, "%u", gateway);
	snprintf(count, sizeof count, "%lu", requests);
	char *client_argv[] = {"shop-client", "--port", gw_port, "--requests", count, dir, NULL};
	proc *client = spawn(s, "client", client_argv, NULL, 0);
	if (!client || wait_exit(s, client, &s->deadline) != 0)
		return -1;

	/* In order: the gateway first, so the workers see end-of-file after its last order. */
	if (stop(s, gateway_proc) != 0)
		return -1;
	struct timespec grace = in_ms(GRACE_MS);
	for (size_t i = 0; i < workers; i++)
		if (wait_exit(s, worker[i], &grace) != 0)
			return -1;
	if (stop(s, inventory_proc) != 0 || stop(s, payment_proc) != 0)
		return -1;
	return 0;
fail:
	for (size_t i = 0; i < nworkers; i++)
		close(gw_ends[i]);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"requests", required_argument, NULL, 'n'},
		{"workers", required_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long requests = 5, workers = 3, timeout = 60;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int bad = 1;
		if (c == 'n')
			bad = parse(optarg, 1, 100000, &requests);
		else if (c == 'w')
			bad = parse(optarg, 1, MAX_WORKERS, &workers);
		else if (c == 't')
			bad = parse(optarg, 1, 86400, &timeout);
		else if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (bad) {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}

	static shop s; /* static: the process table is large for a stack frame; zero-initialised */
	s.dir = argv[optind];
	s.self = getpid();
	ssize_t len = readlink("/proc/self/exe", s.bindir, sizeof s.bindir - 1);
	char *slash = len > 0 ? memrchr(s.bindir, '/', (size_t)len) : NULL;
	if (!slash) {
		fprintf(stderr, "shop: cannot find my own executable\n");
		return 1;
	}
	*slash = '\0';

	/* Signals arrive through a file descriptor, so every wait is one poll() with a timeout. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &s.old_mask) != 0 ||
	    (s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		perror("shop: signalfd");
		return 1;
	}
	s.deadline = in_ms((long)timeout * 1000);
	/* Our lines and the children's share stdout: flush ours before each child writes. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	int rc = run(&s, requests, workers);
	if (rc != 0) {
		if (!s.interrupted && !ms_left(&s.deadline))
			fprintf(stderr, "shop: timed out after %lu s\n", timeout);
		stop_all(&s);
	}
	close(s.sigfd);
	return rc == 0 ? 0 : 1;
}
