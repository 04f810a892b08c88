// execproc: `myrun exec` without a second Go runtime.
//
// With "exec" in the bootstrap, the constructor has joined the container's
// namespaces and reported its pid; the parent places it in the cgroup and
// sends one message with the process, prepared and checked on its side
// (capability masks, rlimit numbers, the compiled seccomp program, the
// deduplicated env). This file applies it and execs: myrun_exec_process
// runs the steps of nsexec.Finish (finish.go, which says what each one
// means) in its order, from the generated finish_steps.h; Go init runs the
// same table (initproc/finish.go). The sync socket is close-on-exec: EOF tells the parent the exec
// happened; a failure is reported as an error message like every
// constructor error. The parent uses this path only for what it covers (no LSM label,
// no seccomp listener); everything else goes through Go init.
//
// Payload: NUL-terminated "key=value" strings (see nsexec/execproc.go):
//   a=ARG (repeated, in order)        e=NAME=VALUE (repeated)
//   home=1   HOME is unset or empty: fill it from /etc/passwd (step "env")
//   cwd=PATH uid=N gid=N g=GID (repeated) umask=N (decimal) nnp=1
//   rl=RESOURCE SOFT HARD NAME (repeated)
//   last=N   highest capability number
//   capb= cape= capp= capi= capa=  capability masks (hex)
//   fd=N     lowest fd that must not survive execve
//   sf=FLAGS seccomp(2) filter flags   sp=HEX compiled seccomp program
//   tty=1    process.terminal   console=N  the connected console socket's fd
//   tsize=ROWS COLS  process.consoleSize
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include "finish_steps.h"
#include "nsexec.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#define MAX_MESSAGE (8 << 20)
#define MAX_PASSWD (4 << 20)

struct rlim {
	int resource;
	struct rlimit limit;
	const char *name;
};

struct process {
	char **argv, **envp;
	size_t argc, envc;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	size_t ngids;
	int has_umask, nnp, home;
	mode_t umask;
	struct rlim *rlimits;
	size_t nrlimits;
	int last_cap;
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int first_fd;
	int terminal, console_fd;
	unsigned short rows, cols;
	unsigned int seccomp_flags;
	struct sock_filter *prog;
	size_t prog_len;
	char *path; // the executable, from step_lookup
};

// errstr words an errno as Go does (lower case), so that engines matching
// "no such file or directory" or "permission denied" in our errors see
// the same text from both exec paths.
static const char *errstr(int e)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s", strerror(e));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

// fail reports a message that already says what went wrong (no strerror
// appended) and exits.
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errno = 0;
	myrun_bail("%s", msg);
}

static unsigned long long number(const char *key, const char *s, int base)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || end == s || (*end != '\0' && *end != ' '))
		fail("exec: bad %s value %.32s", key, s);
	return v;
}

static void hex_program(struct process *p, const char *hex)
{
	size_t n = strlen(hex), i;
	unsigned char *raw;

	if (n == 0 || n % (2 * sizeof(struct sock_filter)) != 0)
		fail("exec: bad seccomp program length %zu", n);
	raw = malloc(n / 2);
	if (raw == NULL)
		myrun_bail("exec: malloc");
	for (i = 0; i < n / 2; i++) {
		char byte[3] = { hex[2 * i], hex[2 * i + 1], '\0' };

		raw[i] = (unsigned char)number("sp", byte, 16);
	}
	p->prog = (struct sock_filter *)raw;
	p->prog_len = n / 2 / sizeof(struct sock_filter);
}

