//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// procOf is /proc/PID/stat's state and parent pid ("" when gone).
func procOf(pid int) (state string, ppid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid
}

// TestRootlessBuildKilledStopsCopy: a rootless build with subordinate
// ids runs as a copy of itself in a user namespace, killed with its
// caller (PDEATHSIG). The gate's exec into the namespace cleared that
// signal (the kernel does for a process that gains capabilities): the
// copy of a build killed with SIGKILL ran on with its RUN step.
func TestRootlessBuildKilledStopsCopy(t *testing.T) {
	u := newRLUser(t)
	u.AddSubIDs()
	rlStorageSetup(t, u)
	ctx := filepath.Join(u.home, "ctxkill")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM appimg\nRUN sleep 1000\n"), 0o644)
	os.Chown(ctx, u.UID, u.GID)
	cmd := exec.Command(filepath.Join(binDir, "myimg"), "--root", filepath.Join(u.home, "store"), "build", ctx)
	cmd.Dir = u.home
	cmd.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "USER=" + u.Name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outer := cmd.Process.Pid
	defer cmd.Wait()
	copyPid, sleepPid := 0, 0
	// Where the copy ran on, so did the RUN container, which the user's
	// Kill may not reach (not dumpable: /proc/PID is root's).
	t.Cleanup(func() {
		for _, pid := range []int{sleepPid, copyPid} {
			if st, _ := procOf(pid); pid > 0 && st != "" && st != "Z" {
				if _, pp := procOf(pid); pid == sleepPid && pp > 1 {
					syscall.Kill(pp, syscall.SIGKILL) // its myrun
				}
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	waitFor(t, "the build's RUN step running", func() bool {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if _, pp := procOf(pid); pp == outer {
				copyPid = pid
			}
			if comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm"); strings.TrimSpace(string(comm)) == "sleep" {
				var st syscall.Stat_t
				if syscall.Stat("/proc/"+e.Name(), &st) == nil && (int(st.Uid) == u.UID || int(st.Uid) >= u.SubStart) {
					sleepPid = pid
					return copyPid != 0
				}
			}
		}
		return false
	})
	if err := syscall.Kill(outer, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitFor(t, "the copy of the killed build ending", func() bool {
		st, _ := procOf(copyPid)
		return st == "" || st == "Z"
	})
}
