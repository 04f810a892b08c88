package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mountSet is the mount points of a mount table (host and crun's namespace).
type mountSet map[string]bool

func readMounts(path string) mountSet {
	m := mountSet{}
	b, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 {
			m[f[4]] = true
		}
	}
	return m
}

func (b *bench) snapshotMounts() map[string]mountSet {
	s := map[string]mountSet{"host": readMounts("/proc/self/mountinfo")}
	if b.crunSp != nil {
		s["crun-ns"] = readMounts(b.crunSp.mountinfo())
	}
	return s
}

// cgroupDirs lists leaf cgroups named like a runtime's containers below our
// parent in every hierarchy.
func (b *bench) cgroupDirs(prefix string) []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + b.cgParent)
	for _, r := range roots {
		ents, _ := os.ReadDir(r)
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				out = append(out, filepath.Join(r, e.Name()))
			}
		}
	}
	return out
}

// benchProcs lists pids whose cgroup is below our parent and whose leaf
// starts with prefix.
func (b *bench) benchProcs(prefix string) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	needle := "/" + b.cgParent + "/" + prefix
	for _, d := range dirs {
		c, err := os.ReadFile(filepath.Join(d, "cgroup"))
		if err != nil || !strings.Contains(string(c), needle) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// leakCheck reports what each runtime left behind after all its containers
// were deleted.
func (b *bench) leakCheck(rts []*rtime, before map[string]mountSet) {
	time.Sleep(200 * time.Millisecond)
	after := b.snapshotMounts()
	var newMounts []string
	for ns, set := range after {
		for m := range set {
			if !before[ns][m] {
				newMounts = append(newMounts, ns+":"+m)
			}
		}
	}
	sort.Strings(newMounts)
	for _, rt := range rts {
		var items []string
		ents, _ := os.ReadDir(rt.Root)
		for _, e := range ents {
			items = append(items, "state:"+e.Name())
		}
		for _, p := range b.benchProcs(rt.Name + "-") {
			items = append(items, fmt.Sprintf("pid:%d", p))
		}
		for _, d := range b.cgroupDirs(rt.Name + "-") {
			items = append(items, "cgroup:"+d)
		}
		for _, m := range newMounts {
			if strings.Contains(m, rt.Root) || strings.Contains(m, "/"+rt.Name+"-") {
				items = append(items, "mount:"+m)
			}
		}
		b.add("leaks (procs+mounts+cgroups+state)", "n", rt.Name, float64(len(items)))
		if len(items) > 0 {
			b.leaks[rt.Name] = items
		}
	}
	var other []string
	for _, m := range newMounts {
		hit := false
		for _, rt := range rts {
			if strings.Contains(m, rt.Root) || strings.Contains(m, "/"+rt.Name+"-") {
				hit = true
			}
		}
		if !hit && (strings.Contains(m, b.work) || strings.Contains(m, b.cgParent)) {
			other = append(other, m)
		}
	}
	if len(other) > 0 {
		b.leaks["(unattributed mounts)"] = other
	}
}

// cleanup removes everything the runtime part created, whatever happened.
func (b *bench) cleanup() {
	for _, rt := range b.rts {
		ents, _ := os.ReadDir(rt.Root)
		for _, e := range ents {
			b.exec(rt, "delete", "--force", e.Name())
		}
	}
	// Processes still in our cgroups are ours: kill them by pid.
	for _, p := range b.benchProcs("") {
		syscall.Kill(p, syscall.SIGKILL)
	}
	time.Sleep(100 * time.Millisecond)
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + b.cgParent)
	for _, r := range roots {
		rmdirTree(r)
	}
	for _, set := range []string{"/proc/self/mountinfo"} {
		for m := range readMounts(set) {
			if strings.HasPrefix(m, b.work+"/") {
				syscall.Unmount(m, syscall.MNT_DETACH)
			}
		}
	}
}

// rmdirTree removes an (empty of processes) cgroup tree bottom-up.
func rmdirTree(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			rmdirTree(filepath.Join(dir, e.Name()))
		}
	}
	for i := 0; i < 20; i++ {
		if err := syscall.Rmdir(dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "bench: could not remove cgroup %s\n", dir)
}
