package libcontainer

import (
	"fmt"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/internal/rlimits"
	"github.com/myrun-org/myrun/libcontainer/caps"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/seccomp"
)

// ExecGoInitEnv, set to 1 in myrun's environment, sends every exec
// through Go init: a debug knob, and the switch of the parity test
// (conformance/integration TestFinishParity) that runs one process
// through both appliers of nsexec.Finish.
const ExecGoInitEnv = "_MYRUN_EXEC_GO_INIT"

// maxConstructorExec bounds the prepared process sent in one packet; a
// bigger one (a huge environment) goes through Go init.
const maxConstructorExec = 128 << 10

// constructorExec prepares an exec'd process for the constructor to exec
// itself (nsexec/execproc.c) instead of starting Go in the container: that
// second Go runtime was a third of exec's wall time and a quarter of its
// CPU. Capability masks, rlimit numbers and the seccomp program are
// resolved here; the C side only applies them, in Go init's order. spawn
// fills in the console fd. It returns nil when the process needs Go init:
// an AppArmor profile or SELinux label, a seccomp listener whose fd must
// reach the agent, scheduling attributes, a personality or a memory
// policy (rare; Go init applies them), or a packet too big for one
// message.
func (r *Runtime) constructorExec(p *rspec.Process, spec *rspec.Spec, preserve int) (*nsexec.ExecProcess, error) {
	if os.Getenv(ExecGoInitEnv) == "1" || p.ApparmorProfile != "" || p.SelinuxLabel != "" || p.IOPriority != nil || p.Scheduler != nil ||
		(spec.Linux != nil && (spec.Linux.Personality != nil || spec.Linux.MemoryPolicy != nil)) {
		return nil, nil
	}
	env, needHome := nsexec.Env(p.Env)
	x := &nsexec.ExecProcess{
		Args: p.Args, Env: env, Cwd: p.Cwd, LookupHome: needHome,
		UID: p.User.UID, GID: p.User.GID, AdditionalGids: p.User.AdditionalGids, Umask: p.User.Umask,
		NoNewPrivs: p.NoNewPrivileges, FirstFd: 3 + preserve,
		Terminal: p.Terminal, ConsoleFd: -1,
	}
	if p.ConsoleSize != nil {
		x.Rows, x.Cols = p.ConsoleSize.Height, p.ConsoleSize.Width
	}
	if x.Cwd == "" {
		x.Cwd = "/"
	}
	for i, l := range p.Rlimits {
		res, ok := rlimits.Resources[l.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, l.Type)
		}
		x.Rlimits = append(x.Rlimits, nsexec.Rlimit{Resource: res, Soft: l.Soft, Hard: l.Hard, Name: l.Type})
	}
	// Our bounding set is the one init would have: joining namespaces
	// does not change it.
	c, err := caps.New(p.Capabilities)
	if err != nil {
		return nil, err
	}
	if x.Caps, x.LastCap, err = c.Masks(); err != nil {
		return nil, err
	}
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		f, err := seccomp.Build(spec.Linux.Seccomp)
		if err != nil {
			return nil, err
		}
		if f != nil {
			prog, flags, ok := f.Raw()
			if !ok {
				return nil, nil
			}
			x.SeccompProgram, x.SeccompFlags = prog, flags
		}
	}
	// Encoded once here for its checks; spawn encodes it again with the
	// console fd.
	msg, err := x.Encode()
	if err != nil || len(msg) > maxConstructorExec {
		return nil, err
	}
	c.WarnDropped(r.Log)
	r.Log.Debug("exec in the constructor", "args", p.Args, "cwd", x.Cwd, "uid", x.UID, "gid", x.GID,
		"additional_gids", x.AdditionalGids, "caps", fmt.Sprintf("%#x", x.Caps), "rlimits", len(x.Rlimits),
		"no_new_privs", x.NoNewPrivs, "terminal", x.Terminal, "seccomp_instructions", len(x.SeccompProgram)/8)
	return x, nil
}
