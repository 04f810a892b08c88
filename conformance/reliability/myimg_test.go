//go:build integration

package reliability

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// img runs myimg on store root.
func img(t *testing.T, root string, timeout time.Duration, args ...string) result {
	t.Helper()
	return runBin(t, timeout, myimg, append([]string{"--root", root}, args...)...)
}

func mustImg(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := img(t, root, 5*time.Minute, args...)
	if r.code != 0 {
		t.Fatalf("myimg %v: %d %s%s", args, r.code, r.out, r.err)
	}
	return r.out
}

// busyboxStore imports the host's busybox as busybox:latest.
func busyboxStore(t *testing.T, root string) {
	t.Helper()
	cmd := exec.Command("../../contrib/images/busybox.sh", "-r", root)
	cmd.Env = append(os.Environ(), "MYIMG="+myimg)
	if out, err := combined(cmd); err != nil {
		t.Fatalf("busybox.sh: %v\n%s", err, out)
	}
}

// bigTar writes a tarball holding size bytes of random data (does not
// compress: the work takes long enough to be killed half-way).
func bigTar(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0)})
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// storeState is what must not change when a command fails or dies.
type storeState struct {
	index string
}

func snapshotStore(t *testing.T, root string) storeState {
	b, _ := os.ReadFile(filepath.Join(root, "index.json"))
	return storeState{string(b)}
}

// checkStore: every blob verifies against its name, nothing is mounted
// under the store (a build mounts its RUN overlays in a mount namespace of
// its own, so not even a SIGKILLed one leaves any), and the store still
// answers `images`.
func checkStore(t *testing.T, root, when string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256"))
	for _, e := range ents {
		f, err := os.Open(filepath.Join(root, "blobs", "sha256", e.Name()))
		if err != nil {
			t.Errorf("%s: blob %s: %v", when, e.Name(), err)
			continue
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if hex.EncodeToString(h.Sum(nil)) != e.Name() {
			t.Errorf("%s: blob %s does not verify", when, e.Name())
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(root)) {
		t.Errorf("%s: mounts under the store %s", when, root)
	}
	if r := img(t, root, time.Minute, "images"); r.code != 0 {
		t.Errorf("%s: myimg images fails: %s", when, r.err)
	}
}

// indexCommitted accepts a changed index.json after a kill only when the
// kill came after the command's atomic commit: the new name is then
// complete (inspect reads and verifies it).
func indexCommitted(t *testing.T, root, tag, when string) {
	t.Helper()
	if tag == "" {
		t.Errorf("%s: index.json changed", when)
		return
	}
	if r := img(t, root, time.Minute, "inspect", tag); r.code != 0 {
		t.Errorf("%s: index.json changed but %s is not complete: %s", when, tag, r.err)
	} else {
		t.Logf("%s: killed after its commit; %s is complete", when, tag)
	}
}

func ingestEntries(root string) int {
	ents, _ := os.ReadDir(filepath.Join(root, "ingest"))
	return len(ents)
}

// killImg starts myimg and SIGKILLs it after delay; true if it was killed.
func killImg(t *testing.T, delay time.Duration, root string, args ...string) bool {
	t.Helper()
	cmd := exec.Command(myimg, append([]string{"--root", root}, args...)...)
	cmd.Dir = "../.."
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { waitTracked(cmd); close(done) }()
	select {
	case <-done:
		return false
	case <-time.After(delay):
		unix.Kill(cmd.Process.Pid, unix.SIGKILL)
		<-done
		return true
	}
}

// import, load, unpack and build killed half-way: the store is unchanged
// and consistent, and the next command works.
func TestMyimgKilledMidway(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { unmountUnder(t, dir) })
	root := filepath.Join(dir, "store")
	busyboxStore(t, root)
	big := filepath.Join(dir, "big.tar")
	bigTar(t, big, 96<<20)
	mustImg(t, root, "import", big, "big:1")
	archive := filepath.Join(dir, "big-archive.tar")
	mustImg(t, root, "save", "-o", archive, "big:1")
	cgp := cgroupParent + "-build"
	ctx := filepath.Join(dir, "ctx")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nRUN sleep 3; echo x > /x\n"), 0o644)
	defer func() {
		d, _ := filepath.Glob("/sys/fs/cgroup/*" + cgp)
		for _, x := range d {
			os.Remove(x)
		}
	}()
	cases := []struct {
		name   string
		args   []string
		tag    string // what a completed command adds to index.json
		delays []time.Duration
		after  func(t *testing.T)
	}{
		{"import", []string{"import", big, "big:2"}, "big:2", []time.Duration{50, 200, 500}, nil},
		{"load", []string{"load", "-i", archive}, "big:1", []time.Duration{50, 200, 500}, nil},
		{"unpack", []string{"unpack", "big:1", filepath.Join(dir, "bundle")}, "", []time.Duration{20, 100, 300}, func(t *testing.T) {
			// The user's recovery for a bundle: unmount it.
			img(t, root, time.Minute, "umount", filepath.Join(dir, "bundle"))
			os.RemoveAll(filepath.Join(dir, "bundle"))
		}},
		{"build", []string{"build", "--cgroup-parent", cgp, "-t", "built:1", ctx}, "built:1", []time.Duration{300, 1500}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range c.delays {
				before := snapshotStore(t, root)
				killed := killImg(t, d*time.Millisecond, root, c.args...)
				when := fmt.Sprintf("%s killed after %v (killed=%v)", c.name, d*time.Millisecond, killed)
				if c.after != nil {
					c.after(t)
				}
				if killed && snapshotStore(t, root) != before {
					indexCommitted(t, root, c.tag, when)
				}
				checkStore(t, root, when)
				left := ingestEntries(root)
				// The next command of the same kind works.
				r := img(t, root, 5*time.Minute, c.args...)
				if r.code != 0 {
					t.Errorf("%s: the next %s fails: %s", when, c.name, r.err)
				}
				if c.after != nil {
					c.after(t)
				}
				// The next command removed the dead one's temp files.
				if n := ingestEntries(root); n > 0 {
					t.Errorf("%s: %d temp entries left in ingest after the next command (%d right after the kill)", when, n, left)
				}
				checkStore(t, root, when+", then again")
				if d := subdirs("/sys/fs/cgroup/*" + cgp + "/*"); len(d) > 0 {
					t.Errorf("%s: RUN cgroups left after the next build: %v", when, d)
				}
			}
		})
	}
	mustImg(t, root, "prune")
	if n := ingestEntries(root); n > 0 {
		t.Errorf("prune left %d temp entries in ingest", n)
	}
	checkStore(t, root, "after prune")
}