static void parse(struct process *p, char *buf, size_t len)
{
	size_t fields = 0, i;
	char *s, *next;

	for (i = 0; i < len; i++)
		fields += buf[i] == '\0';
	p->argv = calloc(fields + 1, sizeof(char *));
	p->envp = calloc(fields + 2, sizeof(char *));
	p->gids = calloc(fields + 1, sizeof(gid_t));
	p->rlimits = calloc(fields + 1, sizeof(struct rlim));
	if (!p->argv || !p->envp || !p->gids || !p->rlimits)
		myrun_bail("exec: calloc");
	p->first_fd = 3;
	p->console_fd = -1;
	p->last_cap = -1;
	for (s = buf; s < buf + len; s = next) {
		char *v = strchr(s, '=');

		next = s + strlen(s) + 1;
		if (v == NULL)
			fail("exec: bad field %.32s", s);
		*v++ = '\0';
		if (strcmp(s, "a") == 0) {
			p->argv[p->argc++] = v;
		} else if (strcmp(s, "e") == 0) {
			p->envp[p->envc++] = v;
		} else if (strcmp(s, "home") == 0) {
			p->home = 1;
		} else if (strcmp(s, "cwd") == 0) {
			p->cwd = v;
		} else if (strcmp(s, "uid") == 0) {
			p->uid = (uid_t)number(s, v, 10);
		} else if (strcmp(s, "gid") == 0) {
			p->gid = (gid_t)number(s, v, 10);
		} else if (strcmp(s, "g") == 0) {
			p->gids[p->ngids++] = (gid_t)number(s, v, 10);
		} else if (strcmp(s, "umask") == 0) {
			p->has_umask = 1;
			p->umask = (mode_t)number(s, v, 10);
		} else if (strcmp(s, "nnp") == 0) {
			p->nnp = 1;
		} else if (strcmp(s, "rl") == 0) {
			struct rlim *r = &p->rlimits[p->nrlimits++];
			char *f2 = strchr(v, ' '), *f3, *f4;

			f3 = f2 ? strchr(f2 + 1, ' ') : NULL;
			f4 = f3 ? strchr(f3 + 1, ' ') : NULL;
			if (f4 == NULL)
				fail("exec: bad rl value %.32s", v);
			r->resource = (int)number(s, v, 10);
			r->limit.rlim_cur = number(s, f2 + 1, 10);
			r->limit.rlim_max = number(s, f3 + 1, 10);
			r->name = f4 + 1;
		} else if (strcmp(s, "last") == 0) {
			p->last_cap = (int)number(s, v, 10);
		} else if (strcmp(s, "capb") == 0) {
			p->bounding = number(s, v, 16);
		} else if (strcmp(s, "cape") == 0) {
			p->effective = number(s, v, 16);
		} else if (strcmp(s, "capp") == 0) {
			p->permitted = number(s, v, 16);
		} else if (strcmp(s, "capi") == 0) {
			p->inheritable = number(s, v, 16);
		} else if (strcmp(s, "capa") == 0) {
			p->ambient = number(s, v, 16);
		} else if (strcmp(s, "fd") == 0) {
			p->first_fd = (int)number(s, v, 10);
		} else if (strcmp(s, "tty") == 0) {
			p->terminal = 1;
		} else if (strcmp(s, "console") == 0) {
			p->console_fd = (int)number(s, v, 10);
		} else if (strcmp(s, "tsize") == 0) {
			char *f2 = strchr(v, ' ');

			if (f2 == NULL)
				fail("exec: bad tsize value %.32s", v);
			p->rows = (unsigned short)number(s, v, 10);
			p->cols = (unsigned short)number(s, f2 + 1, 10);
		} else if (strcmp(s, "sf") == 0) {
			p->seccomp_flags = (unsigned int)number(s, v, 10);
		} else if (strcmp(s, "sp") == 0) {
			hex_program(p, v);
		} else {
			fail("exec: unknown field %.32s", s);
		}
	}
	if (p->argc == 0)
		fail("process.args: must not be empty");
	if (p->last_cap < 0 || p->last_cap > 63)
		fail("exec: bad last capability %d", p->last_cap);
}

// passwd_home is the home of the first entry for uid in the container's
// /etc/passwd, even an empty one, or "/" without one (step "env"; Go:
// initproc passwdHome). The file is the container's: read at most
// MAX_PASSWD bytes of a regular file.
static const char *passwd_home(uid_t uid)
{
	struct stat st;
	char *buf, *line, *save = NULL;
	char want[24];
	ssize_t n;
	size_t used = 0;
	int fd;

	// The uid field must read exactly as the uid in decimal.
	snprintf(want, sizeof(want), "%u", (unsigned int)uid);
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return "/";
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (buf = malloc(MAX_PASSWD + 1)) == NULL) {
		close(fd);
		return "/";
	}
	while (used < MAX_PASSWD && (n = read(fd, buf + used, MAX_PASSWD - used)) > 0)
		used += (size_t)n;
	close(fd);
	buf[used] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		int i = 0;

		for (char *c = line; i < 7; i++) {
			f[i] = c;
			c = strchr(c, ':');
			if (c == NULL) {
				i++;
				break;
			}
			*c++ = '\0';
		}
		if (i < 6 || strcmp(f[2], want) != 0)
			continue;
		return f[5];
	}
	return "/";
}

