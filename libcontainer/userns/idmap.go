// Package userns writes uid/gid maps for a process that just created a user
// namespace: directly when we may, through newuidmap/newgidmap otherwise.
package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
)

func format(m []rspec.LinuxIDMapping) string {
	var sb strings.Builder
	for _, e := range m {
		fmt.Fprintf(&sb, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return sb.String()
}

// WriteMaps writes uid and gid maps for pid. Rootless callers whose maps go
// beyond their own single id need the setuid helpers from uidmap.
func WriteMaps(pid int, uids, gids []rspec.LinuxIDMapping, rootless bool) error {
	if len(uids) == 0 || len(gids) == 0 {
		return fmt.Errorf("linux.uidMappings and linux.gidMappings are required for a new user namespace")
	}
	proc := fmt.Sprintf("/proc/%d/", pid)
	if rootless && !onlySelf(uids, os.Getuid()) {
		if err := helper("newuidmap", pid, uids); err != nil {
			return err
		}
	} else if err := os.WriteFile(proc+"uid_map", []byte(format(uids)), 0); err != nil {
		return fmt.Errorf("writing uid_map: %w", err)
	}
	if rootless && !onlySelf(gids, os.Getgid()) {
		return helper("newgidmap", pid, gids)
	}
	if rootless {
		// An unprivileged writer must give up setgroups first.
		if err := os.WriteFile(proc+"setgroups", []byte("deny"), 0); err != nil {
			return fmt.Errorf("writing setgroups: %w", err)
		}
	}
	if err := os.WriteFile(proc+"gid_map", []byte(format(gids)), 0); err != nil {
		return fmt.Errorf("writing gid_map: %w", err)
	}
	return nil
}

func onlySelf(m []rspec.LinuxIDMapping, id int) bool {
	return len(m) == 1 && m[0].Size == 1 && int(m[0].HostID) == id
}

// helper runs newuidmap or newgidmap; its errors name the spec field,
// the package and the file that grant the ranges.
func helper(name string, pid int, m []rspec.LinuxIDMapping) error {
	field, grants := "linux.uidMappings", "/etc/subuid"
	if name == "newgidmap" {
		field, grants = "linux.gidMappings", "/etc/subgid"
	}
	args := []string{strconv.Itoa(pid)}
	for _, e := range m {
		args = append(args, strconv.FormatUint(uint64(e.ContainerID), 10),
			strconv.FormatUint(uint64(e.HostID), 10), strconv.FormatUint(uint64(e.Size), 10))
	}
	cmd := exec.Command(name, args...)
	// A foreground run blocks signals for its signalfd: newuidmap gets
	// the mask myrun was started with.
	nsexec.ViaCallerMask(cmd)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%s: mapping more than your own id needs %s (Debian package uidmap): %w", field, name, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w: %s (the host ranges must be granted to you in %s)",
			field, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)), grants)
	}
	return nil
}

// RunningInUserNS reports whether we are inside a non-initial user namespace.
// Read once per process (every verb asked twice: ten syscalls each): only
// the runtime's side calls it, and that side never changes user namespace.
var RunningInUserNS = sync.OnceValue(runningInUserNS)

func runningInUserNS() bool {
	b, err := smallfile.Read("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}