// A full disk (a 20 MB tmpfs as the store): a clear error, the store
// unchanged and consistent, no temp files, and the next command works.
func TestMyimgFullDisk(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	os.MkdirAll(mnt, 0o755)
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=20m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	root := filepath.Join(mnt, "store")
	busyboxStore(t, root)
	big := filepath.Join(dir, "big.tar")
	bigTar(t, big, 32<<20)
	// The same 32 MB as an oci-archive (made in a roomy store) and as a
	// build context.
	roomy := filepath.Join(dir, "roomy")
	mustImg(t, roomy, "import", big, "big:1")
	archive := filepath.Join(dir, "big-archive.tar")
	mustImg(t, roomy, "save", "-o", archive, "big:1")
	ctx := filepath.Join(dir, "ctx")
	os.MkdirAll(ctx, 0o755)
	if err := os.Link(big, filepath.Join(ctx, "big.tar")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nCOPY big.tar /big.tar\n"), 0o644)
	for _, args := range [][]string{
		{"import", big, "big:1"},
		{"load", "-i", archive},
		{"build", "-q", "-t", "big:2", ctx},
	} {
		when := "full disk: " + args[0]
		before := snapshotStore(t, root)
		r := img(t, root, 5*time.Minute, args...)
		if r.code == 0 {
			t.Fatalf("%s of 32 MB into a 20 MB store succeeded", when)
		}
		if !strings.Contains(r.err, "no space left") {
			t.Errorf("%s: want a clear ENOSPC error, got %q", when, strings.TrimSpace(r.err))
		}
		if snapshotStore(t, root) != before {
			t.Errorf("%s: index.json changed", when)
		}
		if n := ingestEntries(root); n > 0 {
			t.Errorf("%s: %d temp entries left in ingest", when, n)
		}
		checkStore(t, root, when)
	}
	bundle := filepath.Join(dir, "bundle")
	if r := img(t, root, time.Minute, "unpack", "busybox", bundle); r.code != 0 {
		t.Errorf("unpack after a full disk: %s", r.err)
	}
	img(t, root, time.Minute, "umount", bundle)
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(bundle)) {
		t.Errorf("unpack mounts left after umount")
		unix.Unmount(filepath.Join(bundle, "rootfs"), unix.MNT_DETACH)
	}
}

