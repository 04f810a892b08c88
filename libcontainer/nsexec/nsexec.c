// nsexec: the part of `myrun init` that must run before the Go runtime starts.
//
// A Go process is multi-threaded from its first instruction, and setns(2)
// into a user or mount namespace (and unshare of a user namespace) requires a
// single-threaded caller. So this constructor runs first, does the namespace
// work the parent asked for in a small text bootstrap message, and returns to
// let Go start inside the container's namespaces.
//
// It does nothing unless _MYRUN_SYNCFD names the sync socket (SOCK_SEQPACKET),
// or _MYRUN_HOLD asks for a placeholder process (see hold.go): one that only
// keeps the user namespace it was started in alive until stdin closes.
// _MYRUN_KEEPFDS=N: fds 0..N-1 are stdio, the preserved fds and ours; every
// other fd was inherited from whoever ran myrun and is closed first thing,
// so that neither init (which may wait for `start` for days) nor the
// container holds the caller's pipes and files.
//
// Messages are framed as syncproto says (nsexec.h): a type and a length,
// then the payload. The bootstrap message's payload is "key value\n" lines:
//   clone <flags>              namespaces to unshare (CLONE_NEW* bits)
//   join <flag> <path>         namespace file to setns() into (user first)
//   maps                       wait for the parent to write uid/gid maps
//   timens <clock> <sec> <ns>  offsets for a new time namespace
//   place                      the parent places the container process in its
//                              cgroup once it has the pid, while Go starts:
//                              leave the cgroup namespace to Go init, which
//                              unshares it after placement
//   exec                       after "pid", receive a prepared process and
//                              exec it here, without starting Go (execproc.c)
// Replies: Maps (please write maps, answered by MapsOK), Pid with the
// SCM_CREDENTIALS of the process that returns to Go, or Error.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsexec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define MAX_JOINS 16
#define MSG_MAX 8192

// The RLIMIT_NOFILE soft limit before the Go runtime raises it, so init can
// hand the container the limit it was started with.
unsigned long long myrun_orig_nofile_cur = 0;

int myrun_sync_fd = -1;
#define sync_fd myrun_sync_fd
#define bail myrun_bail

// The fuzz targets (fuzz/) include this file with MYRUN_FUZZ defined: they
// bring their own myrun_bail, which returns to the harness, and run no
// constructor.
static const char *msg_name(uint32_t type)
{
	switch (type) {
	case MYRUN_MSG_BOOTSTRAP:
		return "bootstrap";
	case MYRUN_MSG_MAPS_OK:
		return "maps-ok";
	case MYRUN_MSG_EXEC_PROCESS:
		return "exec-process";
	}
	return "message";
}

