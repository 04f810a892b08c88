//go:build integration

package main

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Interop with the containers/* engines (issue 6): our images run under
// podman after skopeo copies them into containers-storage, and layouts
// written by buildah are valid FROM bases. Every engine gets private
// storage under a temp dir so nothing touches the machine's own.

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// privDir is a temp dir with a lowercase path (buildah and the
// containers/image oci: transport dislike t.TempDir's test-name paths).
func privDir(t *testing.T, what string) string {
	t.Helper()
	d, err := os.MkdirTemp("", fmt.Sprintf("myimg-interop-%s-%d-", what, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func runTool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// rmCgroupTree removes a cgroup dir and its children in every hierarchy,
// retrying briefly because conmon may still be exiting after a failure.
func rmCgroupTree(rel string) {
	for i := 0; i < 20 && rmCgroupOnce(rel); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// rmCgroupOnce reports whether something is left.
func rmCgroupOnce(rel string) bool {
	left := false
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + rel)
	dirs = append(dirs, "/sys/fs/cgroup"+rel)
	for _, top := range dirs {
		// podman's conmon makes its cgroup, a tasks file and all, also
		// below controllers this host does not mount (plain tmpfs here).
		var fs unix.Statfs_t
		if unix.Statfs(top, &fs) == nil && fs.Type == unix.TMPFS_MAGIC {
			if os.RemoveAll(top) != nil {
				left = true
			}
			continue
		}
		var all []string
		filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		// Deepest first: rmdir only works on empty cgroups.
		sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
		for _, d := range all {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				left = true
			}
		}
	}
	return left
}

func TestInteropPodmanRunsOurImage(t *testing.T) {
	// runc: crun refuses hybrid cgroups with controllers in cgroup2 here.
	needTools(t, "skopeo", "podman", "runc")
	root := busyboxStore(t)
	ctx := t.TempDir()
	os.WriteFile(ctx+"/Containerfile", []byte(
		"FROM busybox\nRUN echo built-by-myimg > /msg\nENV WHO=podman\nCMD [\"/bin/sh\", \"-c\", \"cat /msg; echo run-by-$WHO\"]\n"), 0o644)
	name := fmt.Sprintf("myimg-interop-%d", os.Getpid())
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", name, ctx)

	p := privDir(t, "podman")
	graph, run, tmp := p+"/root", p+"/runroot", p+"/tmp"
	os.MkdirAll(tmp, 0o700)
	os.WriteFile(p+"/storage.conf", []byte(fmt.Sprintf(
		"[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", graph, run)), 0o644)
	os.WriteFile(p+"/containers.conf", []byte(
		"[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"+
			"[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nlock_type = \"file\"\n"), 0o644)
	env := []string{"CONTAINERS_STORAGE_CONF=" + p + "/storage.conf", "CONTAINERS_CONF=" + p + "/containers.conf"}
	cgParent := fmt.Sprintf("/myimg-interop-%d", os.Getpid())
	t.Cleanup(func() { rmCgroupTree(cgParent) })

	ref := "localhost/" + name + ":latest"
	runTool(t, env, "skopeo", "copy", "oci:"+root+":"+name+":latest",
		fmt.Sprintf("containers-storage:[vfs@%s+%s]%s", graph, run, ref))
	out := runTool(t, env, "podman", "--root", graph, "--runroot", run, "--tmpdir", tmp,
		"--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"run", "--rm", "--network", "none", "--cgroup-parent", cgParent,
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", ref)
	if want := "built-by-myimg\nrun-by-podman\n"; out != want {
		t.Fatalf("podman run printed %q, want %q", out, want)
	}
}

// busyboxTar writes a minimal rootfs archive: busybox plus the applets
// the test uses as symlinks.
func busyboxTar(t *testing.T, path string) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("no /bin/busybox: %v", err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))})
	tw.Write(bb)
	for _, app := range []string{"sh", "cat", "echo", "id"} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + app, Linkname: "busybox", Mode: 0o777})
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInteropBuildFromBuildahLayout(t *testing.T) {
	needTools(t, "buildah")
	p := privDir(t, "buildah")
	bargs := []string{"--root", p + "/root", "--runroot", p + "/runroot", "--storage-driver", "vfs"}
	env := []string{"CONTAINERS_STORAGE_CONF=" + p + "/storage.conf", "TMPDIR=" + p}
	os.WriteFile(p+"/storage.conf", []byte(fmt.Sprintf(
		"[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", p+"/root", p+"/runroot")), 0o644)
	buildah := func(args ...string) string {
		return strings.TrimSpace(runTool(t, env, "buildah", append(append([]string{}, bargs...), args...)...))
	}
	ctr := buildah("from", "--pull=never", "scratch")
	t.Cleanup(func() { exec.Command("buildah", append(append([]string{}, bargs...), "rm", "--all")...).Run() })
	busyboxTar(t, p+"/rootfs.tar")
	buildah("add", ctr, p+"/rootfs.tar", "/")
	buildah("config", "--env", "PATH=/bin", "--env", "FROM_BUILDAH=yes", "--cmd", "/bin/sh", ctr)
	layout := p + "/layout"
	buildah("commit", ctr, "oci:"+layout+":latest")

	root := filepath.Join(t.TempDir(), "store")
	ctx := t.TempDir()
	os.WriteFile(ctx+"/Containerfile", []byte(fmt.Sprintf(
		"FROM oci:%s:latest\nRUN echo run-on-buildah-base > /msg\n"+
			"CMD [\"/bin/sh\", \"-c\", \"cat /msg; echo from_buildah=$FROM_BUILDAH\"]\n", layout)), 0o644)
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "frombuildah", ctx)
	bundle := filepath.Join(t.TempDir(), "b")
	mustImg(t, root, "unpack", "--copy", "-q", "frombuildah", bundle)
	if out := runBundle(t, bundle); out != "run-on-buildah-base\nfrom_buildah=yes\n" {
		t.Fatalf("myrun run printed %q", out)
	}
}