// Parallel builds into one store, parallel unpacks and runs of one image.
func TestMyimgParallel(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { unmountUnder(t, dir) })
	root := filepath.Join(dir, "store")
	busyboxStore(t, root)
	cgp := cgroupParent + "-pbuild"
	defer func() {
		d, _ := filepath.Glob("/sys/fs/cgroup/*" + cgp)
		for _, x := range d {
			os.Remove(x)
		}
	}()
	const n = 4
	var wg sync.WaitGroup
	errs := make([]string, 3*n)
	for i := 0; i < n; i++ {
		ctx := filepath.Join(dir, fmt.Sprintf("ctx%d", i))
		os.MkdirAll(ctx, 0o755)
		os.WriteFile(filepath.Join(ctx, "f"), []byte(fmt.Sprint(i)), 0o644)
		os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(fmt.Sprintf("FROM busybox\nCOPY f /f\nRUN echo %d > /g\nENV N=%d\n", i, i)), 0o644)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if r := img(t, root, 5*time.Minute, "build", "-q", "--cgroup-parent", cgp, "-t", fmt.Sprintf("par:%d", i), ctx); r.code != 0 {
				errs[i] = "build: " + r.err
			}
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if r := img(t, root, time.Minute, "inspect", fmt.Sprintf("par:%d", i)); r.code != 0 || !strings.Contains(r.out, fmt.Sprintf("N=%d", i)) {
			t.Errorf("par:%d after parallel builds: %d %s", i, r.code, r.err)
		}
	}
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			b := filepath.Join(dir, fmt.Sprintf("bundle%d", i))
			if r := img(t, root, 5*time.Minute, "unpack", "-q", "par:0", b); r.code != 0 {
				errs[n+i] = "unpack: " + r.err
			} else if g, err := os.ReadFile(filepath.Join(b, "rootfs", "g")); err != nil || string(g) != "0\n" {
				errs[n+i] = fmt.Sprintf("unpack: /g = %q %v", g, err)
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			if r := img(t, root, 5*time.Minute, "run", "--rm", "--net", "none", "par:1", "cat", "/g"); r.code != 0 || r.out != "1\n" {
				errs[2*n+i] = fmt.Sprintf("run: %d %q %s", r.code, r.out, r.err)
			}
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		img(t, root, time.Minute, "umount", filepath.Join(dir, fmt.Sprintf("bundle%d", i)))
	}
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	checkStore(t, root, "parallel builds, unpacks and runs")
	if r := img(t, root, time.Minute, "ps", "-a"); r.code == 0 && strings.Count(strings.TrimSpace(r.out), "\n") > 0 {
		t.Errorf("containers left after run --rm: %s", r.out)
	}
}

// subdirs lists the directories matching pattern.
func subdirs(pattern string) []string {
	var out []string
	for _, p := range mustGlob(pattern) {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// unmountUnder detaches what a failed test left mounted under dir, so
// the temp dir can go (the failure itself was reported already).
func unmountUnder(t *testing.T, dir string) {
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	var pts []string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			pts = append(pts, f[4])
		}
	}
	for i := len(pts) - 1; i >= 0; i-- {
		if err := unix.Unmount(pts[i], unix.MNT_DETACH); err == nil {
			t.Logf("cleanup: unmounted leftover %s", pts[i])
		}
	}
}

// startRegistry serves a docker-registry (Debian's distribution) on a
// free loopback port until the test ends; it is stopped by its PID.
func startRegistry(t *testing.T, dir string) string {
	t.Helper()
	reg, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry not installed (contrib/install-deps.sh installs it): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: %s\n", dir, addr)
	if err := os.WriteFile(filepath.Join(dir, "registry.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(reg, "serve", filepath.Join(dir, "registry.yml"))
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Kill(cmd.Process.Pid, unix.SIGKILL); waitTracked(cmd) })
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("docker-registry did not listen on %s", addr)
	}
	return addr
}

// pull killed half-way leaves the store as it was; the next pull works;
// parallel pulls of one image (and of two tags) into one store all land.
func TestMyimgPullKilledAndParallel(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	busyboxStore(t, src)
	big := filepath.Join(dir, "big.tar")
	bigTar(t, big, 96<<20)
	mustImg(t, src, "import", big, "big:1")
	addr := startRegistry(t, dir)
	ref := addr + "/rel/big:1"
	mustImg(t, src, "push", "--tls-verify=false", "big:1", ref)
	mustImg(t, src, "push", "--tls-verify=false", "busybox", addr+"/rel/busybox:1")

	root := filepath.Join(dir, "pulled")
	busyboxStore(t, root)
	for _, d := range []time.Duration{30, 100, 250} {
		before := snapshotStore(t, root)
		killed := killImg(t, d*time.Millisecond, root, "pull", "-q", "--tls-verify=false", ref)
		when := fmt.Sprintf("pull killed after %v (killed=%v)", d*time.Millisecond, killed)
		t.Logf("%s: %d temp entries in ingest", when, ingestEntries(root))
		if killed && snapshotStore(t, root) != before {
			indexCommitted(t, root, ref, when)
		}
		checkStore(t, root, when)
		if r := img(t, root, 5*time.Minute, "pull", "-q", "--tls-verify=false", ref); r.code != 0 {
			t.Errorf("%s: the next pull fails: %s", when, r.err)
		}
		if n := ingestEntries(root); n > 0 {
			t.Errorf("%s: %d temp entries left in ingest after the next pull", when, n)
		}
		checkStore(t, root, when+", then again")
		mustImg(t, root, "rm", ref)
		mustImg(t, root, "prune")
	}

	par := filepath.Join(dir, "parallel")
	refs := []string{ref, ref, ref, addr + "/rel/busybox:1"}
	var wg sync.WaitGroup
	errs := make([]string, len(refs))
	for i, r := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := img(t, par, 5*time.Minute, "pull", "-q", "--tls-verify=false", r); res.code != 0 {
				errs[i] = fmt.Sprintf("pull %s: %s", r, res.err)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	for _, r := range []string{ref, addr + "/rel/busybox:1"} {
		if res := img(t, par, time.Minute, "inspect", r); res.code != 0 {
			t.Errorf("%s missing after parallel pulls: %s", r, res.err)
		}
	}
	if n := ingestEntries(par); n > 0 {
		t.Errorf("%d temp entries left in ingest after parallel pulls", n)
	}
	checkStore(t, par, "parallel pulls")
}