// setup_console makes a pty from the container's /dev/ptmx, sends its
// master to the console socket and makes the slave our controlling
// terminal and stdio (Go init: initproc setupConsole).
static void setup_console(struct process *p)
{
	int master, slave, unlock = 0, n;

	if (p->console_fd < 0)
		fail("console: process.terminal is true but no console socket was given");
	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail("console: open /dev/ptmx: %s", errstr(errno));
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail("console: unlockpt: %s", errstr(errno));
	// TIOCGPTPEER opens the peer without a path lookup in /dev/pts.
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		char path[32];

		if (ioctl(master, TIOCGPTN, &n) < 0)
			fail("console: ptsname: %s", errstr(errno));
		snprintf(path, sizeof(path), "/dev/pts/%d", n);
		slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0)
			fail("console: open pty slave: %s", errstr(errno));
	}
	// As console.PrepareSlave: ONLCR off, owned by the process's uid.
	{
		struct termios t;

		if (tcgetattr(slave, &t) < 0)
			fail("console: get termios: %s", errstr(errno));
		t.c_oflag &= ~ONLCR;
		if (tcsetattr(slave, TCSANOW, &t) < 0)
			fail("console: clear ONLCR: %s", errstr(errno));
		if (fchown(slave, p->uid, -1) < 0)
			fail("console: chown pty slave to uid %u: %s", p->uid, errstr(errno));
	}
	if (p->rows != 0 && p->cols != 0) {
		struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };

		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			fail("console: set size: %s", errstr(errno));
	}
	// The --console-socket protocol: "/dev/ptmx" with the master fd.
	if (myrun_send_cmsg(p->console_fd, "/dev/ptmx", SCM_RIGHTS, &master, sizeof(master)) < 0)
		fail("console: sending pty master: %s", errstr(errno));
	close(p->console_fd);
	close(master);
	for (int i = 0; i < 3; i++) {
		if (dup3(slave, i, 0) < 0)
			fail("console: dup pty to fd %d: %s", i, errstr(errno));
	}
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail("console: TIOCSCTTY: %s", errstr(errno));
	if (slave > 2)
		close(slave);
}

// add_home puts HOME in place of the empty HOME the env has, or appends
// it (the parent deduplicated the env: at most one HOME).
static void add_home(struct process *p)
{
	const char *home = passwd_home(p->uid);
	char *kv = malloc(strlen(home) + 6);

	if (kv == NULL)
		myrun_bail("exec: malloc");
	strcpy(kv, "HOME=");
	strcat(kv, home);
	for (size_t i = 0; i < p->envc; i++) {
		if (strcmp(p->envp[i], "HOME=") == 0) {
			p->envp[i] = kv;
			return;
		}
	}
	p->envp[p->envc++] = kv;
}

// find_executable mirrors Go's exec.LookPath check; 0 or an errno.
static int find_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return errno;
	return (st.st_mode & 0111) ? 0 : EACCES;
}

// look_path resolves argv[0] with the process's own PATH, after chdir, as
// exec.LookPath does in Go init; the errors read the same.
static char *look_path(struct process *p)
{
	const char *name = p->argv[0], *path = NULL;
	char *dirs, *dir, *save = NULL;
	int e;

	if (strchr(name, '/') != NULL) {
		e = find_executable(name);
		if (e == ENOENT || e == ENOTDIR)
			fail("exec: \"%s\": stat %s: %s", name, name, errstr(e));
		// execve says EACCES for a directory, and engines read the
		// words: podman 4.3 maps "permission denied" to exit 126.
		if (e == EISDIR)
			fail("exec: \"%s\": is a directory: permission denied", name);
		if (e != 0)
			fail("exec: \"%s\": %s", name, errstr(e));
		return (char *)name;
	}
	for (size_t i = 0; i < p->envc; i++) {
		if (strncmp(p->envp[i], "PATH=", 5) == 0)
			path = p->envp[i] + 5; // the last one wins, as with setenv
	}
	// No PATH or an empty one: no directory at all, as Go's
	// filepath.SplitList("") (runc agrees); ":" still means "." twice.
	if (path == NULL || *path == '\0')
		fail("exec: \"%s\": executable file not found in $PATH", name);
	dirs = strdup(path);
	if (dirs == NULL)
		myrun_bail("exec: strdup");
	// strtok would skip empty entries, which mean ".".
	for (dir = dirs; dir != NULL; dir = save) {
		char *full;

		save = strchr(dir, ':');
		if (save != NULL)
			*save++ = '\0';
		if (*dir == '\0')
			dir = ".";
		if (asprintf(&full, "%s/%s", dir, name) < 0)
			myrun_bail("exec: asprintf");
		if (find_executable(full) == 0) {
			if (full[0] != '/')
				fail("exec: \"%s\": cannot run executable found relative to current "
				     "directory",
				     name);
			return full;
		}
		free(full);
	}
	fail("exec: \"%s\": executable file not found in $PATH", name);
}

static void step_bounding(struct process *p)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		fail("bounding capabilities: capget: %s", errstr(errno));
	if (!(data[0].effective & (1U << CAP_SETPCAP)))
		return;
	for (int i = 0; i <= p->last_cap; i++) {
		if (p->bounding & (1ULL << i))
			continue;
		if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
			fail("bounding capabilities: applying bounding capabilities: %s", errstr(errno));
	}
}