// send_msg sends one message, with the sender's credentials when cred is
// set; 0 or -1 with errno.
static int send_msg(uint32_t type, const char *payload, const struct ucred *cred)
{
	struct myrun_msg_hdr h = { .type = type, .len = payload ? (uint32_t)strlen(payload) : 0 };
	struct iovec iov[2] = { { .iov_base = &h, .iov_len = sizeof(h) } };
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = h.len ? 2 : 1 };
	struct cmsghdr *cmsg;

	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = h.len;
	if (cred != NULL) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_CREDENTIALS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(*cred));
		memcpy(CMSG_DATA(cmsg), cred, sizeof(*cred));
	}
	return sendmsg(sync_fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

#ifndef MYRUN_FUZZ
void myrun_bail(const char *fmt, ...)
{
	char msg[512];
	size_t off;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	off = strlen(msg);
	if (errno != 0)
		snprintf(msg + off, sizeof(msg) - off, ": %s", strerror(errno));
	if (sync_fd >= 0)
		(void)send_msg(MYRUN_MSG_ERROR, msg, NULL);
	_exit(1);
}
#endif

// check_msg checks that a packet of n bytes starts a message of type want
// and returns the message's payload length, of which the packet holds all
// or the beginning (the rest follows in packets of their own, as syncproto
// says); it bails otherwise. It reads only pkt's header: the fuzz target
// (fuzz/) calls it on arbitrary input.
static size_t check_msg(const char *pkt, size_t n, uint32_t want)
{
	struct myrun_msg_hdr h;

	errno = 0;
	if (n < sizeof(h))
		bail("nsexec: short message (%zu bytes) instead of %s", n, msg_name(want));
	memcpy(&h, pkt, sizeof(h));
	if (h.type != want)
		bail("nsexec: expected %s, got message type %u", msg_name(want), h.type);
	if (h.len < n - sizeof(h))
		bail("nsexec: %s message says %u payload bytes, has %zu", msg_name(want), h.len,
		     n - sizeof(h));
	return h.len;
}

static ssize_t recv_packet(void *buf, size_t size, int flags)
{
	ssize_t n;

	do {
		n = recv(sync_fd, buf, size, flags);
	} while (n < 0 && errno == EINTR);
	return n;
}

char *myrun_recv_msg(uint32_t want, size_t max, size_t *len)
{
	char hdr[sizeof(struct myrun_msg_hdr)];
	size_t size, off;
	ssize_t n;
	char *buf;

	// The first packet's header and size (MSG_TRUNC), to allocate just
	// the message.
	n = recv_packet(hdr, sizeof(hdr), MSG_PEEK | MSG_TRUNC);
	if (n <= 0) {
		errno = n < 0 ? errno : 0;
		bail("nsexec: waiting for %s%s", msg_name(want),
		     n == 0 ? ": the runtime closed the sync socket" : "");
	}
	*len = check_msg(hdr, (size_t)n, want);
	if (*len > max) {
		errno = 0;
		bail("nsexec: %s message too large (%zu bytes)", msg_name(want), *len);
	}
	size = sizeof(hdr) + *len;
	buf = malloc(size + 1);
	if (buf == NULL)
		bail("nsexec: malloc");
	for (off = 0; off < size; off += (size_t)n) {
		// MSG_TRUNC: the packet's length even when longer than asked.
		n = recv_packet(buf + off, size - off, MSG_TRUNC);
		if (n <= 0) {
			errno = n < 0 ? errno : 0;
			bail("nsexec: reading %s", msg_name(want));
		}
		if ((size_t)n > size - off) {
			errno = 0;
			bail("nsexec: %s message continues past its %zu bytes", msg_name(want), size);
		}
	}
	buf[size] = '\0';
	return buf + sizeof(hdr);
}

// myrun_send_cmsg sends payload with one control message (SCM_RIGHTS or
// SCM_CREDENTIALS) carrying len bytes of data.
int myrun_send_cmsg(int sock, const char *payload, int type, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = strlen(payload) };
	struct msghdr msg = { 0 };
	struct cmsghdr *cmsg;

	if (len > sizeof(struct ucred)) {
		errno = EINVAL;
		return -1;
	}
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = CMSG_SPACE(len);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = type;
	cmsg->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cmsg), data, len);
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

// send_pid reports the pid of the process that will become the container
// process. The kernel translates SCM_CREDENTIALS into the receiver's pid
// namespace, which a plain number could not be after joining another one.
static void send_pid(void)
{
	struct ucred cred = { .pid = getpid(), .uid = getuid(), .gid = getgid() };

	if (send_msg(MYRUN_MSG_PID, NULL, &cred) < 0)
		bail("nsexec: send pid");
}

static void become_root(void)
{
	if (setresgid(0, 0, 0) < 0)
		bail("nsexec: setresgid(0)");
	if (setresuid(0, 0, 0) < 0)
		bail("nsexec: setresuid(0)");
}

struct join {
	int flag;
	int fd;
	const char *path;
};

