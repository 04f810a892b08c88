//go:build integration

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Issue 17, store part: docker-archive both ways with podman 4.3 and
// skopeo as the oracles, and the store verbs podman users reach for.

// podmanEnv is a private podman (vfs storage under a temp dir); it
// returns a function running podman there.
func podmanEnv(t *testing.T) func(args ...string) string {
	t.Helper()
	needTools(t, "podman", "skopeo")
	p := privDir(t, "podman17")
	graph, run, tmp := p+"/root", p+"/runroot", p+"/tmp"
	os.MkdirAll(tmp, 0o700)
	os.WriteFile(p+"/storage.conf", []byte(fmt.Sprintf(
		"[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", graph, run)), 0o644)
	os.WriteFile(p+"/containers.conf", []byte("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nlock_type = \"file\"\n"), 0o644)
	env := []string{"CONTAINERS_STORAGE_CONF=" + p + "/storage.conf", "CONTAINERS_CONF=" + p + "/containers.conf"}
	return func(args ...string) string {
		return runTool(t, env, "podman", append([]string{"--root", graph, "--runroot", run, "--tmpdir", tmp, "--storage-driver", "vfs"}, args...)...)
	}
}

func imageID(t *testing.T, root, name string) string {
	t.Helper()
	return strings.TrimSpace(mustImg(t, root, "images", "--format", "{{.ID}}", "--no-trunc", "--filter-name", name))
}

func TestDockerArchiveWithPodman(t *testing.T) {
	podman := podmanEnv(t)
	dir := privDir(t, "darch")
	// An image podman made (its own config, with fields we do not model).
	busyboxTar(t, dir+"/rootfs.tar")
	podman("import", "--change", "CMD [\"/bin/sh\"]", dir+"/rootfs.tar", "localhost/pimp:1")
	pid := strings.TrimSpace(podman("images", "--no-trunc", "--format", "{{.ID}}", "localhost/pimp:1"))
	podman("save", "--format", "docker-archive", "-o", dir+"/p.tar", "localhost/pimp:1")

	root := busyboxStore(t)
	out := mustImg(t, root, "load", "-q", "-i", dir+"/p.tar")
	if out != "Loaded image: localhost/pimp:1\n" {
		t.Fatalf("load -q printed %q", out)
	}
	if got := strings.TrimSpace(mustImg(t, root, "inspect", "--format", "{{.ImageID}}", "localhost/pimp:1")); "sha256:"+got != pid && got != pid {
		t.Fatalf("podman's image has ID %s here, %s in podman", got, pid)
	}
	bb := strings.TrimSpace(mustImg(t, root, "inspect", "--format", "{{.ImageID}}", "busybox"))

	// Two images need -m; then podman loads both with their IDs.
	if out, err := myimg(t, root, "save", "--format", "docker-archive", "-o", dir+"/m.tar", "busybox", "localhost/pimp:1"); err == nil || !strings.Contains(out, "-m") {
		t.Fatalf("two images without -m: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir + "/m.tar"); err == nil {
		t.Fatal("a refused save left its output")
	}
	mustImg(t, root, "save", "--format", "docker-archive", "-m", "-o", dir+"/m.tar", "busybox", "localhost/pimp:1")
	podman("rmi", "-a")
	podman("load", "-i", dir+"/m.tar")
	for name, want := range map[string]string{"localhost/busybox:latest": bb, "localhost/pimp:1": pid} {
		got := strings.TrimPrefix(strings.TrimSpace(podman("images", "--no-trunc", "--format", "{{.ID}}", name)), "sha256:")
		if got != strings.TrimPrefix(want, "sha256:") {
			t.Errorf("podman load of our -m archive: %s has ID %s, want %s", name, got, want)
		}
	}
	// skopeo reads a single-image one.
	mustImg(t, root, "save", "--format", "docker-archive", "-o", dir+"/one.tar", "busybox")
	if out := runTool(t, nil, "skopeo", "inspect", "--config", "docker-archive:"+dir+"/one.tar"); !strings.Contains(out, `"os": "linux"`) {
		t.Fatalf("skopeo inspect --config:\n%s", out)
	}
	if out, err := myimg(t, root, "save", "-m", "-o", dir+"/x.tar", "busybox"); err == nil || !strings.Contains(out, "docker-archive") {
		t.Fatalf("-m with oci-archive: %v\n%s", err, out)
	}
}

// openPty returns a pseudo-terminal's two ends.
func openPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func TestSaveLoadRefuseTerminal(t *testing.T) {
	root := busyboxStore(t)
	_, pts := openPty(t)
	for _, args := range [][]string{
		{"save", "busybox"},
		{"save", "--format", "docker-archive", "busybox"},
		{"load"},
	} {
		cmd := exec.Command(filepath.Join(binDir, "myimg"), append([]string{"--root", root}, args...)...)
		var errb strings.Builder
		cmd.Stdout, cmd.Stdin, cmd.Stderr = pts, pts, &errb
		err := cmd.Run()
		if err == nil || !strings.Contains(errb.String(), "terminal") {
			t.Errorf("myimg %v on a terminal: %v\n%s", args, err, errb.String())
		}
	}
}
