package nsexec

import (
	"fmt"
	"strings"
)

// Step is one step of turning the runtime's process into the container's
// process, up to the execve. Two appliers run them: Go init
// (initproc.finishProcess loops over Finish and calls its function for
// each name) and the constructor's exec path (execproc.c, whose
// myrun_exec_process is the X-macro list in finish_steps.h, generated
// from Finish: TestFinishStepsHeader fails when the header is stale, and
// `go test ./libcontainer/nsexec -run TestFinishStepsHeader -args -update`
// rewrites it).
type Step struct {
	Name string
	// GoOnly steps exist only in Go init: the parent sends a process
	// that needs them through Go (libcontainer.constructorExec), or the
	// parent did the work for the constructor (the seccomp program).
	GoOnly bool
}

// Finish is the one order of the finishing steps and, in the comments,
// their one meaning. Changing a step's meaning means changing both
// appliers; the parity test (conformance/integration TestFinishParity)
// runs the same process through both and compares what it sees.
var Finish = []Step{
	// process.terminal: a pty from the container's /dev/ptmx, its master
	// sent to the console socket, the slave (ONLCR off, owned by
	// process.user.uid, process.consoleSize set) our stdio and
	// controlling terminal. Init does it earlier, before the rootfs is
	// finalized, because it also binds the slave to /dev/console.
	{Name: "console"},
	// process.env as runc passes it: one entry per name, the last value
	// at the first one's place (Env). An unset or empty HOME becomes
	// the home of the first /etc/passwd entry (of the container) with
	// the process's uid, even an empty one, or "/" without such an
	// entry; it replaces an empty HOME in place, or is appended.
	{Name: "env"},
	// process.cwd: must be absolute ("/" when unset); chdir, then
	// getcwd must start with "/": a leaked host directory fd reads as
	// "(unreachable)/..." (CVE-2024-21626).
	{Name: "chdir"},
	// process.args[0]: a name with a "/" is used as is; otherwise each
	// entry of the last PATH= of the env, an empty entry meaning ".",
	// and an empty or unset PATH meaning no directory at all (Go's
	// exec.LookPath, which runc uses). A regular file with an x bit
	// for us (faccessat AT_EACCESS); one found relative to the cwd is
	// refused. Errors read as Go's.
	{Name: "lookup"},
	// linux.seccomp compiled to a BPF program while memory is plentiful
	// (RLIMIT_AS comes later). The parent compiles it for the constructor.
	{Name: "seccomp-build", GoOnly: true},
	// Every fd from 3+preserveFds up marked close-on-exec
	// (CVE-2024-21626), now: a seccomp profile may deny close_range.
	{Name: "close-fds"},
	// process.apparmorProfile, process.selinuxLabel for the next execve.
	{Name: "lsm", GoOnly: true},
	// process.rlimits in their order. Without an RLIMIT_NOFILE entry the
	// soft limit we were started with is restored (the Go runtime raises
	// it; the constructor runs before that). The constructor sets them
	// here: nothing it does later allocates, opens an fd or starts a
	// thread. Go init does, so it only checks them here and raises a hard
	// limit that goes up (CAP_SYS_RESOURCE is dropped later), and sets
	// them in "execve"; but when the filter of a later "seccomp-*" step
	// would refuse its prlimit64 it sets them here too.
	{Name: "rlimits"},
	// process.ioPriority, process.scheduler, linux.personality,
	// linux.memoryPolicy.
	{Name: "scheduling", GoOnly: true},
	// Drop every capability outside process.capabilities.bounding; only
	// with CAP_SETPCAP in our effective set (otherwise nothing is dropped).
	{Name: "bounding"},
	// Without process.noNewPrivileges: load the filter now, while we
	// still have CAP_SYS_ADMIN, which the kernel then requires.
	{Name: "seccomp-early"},
	// PR_SET_KEEPCAPS, setgroups(additionalGids) (a denied setgroups is
	// ignored when no group was asked for: rootless), setresgid(gid),
	// setresuid(uid), PR_SET_KEEPCAPS off.
	{Name: "user"},
	// capset(effective, permitted, inheritable), then the ambient set
	// cleared and each ambient capability raised.
	{Name: "caps"},
	// process.user.umask, when set.
	{Name: "umask"},
	// process.noNewPrivileges: PR_SET_NO_NEW_PRIVS.
	{Name: "nnp"},
	// Init only: close the directory fds cached while preparing (it
	// reads /proc/self/fd, which the filter may deny).
	{Name: "close-dir-fds", GoOnly: true},
	// With process.noNewPrivileges: load the filter now, after
	// everything it could deny. For init still before `ready`, as runc
	// does: a listener reaches the agent during create, and the
	// startContainer hooks run under the filter. What follows needs only
	// write, read, close and execve of the profile.
	{Name: "seccomp-late"},
	// Init only: report ready (write(2)), wait for `start` on the exec
	// fifo, run the startContainer hooks (with the container's identity,
	// filter and fds 0-2).
	{Name: "start", GoOnly: true},
	// execve(path, args, env). Go init with process.rlimits left by
	// "rlimits" sets them first, with nothing but raw system calls from
	// the first prlimit64 to execve.
	{Name: "execve"},
}

// StepsHeader renders finish_steps.h: the constructor's steps in order, as
// an X-macro over their C names (dashes become underscores).
func StepsHeader() []byte {
	var b strings.Builder
	b.WriteString("// Code generated from nsexec.Finish by TestFinishStepsHeader -update; DO NOT EDIT.\n")
	b.WriteString("// The constructor's finishing steps in order; see nsexec/finish.go for each one's meaning.\n")
	b.WriteString("#define MYRUN_FINISH_STEPS(X) \\\n")
	var names []string
	for _, s := range Finish {
		if !s.GoOnly {
			names = append(names, "X("+strings.ReplaceAll(s.Name, "-", "_")+")")
		}
	}
	for i, n := range names {
		sep := " \\\n"
		if i == len(names)-1 {
			sep = "\n"
		}
		fmt.Fprintf(&b, "\t%s%s", n, sep)
	}
	return []byte(b.String())
}

// Env is process.env as the process gets it (step "env"): one entry per
// name, the last value at the first one's place, as runc's setenv of
// each entry then os.Environ gives. needHome says HOME is unset or empty;
// SetHome then fills it in.
func Env(env []string) (out []string, needHome bool) {
	at := make(map[string]int, len(env))
	out = make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := at[k]; ok {
			out[i] = kv
			continue
		}
		at[k] = len(out)
		out = append(out, kv)
	}
	i, ok := at["HOME"]
	return out, !ok || out[i] == "HOME="
}

// SetHome puts HOME=home in place of an empty HOME, or appends it.
func SetHome(env []string, home string) []string {
	for i, kv := range env {
		if kv == "HOME=" {
			env[i] = "HOME=" + home
			return env
		}
	}
	return append(env, "HOME="+home)
}
