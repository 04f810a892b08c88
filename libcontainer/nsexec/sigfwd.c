// sigfwd: the signals a foreground `myrun exec` or `myrun run` forwards, blocked before
// the Go runtime starts, and the caller's signal mask given back to our
// children (sigfwd.go says why).
//
// Go unblocks the signals it may not delay (SIGHUP, SIGINT, SIGQUIT,
// SIGABRT, SIGTERM, SIGSYS, SIGCHLD, the synchronous ones, its preemption
// signal) on every thread it starts, and takes every other signal's mask
// from the one the process started with. So a signal blocked here stays
// blocked on every thread of the process, and the parent reads it from a
// signalfd instead of having os/signal enable it (one thread round trip
// per signal).
//
// The process's children start with that mask too (Go's fork restores the
// start mask), so a child of ours that was started with _MYRUN_SIGMASK=HEX
// sets that mask, the caller's, first thing, before anything of it runs.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// Bit n-1 is signal n, as in the kernel's sigset and /proc/PID/status.
uint64_t myrun_sig_forward_blocked = 0;
uint64_t myrun_sig_orig_mask = 0;

// The signals Go lets the process block, less SIGPIPE (Go turns an EPIPE on
// stdout into one and dies of it unless os/signal wants it) and SIGURG
// (Go's preemption): SIGUSR1, SIGUSR2, SIGALRM, SIGCONT, SIGTSTP, SIGTTIN,
// SIGTTOU, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGWINCH, SIGIO, SIGPWR, and the
// real-time signals 35-64 (Go keeps 32-34 unblocked for the C libraries).
static uint64_t forward_set(void)
{
	static const int sigs[] = { SIGUSR1, SIGUSR2, SIGALRM,   SIGCONT,  SIGTSTP, SIGTTIN, SIGTTOU,
		                    SIGXCPU, SIGXFSZ, SIGVTALRM, SIGWINCH, SIGIO,   SIGPWR };
	uint64_t set = 0;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		set |= 1ULL << (sigs[i] - 1);
	for (int s = 35; s <= 64; s++)
		set |= 1ULL << (s - 1);
	return set;
}

// set_mask sets the thread's (the only thread's) mask exactly, with the
// raw system call: the C library's wrapper keeps its own signals out.
static int set_mask(int how, uint64_t set, uint64_t *old)
{
	return (int)syscall(SYS_rt_sigprocmask, how, &set, old, sizeof(set));
}

// flag_name returns an argument's flag name (without dashes, up to any
// '='), or NULL when it is not a flag.
static const char *flag_name(const char *a, size_t *len)
{
	if (a[0] != '-' || a[1] == '\0')
		return NULL;
	a += a[1] == '-' ? 2 : 1;
	*len = strcspn(a, "=");
	return a;
}

static int is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncmp(name, want, len) == 0;
}

// foreground_verb says whether argv is certainly `myrun [global flags]
// exec|run ...` without --detach. Anything it is not sure of (an unknown
// global flag, "-d" or "--detach" anywhere after the verb, even in the
// command) answers no: the parent then takes the signals with os/signal.
static int foreground_verb(int argc, char **argv)
{
	static const char *bools[] = { "debug", "systemd-cgroup" };
	static const char *values[] = { "log", "log-format", "root", "rootless", "criu" };
	const char *name;
	size_t len;
	int i, known;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if ((name = flag_name(argv[i], &len)) == NULL)
			return 0;
		known = 0;
		for (size_t k = 0; k < sizeof(bools) / sizeof(bools[0]); k++)
			known |= is(name, len, bools[k]);
		for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
			if (is(name, len, values[k])) {
				known = 1;
				if (name[len] != '=')
					i++;
			}
		}
		if (!known)
			return 0;
	}
	if (i >= argc || (strcmp(argv[i], "exec") != 0 && strcmp(argv[i], "run") != 0))
		return 0;
	for (i++; i < argc; i++) {
		if ((name = flag_name(argv[i], &len)) != NULL &&
		    (is(name, len, "d") || is(name, len, "detach")))
			return 0;
	}
	return 1;
}

// restore_mask sets the mask _MYRUN_SIGMASK names; 0 when it is unset.
static int restore_mask(void)
{
	const char *env = getenv("_MYRUN_SIGMASK");
	unsigned long long v;
	char *end;

	if (env == NULL)
		return 0;
	errno = 0;
	v = strtoull(env, &end, 16);
	if (*env == '\0' || *end != '\0' || errno != 0) {
		fprintf(stderr, "myrun: bad _MYRUN_SIGMASK %.32s\n", env);
		_exit(1);
	}
	if (set_mask(SIG_SETMASK, (uint64_t)v, NULL) < 0) {
		fprintf(stderr, "myrun: restoring the signal mask: %s\n", strerror(errno));
		_exit(1);
	}
	return 1;
}

// exec_target: with _MYRUN_EXECPATH we are a trampoline (sigfwd.go's
// ViaCallerMask): the mask is the caller's again, exec the program the
// parent meant to start, with its arguments and without our variables.
static void exec_target(char **argv)
{
	const char *env = getenv("_MYRUN_EXECPATH");
	char *path;

	if (env == NULL)
		return;
	path = strdup(env);
	if (path == NULL || unsetenv("_MYRUN_EXECPATH") < 0 || unsetenv("_MYRUN_SIGMASK") < 0) {
		fprintf(stderr, "myrun: trampoline: %s\n", strerror(errno));
		_exit(127);
	}
	execve(path, argv, environ);
	fprintf(stderr, "myrun: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

#ifndef MYRUN_FUZZ
// Before nsexec's constructor (default priority), so that its work and
// its children run with the caller's mask.
__attribute__((constructor(101))) static void sigfwd(int argc, char **argv)
{
	uint64_t set = forward_set();

	if (restore_mask()) {
		exec_target(argv);
		return;
	}
	if (!foreground_verb(argc, argv))
		return;
	if (set_mask(SIG_BLOCK, set, &myrun_sig_orig_mask) == 0)
		myrun_sig_forward_blocked = set;
}
#endif