// close_from closes every fd from first up. close_range(2) where the
// kernel has it, else one by one up to the fd limit.
static void close_from(unsigned int first)
{
	struct rlimit rl;

	if (syscall(SYS_close_range, first, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > (1U << 20))
		rl.rlim_cur = 1U << 20;
	for (unsigned long fd = first; fd < rl.rlim_cur; fd++)
		close((int)fd);
}

// The bootstrap message, parsed.
struct bootstrap {
	unsigned long clone_flags;
	struct join joins[MAX_JOINS];
	int njoins, want_maps, want_place, want_exec;
	char timens[512];
};

// parse_bootstrap reads the message's lines into b (zeroed by the caller)
// and bails on a bad one. It opens nothing: the fuzz target (fuzz/) calls
// it on arbitrary input.
static void parse_bootstrap(char *buf, struct bootstrap *b)
{
	char *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "clone ", 6) == 0) {
			b->clone_flags = strtoul(line + 6, NULL, 10);
		} else if (strncmp(line, "join ", 5) == 0) {
			char *end = NULL;
			long flag = strtol(line + 5, &end, 10);

			if (end == NULL || *end != ' ' || b->njoins >= MAX_JOINS) {
				errno = 0;
				bail("nsexec: bad join line");
			}
			b->joins[b->njoins].flag = (int)flag;
			b->joins[b->njoins].fd = -1;
			b->joins[b->njoins].path = end + 1;
			b->njoins++;
		} else if (strcmp(line, "maps") == 0) {
			b->want_maps = 1;
		} else if (strcmp(line, "place") == 0) {
			b->want_place = 1;
		} else if (strcmp(line, "exec") == 0) {
			b->want_exec = 1;
		} else if (strncmp(line, "timens ", 7) == 0) {
			size_t used = strlen(b->timens);

			if (used + strlen(line + 7) + 2 > sizeof(b->timens)) {
				errno = 0;
				bail("nsexec: timens offsets too long");
			}
			strcat(b->timens, line + 7);
			strcat(b->timens, "\n");
		} else {
			errno = 0;
			bail("nsexec: unknown bootstrap line %.32s", line);
		}
	}
}

#ifdef MYRUN_FUZZ
#define CONSTRUCTOR __attribute__((unused))
#else
#define CONSTRUCTOR __attribute__((constructor))
#endif

