// Shared by the constructor (nsexec.c) and its exec path (execproc.c).
#ifndef MYRUN_NSEXEC_H
#define MYRUN_NSEXEC_H

#include <stddef.h>
#include <stdint.h>

extern int myrun_sync_fd;

// The sync socket's framing (libcontainer/syncproto, whose package comment
// has the whole exchange): every message is a header, then len bytes of
// payload, in host byte order; what does not fit in the header's packet
// follows in packets of payload only. The numbers are syncproto.Type's;
// nsexec.go fails to build when the two lists differ.
struct myrun_msg_hdr {
	uint32_t type;
	uint32_t len;
};

enum myrun_msg_type {
	MYRUN_MSG_BOOTSTRAP = 1, // parent -> us: text lines (nsexec.c)
	MYRUN_MSG_MAPS = 2, // us -> parent: write our uid/gid maps
	MYRUN_MSG_MAPS_OK = 3, // parent -> us
	MYRUN_MSG_PID = 4, // us -> parent, with SCM_CREDENTIALS
	MYRUN_MSG_EXEC_PROCESS = 5, // parent -> us: key=value fields (execproc.c)
	MYRUN_MSG_ERROR = 10, // us -> parent: the error's text
};

// myrun_bail sends an error message "<message>[: strerror(errno)]" on the
// sync socket and exits 1.
void myrun_bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

// myrun_recv_msg receives one message of type want with at most max bytes
// of payload and returns the payload, NUL-terminated, in memory that is
// never freed (the process exits or execs soon); *len is its length. It
// bails on anything else, including EOF.
char *myrun_recv_msg(uint32_t want, size_t max, size_t *len);

// myrun_send_cmsg sends payload with one SCM_RIGHTS or SCM_CREDENTIALS
// control message of len bytes; 0 or -1 with errno.
int myrun_send_cmsg(int sock, const char *payload, int type, const void *data, size_t len);

// myrun_exec_process receives the prepared process from the parent and
// execs it; it returns only by exiting.
void myrun_exec_process(void) __attribute__((noreturn));

#endif
