//go:build integration && vm

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lazy migration (runc's checkpoint --lazy-pages flow): the dump leaves
// the memory pages behind a page server and writes \0 to --status-fd
// when it listens; `criu lazy-pages` fetches them from it for the restore
// (restore --lazy-pages), whose tasks fault pages in. The checkpoint ends
// once every page went over; the restored copy, under a new id, counts on.
func TestCRIULazyPages(t *testing.T) {
	if out, err := exec.Command("criu", "check", "--feature", "uffd-noncoop").CombinedOutput(); err != nil {
		t.Skipf("criu check --feature uffd-noncoop: %v: %s", err, out)
	}
	b := crBundle(t, nil)
	newCrIO(t).run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	n := crWaitCount(t, b, b.id, 1)
	img := filepath.Join(t.TempDir(), "img")
	const port = "27277"

	// The dump, in the background until the pages are fetched.
	sr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	io := newCrIO(t)
	dump := exec.Command(myrun, "--root", b.root, "checkpoint", "--lazy-pages", "--page-server", "127.0.0.1:"+port, "--status-fd", "3", "--image-path", img, b.id)
	dump.Stdin, dump.Stdout, dump.Stderr = io.in[0], io.out[1], io.errs[1]
	dump.ExtraFiles = []*os.File{sw}
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	sw.Close()
	dumpDone := make(chan error, 1)
	go func() { dumpDone <- dump.Wait() }()
	dumpEnded := false
	defer func() {
		if !dumpEnded {
			dump.Process.Kill()
			<-dumpDone
		}
	}()
	sr.SetReadDeadline(time.Now().Add(3 * time.Minute * timeoutScale))
	st := make([]byte, 1)
	if k, err := sr.Read(st); err != nil || k != 1 || st[0] != 0 {
		t.Fatalf("status fd: read %d %q: %v: %s%s", k, st, err, drain(io.errs[0]), criuLogTail(t, []string{"--image-path", img}))
	}

	// The lazy-pages daemon, fetching from the dump's page server.
	lazy := exec.Command("criu", "lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", port, "--images-dir", img, "--work-dir", img, "-v4", "-o", "lazy-pages.log")
	if err := lazy.Start(); err != nil {
		t.Fatal(err)
	}
	lazyDone := make(chan error, 1)
	go func() { lazyDone <- lazy.Wait() }()
	lazyEnded := false
	defer func() {
		if !lazyEnded {
			lazy.Process.Kill()
			<-lazyDone
		}
	}()
	// Its socket, which the restore connects to, in the work dir.
	escWaitFor(t, time.Minute, "criu lazy-pages to listen", func() bool {
		_, err := os.Stat(filepath.Join(img, "lazy-pages.socket"))
		return err == nil
	})

	id2 := b.id + "-lazy"
	b.spec.Linux.CgroupsPath = cgroupParent + "/" + id2
	b.write()
	t.Cleanup(func() { exec.Command(myrun, "--root", b.root, "delete", "--force", id2).Run() })
	newCrIO(t).run(t, b, "restore", "-d", "--lazy-pages", "--image-path", img, "--bundle", b.dir, id2)
	if c := crWaitCount(t, b, id2, n); c <= n {
		t.Fatalf("counter %d after the lazy restore", c)
	}
	select {
	case err := <-dumpDone:
		dumpEnded = true
		if err != nil {
			t.Fatalf("checkpoint --lazy-pages: %v: %s%s", err, drain(io.errs[0]), criuLogTail(t, []string{"--image-path", img}))
		}
	case <-time.After(5 * time.Minute * timeoutScale):
		t.Fatalf("checkpoint --lazy-pages did not end after the restore%s", criuLogTail(t, []string{"--image-path", img}))
	}
	if s := crStatus(t, b, b.id); s != "absent" {
		t.Fatalf("after the lazy checkpoint the source container is %s, want it removed", s)
	}
	select {
	case <-lazyDone:
		lazyEnded = true
	case <-time.After(time.Minute * timeoutScale):
		lg, _ := os.ReadFile(filepath.Join(img, "lazy-pages.log"))
		t.Fatalf("criu lazy-pages still runs: %s", lastN(string(lg), 20))
	}
	crWaitCount(t, b, id2, crCount(t, b, id2))
}

func lastN(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// --page-server: the dump sends the memory pages to a `criu page-server`
// (its own image dir); copied next to the other images they restore.
func TestCRIUPageServer(t *testing.T) {
	b := crBundle(t, nil)
	newCrIO(t).run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	n := crWaitCount(t, b, b.id, 1)
	pages, img := t.TempDir(), filepath.Join(t.TempDir(), "img")
	pidFile := filepath.Join(t.TempDir(), "ps.pid")
	// -d returns once the server listens.
	if out, err := exec.Command("criu", "page-server", "-d", "--images-dir", pages, "--address", "127.0.0.1", "--port", "27278", "--pidfile", pidFile, "-v4", "-o", "page-server.log").CombinedOutput(); err != nil {
		t.Fatalf("criu page-server: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	newCrIO(t).run(t, b, "checkpoint", "--page-server", "127.0.0.1:27278", "--image-path", img, b.id)
	m, _ := filepath.Glob(filepath.Join(pages, "pages-*.img"))
	if len(m) == 0 {
		ents, _ := os.ReadDir(pages)
		t.Fatalf("no pages at the page server: %v", ents)
	}
	if m, _ := filepath.Glob(filepath.Join(img, "pages-*.img")); len(m) != 0 {
		t.Fatalf("pages in the dump's own image dir: %v", m)
	}
	if out, err := exec.Command("sh", "-c", "cp -a "+pages+"/*.img "+img+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	newCrIO(t).run(t, b, "restore", "-d", "--image-path", img, "--bundle", b.dir, b.id)
	crWaitCount(t, b, b.id, n)
}
