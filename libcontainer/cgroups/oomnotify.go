package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// NotifyOOM wakes the caller when the memory controller of the cgroup
// reports an OOM event, instead of polling: an eventfd registered through
// cgroup.event_control for memory.oom_control (v1; it also fires when the
// cgroup is removed), or inotify on memory.events (v2). The channel gets a
// value per wake-up (coalesced) and is closed once the cgroup is gone;
// stop releases everything. The caller reads OOMKills to see what changed.
func NotifyOOM(paths map[string]string) (wake <-chan struct{}, stop func(), err error) {
	if dir, ok := paths["memory"]; ok {
		return notifyV1(dir)
	}
	for _, k := range []string{"", "unified"} {
		if dir, ok := paths[k]; ok && fileExists(filepath.Join(dir, "memory.events")) {
			return notifyV2(dir)
		}
	}
	return nil, nil, errors.New("cgroups: no memory controller to watch for OOM")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func notifyV1(dir string) (<-chan struct{}, func(), error) {
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, nil, err
	}
	defer ctl.Close() // the kernel holds its own reference once registered
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, nil, err
	}
	ev := os.NewFile(uintptr(efd), "oom-eventfd") // pollable: Close wakes Read
	reg := fmt.Sprintf("%d %d", efd, ctl.Fd())
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg), 0); err != nil {
		ev.Close()
		return nil, nil, err
	}
	return pump(ev, func() bool { return !fileExists(filepath.Join(dir, "cgroup.procs")) })
}

func notifyV2(dir string) (<-chan struct{}, func(), error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, nil, err
	}
	in := os.NewFile(uintptr(fd), "oom-inotify")
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, "memory.events"), unix.IN_MODIFY); err != nil {
		in.Close()
		return nil, nil, err
	}
	// The kernel removes a cgroup's files without an inotify event on
	// them: only the rmdir of the directory itself is seen, as
	// IN_DELETE_SELF on it and IN_DELETE in its parent.
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_DELETE_SELF|unix.IN_ONLYDIR); err != nil {
		in.Close()
		return nil, nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(dir), unix.IN_DELETE|unix.IN_ONLYDIR); err != nil {
		in.Close()
		return nil, nil, err
	}
	return pump(in, func() bool { return !fileExists(filepath.Join(dir, "memory.events")) })
}

// pump turns reads of f into wake-ups until gone() or stop.
func pump(f *os.File, gone func() bool) (<-chan struct{}, func(), error) {
	wake := make(chan struct{}, 1)
	go func() {
		defer close(wake)
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return // stopped
			}
			if gone() {
				return
			}
			select {
			case wake <- struct{}{}:
			default: // one pending wake-up is enough
			}
		}
	}()
	return wake, func() { f.Close() }, nil
}
