package container

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/myrun-org/myrun/imgtool/userns"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
)

// PauseCommand is the hidden myimg subcommand that holds a rootless
// container's user and network namespaces.
const PauseCommand = "container-pause"

// startPause starts the pause process of a rootless container in a new
// user namespace (container root = us) and network namespace, and points
// the bundle's config.json at its namespaces. The returned file is the
// pause's stdin: when it closes (the monitor exits or dies) the pause
// exits.
func (cs *Manager) startPause(r *Record) (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer inR.Close()
	rp, wp, err := os.Pipe()
	if err != nil {
		inW.Close()
		return nil, err
	}
	defer rp.Close()
	cmd := exec.Command(self, PauseCommand)
	cmd.Stdin = inR
	cmd.ExtraFiles = []*os.File{wp}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET}
	if r.IDMaps != nil && r.IDMaps.Multi() {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
		err = userns.Start(cmd, *r.IDMaps, 0)
	} else {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		err = cmd.Start()
	}
	if err != nil {
		inW.Close()
		wp.Close()
		return nil, fmt.Errorf("start pause process: %w", err)
	}
	wp.Close()
	msg, pid, st := readReady(cmd, rp)
	cs.Update(r.ID, func(r *Record) { r.PausePid, r.PauseTime = pid, st })
	r.PausePid, r.PauseTime = pid, st
	if msg != "ok" {
		inW.Close()
		killVerified(pid, st, syscall.SIGKILL)
		return nil, fmt.Errorf("pause process: %s", msg)
	}
	s, err := readSpec(r.Bundle)
	if err == nil {
		joinPause(s, pid)
		err = writeSpec(r.Bundle, s)
	}
	if err != nil {
		inW.Close()
		return nil, err
	}
	return inW, nil
}

// joinPause makes the container join the pause's user and network
// namespaces instead of creating them. The id mappings stay: they are the
// pause's, and runc 1.1 refuses a joined user namespace without them
// ("no uid mappings found"); myrun checks them against the namespace.
func joinPause(s *rspec.Spec, pid int) {
	var ns []rspec.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != rspec.UserNamespace && n.Type != rspec.NetworkNamespace {
			ns = append(ns, n)
		}
	}
	proc := filepath.Join("/proc", fmt.Sprint(pid), "ns")
	s.Linux.Namespaces = append([]rspec.LinuxNamespace{
		{Type: rspec.UserNamespace, Path: filepath.Join(proc, "user")},
		{Type: rspec.NetworkNamespace, Path: filepath.Join(proc, "net")},
	}, ns...)
}

// ServePause is the pause process: inside its new namespaces it brings
// lo up, reports "ok" on ready and waits until stdin closes.
func ServePause(ready *os.File) error {
	msg := "ok"
	if lo, err := netlink.LinkByName("lo"); err != nil {
		msg = "lo: " + err.Error()
	} else if err := netlink.LinkSetUp(lo); err != nil {
		msg = "lo up: " + err.Error()
	}
	fmt.Fprintln(ready, msg)
	ready.Close()
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			return nil
		}
	}
}
