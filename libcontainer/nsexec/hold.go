package nsexec

import (
	"fmt"
	"os"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// holdEnv makes the constructor a placeholder: it waits for stdin to close
// and exits, before the Go runtime starts.
const holdEnv = "_MYRUN_HOLD"

// NewUserNamespace returns a handle on a new user namespace with the given
// maps, for idmapped mounts. A user namespace lives only while a process or
// a handle holds it, so our binary is started in one as a placeholder (in
// the constructor, no Go runtime), the handle opened, and the placeholder
// ended.
func NewUserNamespace(uids, gids []rspec.LinuxIDMapping) (*os.File, error) {
	if len(uids) == 0 || len(gids) == 0 {
		return nil, fmt.Errorf("both uid and gid mappings are required")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	defer w.Close()
	attr := &syscall.ProcAttr{
		Env:   holdEnviron(),
		Files: []uintptr{r.Fd()},
		Sys: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: sysMaps(uids),
			GidMappings: sysMaps(gids),
			// With setgroups denied, gid_map needs no CAP_SETGID; the
			// namespace is only ever a mount's idmapping, never entered.
			GidMappingsEnableSetgroups: false,
			Pdeathsig:                  syscall.SIGKILL,
		},
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"myrun-userns-hold"}, attr)
	if err != nil {
		return nil, fmt.Errorf("starting a user namespace placeholder: %w", err)
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	w.Close()
	var ws unix.WaitStatus
	for {
		if _, werr := unix.Wait4(pid, &ws, 0, nil); werr != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the placeholder's user namespace: %w", err)
	}
	return ns, nil
}

// holdEnviron is the placeholder's environment, with the caller's signal
// mask when ours is not (sigfwd.go).
func holdEnviron() []string {
	if e := ChildEnv(); e != "" {
		return []string{holdEnv + "=1", e}
	}
	return []string{holdEnv + "=1"}
}

func sysMaps(m []rspec.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}
