// Package nsexec holds the C constructor that runs before the Go runtime in
// `myrun init` and the parent side's encoder for its bootstrap message.
//
// Import it (blank) from the myrun main package so the constructor is linked.
package nsexec

/*
#cgo CFLAGS: -Wall -Wextra -Werror
#include "nsexec.h"
extern unsigned long long myrun_orig_nofile_cur;
*/
import "C"

// The message types the constructor speaks, as nsexec.h numbers them;
// syncproto's tests check them against syncproto.Type (this package may
// not import it: both are leaves).
const (
	MsgBootstrap   = C.MYRUN_MSG_BOOTSTRAP
	MsgMaps        = C.MYRUN_MSG_MAPS
	MsgMapsOK      = C.MYRUN_MSG_MAPS_OK
	MsgPid         = C.MYRUN_MSG_PID
	MsgExecProcess = C.MYRUN_MSG_EXEC_PROCESS
	MsgError       = C.MYRUN_MSG_ERROR
)

// SyncFdEnv names the environment variable that tells the constructor which
// fd is the sync socket; without it the constructor does nothing.
const SyncFdEnv = "_MYRUN_SYNCFD"

// KeepFdsEnv tells the constructor how many fds (0..N-1) the parent passed
// on purpose; it closes every fd above them before anything else.
const KeepFdsEnv = "_MYRUN_KEEPFDS"

// NoRseqEnv is in init's environment: glibc, reading it at start-up,
// registers no rseq area for init's threads. Init's Go runtime creates
// threads (pthread_create) while the container's seccomp filter may be
// loaded already, and glibc aborts a new thread whose rseq(2) fails when
// the first thread's succeeded ("Fatal glibc error: rseq registration
// failed"), as it does under a profile that answers unlisted calls with
// an errno and does not list rseq (runtime-tools' default: 9 of 2200
// creates under load). With no registration in the first thread, no
// later one tries. The user's process gets process.env at execve, not
// this.
const NoRseqEnv = NoRseqVar + "=glibc.pthread.rseq=0"

// NoRseqVar is NoRseqEnv's variable; init unsets it once running.
const NoRseqVar = "GLIBC_TUNABLES"

// OrigNofileCur is the RLIMIT_NOFILE soft limit the process was started with,
// before the Go runtime raised it to the hard limit.
func OrigNofileCur() uint64 {
	return uint64(C.myrun_orig_nofile_cur)
}
