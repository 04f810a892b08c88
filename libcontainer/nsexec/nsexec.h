// Shared by the constructor (nsexec.c) and its exec path (execproc.c).
#ifndef MYRUN_NSEXEC_H
#define MYRUN_NSEXEC_H

#include <stddef.h>

extern int myrun_sync_fd;

// myrun_bail sends "error <message>[: strerror(errno)]" on the sync socket
// and exits 1.
void myrun_bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

// myrun_send_cmsg sends payload with one SCM_RIGHTS or SCM_CREDENTIALS
// control message of len bytes; 0 or -1 with errno.
int myrun_send_cmsg(int sock, const char *payload, int type, const void *data, size_t len);

// myrun_exec_process receives the prepared process from the parent and
// execs it; it returns only by exiting.
void myrun_exec_process(void) __attribute__((noreturn));

#endif
