//go:build integration && vm

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// crLoopProcs counts the processes running crLoop (its sh): a half
// restored tree would add one.
func crLoopProcs() int {
	n := 0
	cmds, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmds {
		if b, err := os.ReadFile(f); err == nil && bytes.Equal(b, []byte("sh\x00-c\x00"+crLoop+"\x00")) {
			n++
		}
	}
	return n
}

// crMyrunOnly skips a test of myrun's own messages and flags
// (--criu-timeout) in the criu-runc suite.
func crMyrunOnly(t *testing.T) {
	if filepath.Base(myrun) == "runc" {
		t.Skip("MYRUN is runc: the bad-input tests check myrun's messages")
	}
}

// crCopyImage copies an image dir and applies hurt to the copy.
func crCopyImage(t *testing.T, src string, hurt func(dir string)) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "img")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	hurt(dst)
	return dst
}

func crTruncate(t *testing.T, glob string, size func(int64) int64) {
	t.Helper()
	m, _ := filepath.Glob(glob)
	if len(m) == 0 {
		t.Fatalf("no %s in the image", glob)
	}
	for _, f := range m {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(f, size(fi.Size())); err != nil {
			t.Fatal(err)
		}
	}
}

// crUntouched checks the container still runs with the same init, counts
// on, and that no other copy of its loop (a half restored tree) runs.
func crUntouched(t *testing.T, b *bundle, pid float64) {
	t.Helper()
	st := b.state()
	if st["status"] != "running" || st["pid"] != pid {
		t.Fatalf("container changed: %v (pid was %v)", st, pid)
	}
	crNotFrozen(t, b, int(pid))
	crWaitCount(t, b, b.id, crCount(t, b, b.id))
	if n := crLoopProcs(); n != 1 {
		t.Fatalf("%d processes run the loop, want only the container's", n)
	}
}

// crNotFrozen checks, before anything execs into the container (which a
// frozen cgroup would hang), that its cgroup is thawed and its init
// neither stopped nor traced: CRIU freezes the tree for a (pre-)dump.
func crNotFrozen(t *testing.T, b *bundle, pid int) {
	t.Helper()
	for _, d := range cgroupDirs(b) {
		for _, f := range []string{"cgroup.freeze", "freezer.state"} {
			if v, err := os.ReadFile(filepath.Join(d, f)); err == nil && strings.TrimSpace(string(v)) != "0" && strings.TrimSpace(string(v)) != "THAWED" {
				t.Fatalf("%s/%s is %q: the container is left frozen", d, f, v)
			}
		}
		if ev, err := os.ReadFile(filepath.Join(d, "cgroup.events")); err == nil && strings.Contains(string(ev), "frozen 1") {
			t.Fatalf("%s/cgroup.events: %q: the container is left frozen", d, ev)
		}
	}
	if s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:])); len(f) > 0 && (f[0] == "T" || f[0] == "t") {
			t.Fatalf("init %d is in state %s (stopped or traced)", pid, f[0])
		}
	}
}

// crNoRestoreLeft checks a failed restore of r (with --root root) left no
// state dir, cgroup or mount: only keep is in the state root.
func crNoRestoreLeft(t *testing.T, root string, r *bundle, keep ...string) {
	t.Helper()
	var names []string
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, keep) {
		t.Fatalf("state root holds %v, want %v", names, keep)
	}
	if dirs := cgroupDirs(r); len(dirs) > 0 {
		t.Fatalf("cgroups left behind: %v", dirs)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), "criu-root") || strings.Contains(string(mi), r.dir) {
		t.Fatalf("mounts left behind: %s", mi)
	}
}

