package main

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// hiddenUnified is an OS thread in a private mount namespace where
// /sys/fs/cgroup/unified is covered by a tmpfs. crun 1.8 refuses hybrid
// hosts; processes forked from this thread see a v1 host. crun still
// writes cgroup.procs under unified/ (for the 0:: line of /proc/self/cgroup),
// so the tmpfs must have room for those small files. Doing it on
// a thread (instead of wrapping crun in `unshare -m sh -c ...`) keeps the
// extra execs out of crun's timings.
type hiddenUnified struct {
	req chan func()
	tid int
}

const unifiedDir = "/sys/fs/cgroup/unified"

func newHiddenUnified() (*hiddenUnified, error) {
	h := &hiddenUnified{req: make(chan func())}
	errc := make(chan error)
	go func() {
		// Never unlocked: the thread is tainted and must die with us.
		runtime.LockOSThread()
		err := unix.Unshare(unix.CLONE_NEWNS)
		if err == nil {
			err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
		}
		if err == nil && isCgroup2(unifiedDir) {
			err = unix.Mount("tmpfs", unifiedDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755")
		}
		h.tid = unix.Gettid()
		errc <- err
		if err != nil {
			return
		}
		for f := range h.req {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("private mount namespace for crun: %w", err)
	}
	return h, nil
}

// do runs f on the namespaced thread and waits for it.
func (h *hiddenUnified) do(f func()) {
	done := make(chan struct{})
	h.req <- func() { f(); close(done) }
	<-done
}

// mountinfo is the path of this thread's mount table (for the leak check).
func (h *hiddenUnified) mountinfo() string {
	return fmt.Sprintf("/proc/self/task/%d/mountinfo", h.tid)
}

func isCgroup2(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
