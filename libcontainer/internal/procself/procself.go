// Package procself reads the calling process's /proc/self/cgroup and its
// mount table through smallfile: the same results as the libraries'
// ParseCgroupFile and GetMounts, without the *os.File those open, whose
// first use in a process also sets up Go's netpoller (an epoll instance,
// an eventfd and an epoll_ctl per file). The container's init reads both
// and otherwise never needs the netpoller.
package procself

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// Cgroups parses a /proc/<pid>/cgroup file as controller -> path (the v2
// entry has key ""; co-mounted controllers each get the path), as
// opencontainers/cgroups' ParseCgroupFile does.
func Cgroups(path string) (map[string]string, error) {
	b, err := smallfile.Read(path)
	if err != nil {
		return nil, err
	}
	return parseCgroups(string(b))
}

func parseCgroups(text string) (map[string]string, error) {
	cgroups := make(map[string]string)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return cgroups, nil
	}
	for line := range strings.SplitSeq(text, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) < 3 {
			return nil, fmt.Errorf("invalid cgroup entry: must contain at least two colons: %v", line)
		}
		for subs := range strings.SplitSeq(parts[1], ",") {
			cgroups[subs] = parts[2]
		}
	}
	return cgroups, nil
}

// Mounts is moby/sys/mountinfo's GetMounts: the calling thread's mount
// table (its mount namespace), filtered. The thread stays locked while
// /proc/thread-self is read, as there.
func Mounts(filter mountinfo.FilterFunc) ([]*mountinfo.Info, error) {
	runtime.LockOSThread()
	b, err := smallfile.Read("/proc/thread-self/mountinfo")
	runtime.UnlockOSThread()
	if errors.Is(err, os.ErrNotExist) {
		b, err = smallfile.Read("/proc/self/mountinfo") // before Linux 3.17
	}
	if err != nil {
		return nil, err
	}
	return mountinfo.GetMountsFromReader(bytes.NewReader(b), filter)
}
