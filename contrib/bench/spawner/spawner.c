/*
 * spawner: starts benchmark commands from a process that is itself tiny.
 *
 * ru_maxrss of a child includes the high-water RSS of the memory it had
 * before execve, i.e. of its parent at fork time. Spawned from the Go
 * driver, every runtime would report at least the driver's RSS; from this
 * program the floor is well under 1 MB. It also times fork to wait4 on
 * CLOCK_MONOTONIC and is the child subreaper that reaps container inits.
 *
 * Protocol (line based; arguments must not contain newlines):
 *   in:  "R <id> <argc> <stdout-path> <stderr-path>\n" then argc lines
 *   out: "X <id> <pid> <wstatus> <utime_us> <stime_us> <maxrss_kb> <wall_ns>\n"
 *        "O <pid> <wstatus> <utime_us> <stime_us> <maxrss_kb>\n"  (orphan reaped)
 *        "E <id> <errno>\n"                                        (fork failed)
 * EOF on stdin ends the spawner once its own children are reaped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXJOBS 256
#define MAXARGS 64

struct job {
	pid_t pid;
	long id;
	long long start;
};
static struct job jobs[MAXJOBS];
static int njobs;
static sigset_t oldmask;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long us(struct timeval tv)
{
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

static void start(long id, int argc, char **argv, const char *out, const char *err)
{
	long long t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		printf("E %ld %d\n", id, errno);
		return;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || o < 0 || e < 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		syscall(SYS_close_range, 3, ~0U, 0);
		argv[argc] = NULL;
		execv(argv[0], argv);
		dprintf(2, "spawner: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	jobs[njobs++] = (struct job){ pid, id, t0 };
}

static void reap(void)
{
	int st;
	struct rusage ru;
	pid_t pid;
	while ((pid = wait4(-1, &st, WNOHANG | __WALL, &ru)) > 0) {
		long long t1 = now_ns();
		int i;
		for (i = 0; i < njobs && jobs[i].pid != pid; i++)
			;
		if (i < njobs) {
			printf("X %ld %d %d %lld %lld %ld %lld\n", jobs[i].id, pid, st, us(ru.ru_utime),
			       us(ru.ru_stime), ru.ru_maxrss, t1 - jobs[i].start);
			jobs[i] = jobs[--njobs];
		} else {
			printf("O %d %d %lld %lld %ld\n", pid, st, us(ru.ru_utime), us(ru.ru_stime),
			       ru.ru_maxrss);
		}
	}
	fflush(stdout);
}

int main(void)
{
	static char buf[1 << 16];
	static char *argv[MAXARGS + 1];
	size_t len = 0;
	int eof = 0;
	sigset_t mask;

	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("spawner: signalfd");
		return 1;
	}
	while (!eof || njobs > 0) {
		struct pollfd p[2] = { { sfd, POLLIN, 0 }, { 0, eof ? 0 : POLLIN, 0 } };
		if (poll(p, eof ? 1 : 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
			reap();
		}
		if (eof || !p[1].revents)
			continue;
		ssize_t n = read(0, buf + len, sizeof buf - 1 - len);
		if (n <= 0) {
			eof = 1;
			continue;
		}
		len += n;
		buf[len] = 0;
		/* Handle every complete request in the buffer. */
		for (;;) {
			long id;
			int argc, used = 0;
			char out[4096], err[4096];
			if (sscanf(buf, "R %ld %d %4095s %4095s\n%n", &id, &argc, out, err, &used) < 4 ||
			    used == 0)
				break;
			if (argc < 1 || argc > MAXARGS)
				return 2;
			char *q = buf + used;
			int k;
			for (k = 0; k < argc; k++) {
				char *nl = strchr(q, '\n');
				if (!nl)
					break;
				*nl = 0;
				argv[k] = q;
				q = nl + 1;
			}
			if (k < argc) { /* incomplete: restore newlines and wait for more */
				for (char *c = buf + used; c < q; c++)
					if (!*c)
						*c = '\n';
				break;
			}
			if (njobs == MAXJOBS)
				printf("E %ld %d\n", id, EAGAIN);
			else
				start(id, argc, argv, out, err);
			fflush(stdout);
			len -= q - buf;
			memmove(buf, q, len);
			buf[len] = 0;
		}
		if (len >= sizeof buf - 1)
			return 2;
	}
	return 0;
}