// Bad input to restore with the real CRIU: images that are missing,
// garbled before CRIU reads them, or broken where only CRIU notices
// (after it has forked the tree), and an id that exists. Each is a
// non-zero exit naming the flag or path, with nothing left and the
// container the images came from (left running) untouched.
func TestCRIURestoreBadInput(t *testing.T) {
	crMyrunOnly(t)
	b := crBundle(t, nil)
	newCrIO(t).run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	crWaitCount(t, b, b.id, 1)
	pid := b.state()["pid"].(float64)
	good := filepath.Join(t.TempDir(), "good")
	newCrIO(t).run(t, b, "checkpoint", "--leave-running", "--image-path", good, b.id)
	crUntouched(t, b, pid)
	r := crBundle(t, nil)
	for _, tc := range []struct {
		name string
		img  func() string
		id   string
		want func(img string) []string
	}{
		{"missing image dir", func() string { return "/nonexistent/img" }, r.id,
			func(string) []string { return []string{"--image-path: stat /nonexistent/img"} }},
		{"empty image dir", func() string { return t.TempDir() }, r.id,
			func(img string) []string { return []string{"--image-path: " + img + ": not a checkpoint image"} }},
		{"garbled inventory", func() string {
			return crCopyImage(t, good, func(d string) { os.WriteFile(filepath.Join(d, "inventory.img"), []byte("garbage, not CRIU"), 0o600) })
		}, r.id, func(img string) []string {
			return []string{"--image-path: " + img + "/inventory.img: corrupt checkpoint image"}
		}},
		{"truncated inventory", func() string {
			return crCopyImage(t, good, func(d string) { crTruncate(t, filepath.Join(d, "inventory.img"), func(int64) int64 { return 10 }) })
		}, r.id, func(img string) []string {
			return []string{"restore: criu restore failed", "--image-path " + img, "Error ("}
		}},
		{"missing core image", func() string {
			return crCopyImage(t, good, func(d string) {
				m, _ := filepath.Glob(filepath.Join(d, "core-*.img"))
				for _, f := range m {
					os.Remove(f)
				}
			})
		}, r.id, func(img string) []string {
			return []string{"restore: criu restore failed", "--image-path " + img, "Error ("}
		}},
		// pages-*.img cut to half: criu 3.17 either answers "Can't read
		// mapping page" or its restored task spins and CRIU never answers
		// (--criu-timeout bounds that wait). Either way nothing is left.
		{"truncated pages", func() string {
			return crCopyImage(t, good, func(d string) { crTruncate(t, filepath.Join(d, "pages-*.img"), func(n int64) int64 { return n / 2 }) })
		}, r.id, func(img string) []string {
			return []string{"restore: criu restore failed||restore: CRIU did not answer within 30s", "--image-path " + img}
		}},
		{"existing id", func() string { return good }, b.id,
			func(string) []string { return []string{"already exists: " + b.id} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img()
			errs, code := crRuntime{myrun, b.root}.do(t, newCrIO(t), "restore", "-d", "--criu-timeout", "30s", "--image-path", img, "--bundle", r.dir, tc.id)
			t.Logf("exit %d: %s", code, errs)
			if code == 0 {
				t.Fatalf("restore succeeded%s", criuLogTail(t, []string{"--image-path", img}))
			}
			// "a||b": either.
			for _, w := range tc.want(img) {
				if !slices.ContainsFunc(strings.Split(w, "||"), func(a string) bool { return strings.Contains(errs, a) }) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
			crNoRestoreLeft(t, b.root, r, b.id)
			crUntouched(t, b, pid)
		})
	}
}

// Bad input to checkpoint with the real CRIU: parent paths that are not
// pre-dumps (one a pre-dump CRIU finds broken), an image path that cannot
// be made, and containers that are created or stopped. Each is a non-zero
// exit naming the flag or path; the container is untouched and no image
// dir we made is left.
func TestCRIUCheckpointBadInput(t *testing.T) {
	crMyrunOnly(t)
	b := crBundle(t, nil)
	newCrIO(t).run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	crWaitCount(t, b, b.id, 1)
	pid := b.state()["pid"].(float64)
	base := t.TempDir()
	newCrIO(t).run(t, b, "checkpoint", "--pre-dump", "--image-path", filepath.Join(base, "pre"), b.id)
	os.WriteFile(filepath.Join(base, "file"), []byte("x"), 0o600)
	os.Mkdir(filepath.Join(base, "empty"), 0o700)
	broken := crCopyImage(t, filepath.Join(base, "pre"), func(d string) { crTruncate(t, filepath.Join(d, "pagemap-*.img"), func(int64) int64 { return 6 }) })
	os.Rename(broken, filepath.Join(base, "broken"))
	crUntouched(t, b, pid)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"parent missing", []string{"--parent-path", "../nowhere"}, []string{"--parent-path: stat " + filepath.Join(base, "nowhere")}},
		{"parent a file", []string{"--parent-path", "../file"}, []string{"--parent-path: " + filepath.Join(base, "file") + ": not a directory"}},
		{"parent empty", []string{"--parent-path", "../empty"}, []string{"--parent-path: " + filepath.Join(base, "empty") + ": not a pre-dump"}},
		// criu 3.17 dumps on without a parent whose pagemap it cannot
		// read: myrun refuses it first.
		{"parent broken pre-dump", []string{"--leave-running", "--parent-path", "../broken"}, []string{"--parent-path: " + filepath.Join(base, "broken") + "/pagemap-"}},
		{"image path not makeable", []string{"--image-path", "/nonexistent/a/img"}, []string{"--image-path: mkdir /nonexistent/a/img"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(base, "img")
			args := append([]string{"checkpoint", "--image-path", img}, tc.args...)
			errs, code := crRuntime{myrun, b.root}.do(t, newCrIO(t), append(args, b.id)...)
			t.Logf("exit %d: %s", code, errs)
			if code == 0 {
				t.Fatalf("checkpoint succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
			if ents, err := os.ReadDir(img); err == nil && !slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == "dump.log" }) {
				t.Errorf("image dir left behind without CRIU's log: %v", ents)
			}
			os.RemoveAll(img)
			crUntouched(t, b, pid)
		})
	}

	// A created (never started) and an exited container: refused, and
	// each stays as it was.
	c := crBundle(t, nil)
	if _, errs, code := c.myrun("create", "--bundle", c.dir, c.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	img := filepath.Join(base, "img-c")
	for _, want := range []string{"created", "stopped"} {
		if want == "stopped" {
			c.myrun("kill", c.id, "KILL")
			escWaitFor(t, time.Minute*timeoutScale, "the container to stop", func() bool { return crStatus(t, c, c.id) == "stopped" })
		}
		_, errs, code := c.myrun("checkpoint", "--image-path", img, c.id)
		if code == 0 || !strings.Contains(errs, "container "+c.id+" is "+want+": only a running or paused container") {
			t.Errorf("%s: exit %d, %q", want, code, errs)
		}
		if s := crStatus(t, c, c.id); s != want {
			t.Errorf("after the refused checkpoint the %s container is %s", want, s)
		}
		if _, err := os.Stat(img); !os.IsNotExist(err) {
			t.Errorf("%s: image dir left behind", want)
		}
	}
	if _, errs, code := c.myrun("delete", c.id); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	crUntouched(t, b, pid)
}