// hold is the placeholder process (hold.go): only stdin, whose closing
// ends us, was passed.
static void hold(void)
{
	char c;

	close_from(1);
	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

// take_fds finds the sync socket and closes every fd the parent did not
// pass on purpose; 0 when we were not started by the runtime.
static int take_fds(void)
{
	const char *env = getenv("_MYRUN_SYNCFD");

	if (env == NULL || *env == '\0')
		return 0;
	sync_fd = atoi(env);
	if (sync_fd < 3)
		bail("nsexec: bad _MYRUN_SYNCFD %s", env);
	env = getenv("_MYRUN_KEEPFDS");
	if (env == NULL || atoi(env) <= sync_fd) {
		errno = 0;
		bail("nsexec: bad _MYRUN_KEEPFDS %s", env ? env : "(unset)");
	}
	close_from((unsigned int)atoi(env));
	return 1;
}

// join_one setns()es into one namespace that is not the user namespace;
// it returns -1 with errno set on failure.
static int join_one(struct join *j, int *need_fork)
{
	if (setns(j->fd, j->flag) < 0)
		return -1;
	if (j->flag == CLONE_NEWPID || j->flag == CLONE_NEWTIME)
		*need_fork = 1;
	close(j->fd);
	j->fd = -1;
	return 0;
}

// join_namespaces setns()es into b's namespace files. With a user
// namespace to join, the others are tried first while we still have our
// own capabilities: a namespace the joined user namespace does not own
// (EPERM from inside it) can only be joined from here. Those that fail
// with EPERM are joined after the user namespace, whose capabilities a
// rootless caller needs. It returns whether a pid or time namespace was
// joined (they apply to children only).
static int join_namespaces(struct bootstrap *b)
{
	struct join *joins = b->joins;
	int need_fork = 0, user = -1;

	// Open every path before joining any namespace: after joining the
	// mount namespace the paths would resolve in the container.
	for (int i = 0; i < b->njoins; i++) {
		joins[i].fd = open(joins[i].path, O_RDONLY | O_CLOEXEC);
		if (joins[i].fd < 0)
			bail("nsexec: open namespace %s", joins[i].path);
		if (joins[i].flag == CLONE_NEWUSER)
			user = i;
	}
	if (user >= 0) {
		for (int i = 0; i < b->njoins; i++) {
			if (i != user && join_one(&joins[i], &need_fork) < 0 && errno != EPERM)
				bail("nsexec: setns namespace type %#x", joins[i].flag);
		}
		if (setns(joins[user].fd, CLONE_NEWUSER) < 0)
			bail("nsexec: setns user namespace");
		become_root();
		close(joins[user].fd);
		joins[user].fd = -1;
	}
	for (int i = 0; i < b->njoins; i++) {
		if (joins[i].fd >= 0 && join_one(&joins[i], &need_fork) < 0)
			bail("nsexec: setns namespace type %#x", joins[i].flag);
	}
	return need_fork;
}

// new_user_namespace unshares a user namespace and has the parent write its
// maps when asked to.
static void new_user_namespace(struct bootstrap *b)
{
	size_t n;

	// The parent writes our maps through /proc/<pid>/; a non-dumpable
	// process's /proc files belong to root, which an unprivileged parent
	// is not.
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		bail("nsexec: PR_SET_DUMPABLE");
	if (unshare(CLONE_NEWUSER) < 0)
		bail("nsexec: unshare user namespace");
	if (b->want_maps) {
		if (send_msg(MYRUN_MSG_MAPS, NULL, NULL) < 0)
			bail("nsexec: send maps");
		myrun_recv_msg(MYRUN_MSG_MAPS_OK, 0, &n);
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("nsexec: PR_SET_DUMPABLE");
	become_root();
}

// open_timens opens /proc/self/timens_offsets for b's time offsets, now, in
// the host's namespaces: the kernel checks CAP_SYS_TIME with the opener's
// credentials, which hold it over the new namespace's owner; and opened
// later, inside a user namespace, the /proc file of a non-dumpable process
// belongs to the host's root and cannot be opened at all (EACCES).
// Dumpable for the open only: nothing of the container's can see us yet.
// Returns -1 when there are no offsets.
static int open_timens(const struct bootstrap *b)
{
	int fd;

	if (b->timens[0] == '\0')
		return -1;
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		bail("nsexec: PR_SET_DUMPABLE");
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bail("nsexec: open /proc/self/timens_offsets");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("nsexec: PR_SET_DUMPABLE");
	return fd;
}

// new_namespaces creates b's other namespaces (the cgroup namespace is Go
// init's when the parent places us late). It returns whether a pid or
// time namespace was created.
static int new_namespaces(struct bootstrap *b, int timens_fd)
{
	unsigned long rest = b->clone_flags & ~(unsigned long)CLONE_NEWUSER;

	if (b->want_place)
		rest &= ~(unsigned long)CLONE_NEWCGROUP;
	if (rest) {
		if (unshare((int)rest) < 0)
			bail("nsexec: unshare namespaces %#lx", rest);
	}
	if (timens_fd >= 0) {
		size_t len = strlen(b->timens);

		if (write(timens_fd, b->timens, len) != (ssize_t)len)
			bail("nsexec: write /proc/self/timens_offsets (linux.timeOffsets)");
		close(timens_fd);
	}
	return (b->clone_flags & (CLONE_NEWPID | CLONE_NEWTIME)) != 0;
}

CONSTRUCTOR static void nsexec(void)
{
	static struct bootstrap b;
	int need_fork, timens_fd;
	struct rlimit rl;
	size_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		myrun_orig_nofile_cur = rl.rlim_cur;
	if (getenv("_MYRUN_HOLD") != NULL)
		hold();
	if (!take_fds())
		return;
	// No core dumps and no ptrace/proc access from the container to a
	// process that still holds host resources.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("nsexec: PR_SET_DUMPABLE");

	parse_bootstrap(myrun_recv_msg(MYRUN_MSG_BOOTSTRAP, MSG_MAX, &n), &b);
	timens_fd = open_timens(&b);
	need_fork = join_namespaces(&b);
	if (b.clone_flags & CLONE_NEWUSER)
		new_user_namespace(&b);
	need_fork |= new_namespaces(&b, timens_fd);

	// A new pid or time namespace applies to children only: fork once,
	// and let the intermediate exit. The parent is a child subreaper when
	// it needs to wait for the container process.
	if (need_fork) {
		pid_t child = fork();

		if (child < 0)
			bail("nsexec: fork");
		if (child > 0)
			_exit(0);
	}
	if (setsid() < 0)
		bail("nsexec: setsid");
	send_pid();
	if (b.want_exec)
		myrun_exec_process();
	errno = 0;
}
