package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// rtime is one OCI runtime under test, with its own --root.
type rtime struct {
	Name  string
	Bin   string
	Root  string
	sp    *spawner // crun's runs in a mount namespace without cgroup2
	Size  int64
	Err   error // set when the runtime failed and is dropped
	fails int
}

func (rt *rtime) argv(args ...string) []string {
	return append([]string{rt.Bin, "--root", rt.Root}, args...)
}

func (b *bench) exec(rt *rtime, args ...string) result {
	return rt.sp.run(rt.argv(args...))
}

// findRuntimes resolves the binaries that exist; missing ones are reported
// and skipped so a partial run still prints a table.
func (b *bench) findRuntimes(names []string) []*rtime {
	var out []*rtime
	for _, n := range names {
		bin := n
		switch n {
		case "myrun":
			bin = b.myrun
		}
		p, err := exec.LookPath(bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s not found (%v): skipped\n", n, err)
			continue
		}
		p, _ = filepath.Abs(p)
		rt := &rtime{Name: n, Bin: p, Root: filepath.Join(b.stateDir, n)}
		if fi, err := os.Stat(p); err == nil {
			rt.Size = fi.Size()
		}
		sp, err := b.spawnerFor(n == "crun")
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v: skipped\n", n, err)
			continue
		}
		rt.sp = sp
		if err := os.MkdirAll(rt.Root, 0o700); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", n, err)
			continue
		}
		out = append(out, rt)
	}
	return out
}

// ok records a failure; a runtime that keeps failing is dropped with its
// last error so the others still get measured.
func (b *bench) ok(rt *rtime, res result) bool {
	if res.Err == nil {
		return true
	}
	rt.fails++
	fmt.Fprintf(os.Stderr, "bench: %s: %v\n", rt.Name, res.Err)
	if rt.fails >= 3 && rt.Err == nil {
		rt.Err = res.Err
		fmt.Fprintf(os.Stderr, "bench: %s: too many failures, dropped from the remaining runtime benchmarks\n", rt.Name)
	}
	return false
}

// bundleFor writes a bundle for container id and returns its directory.
func (b *bench) bundleFor(rt *rtime, id string, args []string) (string, error) {
	dir := filepath.Join(b.work, "bundles", id)
	cg := fmt.Sprintf("/%s/%s", b.cgParent, id)
	return dir, writeBundle(dir, benchSpec(b.rootfs, args), cg)
}

// containerPid reads the pid file written by create.
func containerPid(path string) (int, error) {
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(path)
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("pid file %s not written", path)
}

// stateStatus parses `state` output.
func stateStatus(out string) (string, int, error) {
	var st struct {
		Status string `json:"status"`
		Pid    int    `json:"pid"`
	}
	err := json.Unmarshal([]byte(out), &st)
	return st.Status, st.Pid, err
}

// unifiedDir is the hybrid host's cgroup2 mount; crun 1.8 refuses hybrid
// hosts, so its spawner runs in a private mount namespace where a tmpfs
// covers it. crun still writes cgroup.procs files below it (for the 0::
// line of /proc/self/cgroup), which land harmlessly in that tmpfs. The
// wrapper's execs happen once, not per measured command.
const unifiedDir = "/sys/fs/cgroup/unified"

func (b *bench) spawnerFor(hide bool) (*spawner, error) {
	if b.spawnerBin == "" {
		p, err := b.buildSpawner(b.work)
		if err != nil {
			return nil, err
		}
		b.spawnerBin = p
	}
	if !hide {
		if b.hostSp == nil {
			sp, err := b.startSpawner([]string{b.spawnerBin})
			if err != nil {
				return nil, err
			}
			b.hostSp = sp
		}
		return b.hostSp, nil
	}
	if b.crunSp == nil {
		script := "exec \"$0\""
		if isCgroup2(unifiedDir) {
			script = "mount -t tmpfs -o mode=0755 bench-hide-cgroup2 " + unifiedDir + " && " + script
		}
		sp, err := b.startSpawner([]string{lookup("unshare"), "-m", "--propagation", "private", "/bin/sh", "-c", script, b.spawnerBin})
		if err != nil {
			return nil, err
		}
		b.crunSp = sp
	}
	return b.crunSp, nil
}

func isCgroup2(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