// The real CRIU killed in the middle of a dump, as soon as its log says
// the cgroup is frozen: the checkpoint fails and the container runs on.
// criu 3.17 thaws the cgroup itself once it has seized the tasks by
// ptrace, so the kill lands either in that window (myrun thaws the
// container: TestCheckpointFailureKeepsFreezerState is the deterministic
// test) or after it (the kernel detaches the tasks); never frozen, never
// stopped either way.
func TestCRIUCheckpointKilledAfterFreeze(t *testing.T) {
	b := crBundle(t, nil)
	newCrIO(t).run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	crWaitCount(t, b, b.id, 1)
	pid := b.state()["pid"].(float64)
	real, err := exec.LookPath("criu")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	img, mark := filepath.Join(dir, "img"), filepath.Join(dir, "killed")
	wrap := filepath.Join(dir, "criu")
	script := "#!/bin/sh\n[ \"$1\" = check ] && exec " + real + " check\n" + real + " \"$@\" &\npid=$!\n" +
		"until grep -qsE 'freezing processes: [0-9]+ attempts done' " + filepath.Join(img, "dump.log") + "; do kill -0 $pid 2>/dev/null || exit 1; sleep 0.05; done\n" +
		"kill -9 $pid\nwait $pid\necho killed >" + mark + "\nexit 1\n"
	if err := os.WriteFile(wrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	errs, code := crRuntime{myrun, b.root}.do(t, newCrIO(t), "--criu", wrap, "checkpoint", "--leave-running", "--image-path", img, b.id)
	t.Logf("exit %d: %s", code, errs)
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("CRIU was not killed (exit %d: %s)%s", code, errs, criuLogTail(t, []string{"--image-path", img}))
	}
	if code == 0 {
		t.Fatal("checkpoint succeeded with CRIU killed")
	}
	crUntouched(t, b, pid)
}