static void step_caps(struct process *p)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)p->effective, (uint32_t)p->permitted, (uint32_t)p->inheritable },
		{ (uint32_t)(p->effective >> 32), (uint32_t)(p->permitted >> 32),
		  (uint32_t)(p->inheritable >> 32) },
	};

	if (syscall(SYS_capset, &hdr, data) < 0)
		fail("capabilities: applying capabilities: %s", errstr(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail("capabilities: applying ambient capabilities: %s", errstr(errno));
	for (int i = 0; i <= p->last_cap; i++) {
		if (!(p->ambient & (1ULL << i)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0 && errno != EINVAL)
			fail("capabilities: applying ambient capabilities: %s", errstr(errno));
	}
}

static int setgroups_denied(void)
{
	char buf[16] = "";
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return strncmp(buf, "deny", 4) == 0;
}

static void step_user(struct process *p)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		myrun_bail("set user: PR_SET_KEEPCAPS");
	if (setgroups(p->ngids, p->gids) < 0) {
		// A rootless user namespace denies setgroups; only a problem
		// when groups were asked for.
		int e = errno;

		if (p->ngids > 0 || !setgroups_denied())
			fail("set user: process.user.additionalGids: setgroups: %s", errstr(e));
	}
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		fail("set user: process.user.gid: setresgid(%u): %s", p->gid, errstr(errno));
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		fail("set user: process.user.uid: setresuid(%u): %s", p->uid, errstr(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		myrun_bail("set user: PR_SET_KEEPCAPS");
}

static void load_seccomp(struct process *p)
{
	struct sock_fprog prog = { .len = (unsigned short)p->prog_len, .filter = p->prog };
	long r;

	if (p->prog_len == 0 || p->prog_len > 0xffff)
		fail("seccomp: bad program length %zu", p->prog_len);
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog);
	if (r < 0 && errno == EACCES)
		fail("seccomp: seccomp: load filter: %s (needs no_new_privs or CAP_SYS_ADMIN)",
		     errstr(EACCES));
	if (r < 0)
		fail("seccomp: seccomp: load filter (flags %#x): %s", p->seccomp_flags, errstr(errno));
	if (r != 0)
		fail("seccomp: seccomp: load filter: thread %ld could not be synchronised", r);
}

static void step_console(struct process *p)
{
	if (p->terminal)
		setup_console(p);
}

static void step_env(struct process *p)
{
	if (p->home)
		add_home(p);
	p->envp[p->envc] = NULL;
}

static void step_chdir(struct process *p)
{
	char cwd[PATH_MAX + 1];

	if (p->cwd == NULL || p->cwd[0] != '/')
		fail("process.cwd: chdir: must be an absolute path, got \"%s\"", p->cwd ? p->cwd : "");
	if (chdir(p->cwd) < 0)
		fail("process.cwd: chdir: %s", errstr(errno));
	// A cwd outside the container's root (a leaked host fd) reads as
	// "(unreachable)/..." (CVE-2024-21626).
	if (syscall(SYS_getcwd, cwd, sizeof(cwd)) < 0)
		fail("process.cwd: chdir: getcwd: %s", errstr(errno));
	if (cwd[0] != '/')
		fail("process.cwd: chdir: current working directory \"%s\" is outside the container root",
		     cwd);
}

static void step_lookup(struct process *p)
{
	p->path = look_path(p);
}

static void step_close_fds(struct process *p)
{
	if (syscall(SYS_close_range, p->first_fd, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		myrun_bail("close_range");
}

static void step_rlimits(struct process *p)
{
	for (size_t i = 0; i < p->nrlimits; i++) {
		struct rlim *r = &p->rlimits[i];

		if (setrlimit(r->resource, &r->limit) < 0)
			fail("rlimits: process.rlimits[%zu] (%s %llu:%llu): %s", i, r->name,
			     (unsigned long long)r->limit.rlim_cur, (unsigned long long)r->limit.rlim_max,
			     errstr(errno));
	}
}

static void step_seccomp_early(struct process *p)
{
	if (p->prog != NULL && !p->nnp)
		load_seccomp(p);
}

static void step_umask(struct process *p)
{
	if (p->has_umask)
		umask(p->umask);
}

static void step_nnp(struct process *p)
{
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		myrun_bail("no_new_privs");
}

static void step_seccomp_late(struct process *p)
{
	if (p->prog != NULL && p->nnp)
		load_seccomp(p);
}

static void __attribute__((noreturn)) step_execve(struct process *p)
{
	execve(p->path, p->argv, p->envp);
	fail("exec %s: %s", p->path, errstr(errno));
}

#define RUN_STEP(name) step_##name(&p);

void myrun_exec_process(void)
{
	struct process p = { 0 };
	char *packet;
	size_t len;

	packet = myrun_recv_msg(MYRUN_MSG_EXEC_PROCESS, MAX_MESSAGE, &len);
	parse(&p, packet, len);
	MYRUN_FINISH_STEPS(RUN_STEP)
}
