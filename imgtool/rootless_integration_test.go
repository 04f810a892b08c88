//go:build integration

package main

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/testuser"
)

// rlUser is an unprivileged account made for one test (testuser.New),
// with its own home holding the store; cleanup kills its processes,
// removes its home, its subordinate id lines and the account.
type rlUser struct {
	*testuser.User
	t    *testing.T
	home string
}

const rlSubCount = testuser.SubCount

func newRLUser(t *testing.T) *rlUser {
	t.Helper()
	subreaperOnce.Do(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
	u := &rlUser{User: testuser.New(t, "myimgrl", 300000000), t: t}
	home, err := os.MkdirTemp("", "myimg-rl-")
	if err != nil {
		t.Fatal(err)
	}
	u.home = home
	t.Cleanup(func() { u.Kill(); reapZombies(); os.RemoveAll(home) })
	os.Chmod(u.home, 0o755)
	os.Chown(u.home, u.UID, u.GID)
	os.Chmod(binDir, 0o755)
	return u
}

// img runs myimg as the user on the user's store.
func (u *rlUser) img(env []string, args ...string) (string, string, error) {
	u.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "myimg"), append([]string{"--root", filepath.Join(u.home, "store")}, args...)...)
	cmd.Dir = u.home
	cmd.Env = append([]string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "USER=" + u.Name}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// writeUserImageTar writes a root filesystem tarball: busybox, an
// /etc/passwd with "app" (1500:1500) and nobody, and /home/app owned by
// app with mode 0700.
func writeUserImageTar(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	add := func(h *tar.Header, data []byte) {
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	dir := func(name string, mode int64, id int) {
		add(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode, Uid: id, Gid: id}, nil)
	}
	file := func(name string, mode int64, id int, data string) {
		add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Uid: id, Gid: id}, []byte(data))
	}
	for _, d := range []string{"bin", "etc", "home", "tmp", "proc", "sys", "dev"} {
		dir(d, 0o755, 0)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, app := range []string{"sh", "id", "stat", "touch", "cat", "ls", "echo", "true", "mkdir", "chown", "rm", "wc"} {
		add(&tar.Header{Name: "bin/" + app, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	file("etc/passwd", 0o644, 0, "root:x:0:0:root:/root:/bin/sh\napp:x:1500:1500:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
	file("etc/group", 0o644, 0, "root:x:0:\napp:x:1500:\nnogroup:x:65534:\n")
	dir("home/app", 0o700, 1500)
	file("home/app/owned", 0o600, 1500, "mine\n")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRootlessRunSubIDs: a rootless `myimg run` gets the user's whole
// subordinate ranges (newuidmap/newgidmap), so an image with a non-root
// USER and `-u nobody` run; without ranges it warns and maps only root
// (as podman); with ranges but no newuidmap it fails clearly.
func TestRootlessRunSubIDs(t *testing.T) {
	u := newRLUser(t)
	tarball := filepath.Join(u.home, "rootfs.tar")
	writeUserImageTar(t, tarball)
	os.Chown(tarball, u.UID, u.GID)
	if out, stderr, err := u.img(nil, "import", "-c", "USER app", "-c", `CMD ["id"]`, tarball, "appimg"); err != nil {
		t.Fatalf("import as %s: %v\n%s%s", u.Name, err, out, stderr)
	}

	// A directory imported by the user records the user's files as
	// root's (busybox.sh imports one), with or without ranges.
	bbCmd := exec.Command(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", filepath.Join(u.home, "store"))
	bbCmd.Dir = u.home
	bbCmd.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MYIMG=" + filepath.Join(binDir, "myimg")}
	bbCmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if out, err := bbCmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox.sh as %s: %v\n%s", u.Name, err, out)
	}

	// No ranges yet: a warning, and container root works.
	out, stderr, err := u.img(nil, "run", "--rm", "--net", "none", "-u", "0", "appimg", "id", "-u")
	if err != nil || out != "0\n" || !strings.Contains(stderr, "subordinate ids") {
		t.Fatalf("run without subuid ranges: %v %q %q (want uid 0 and a warning)", err, out, stderr)
	}

	u.AddSubIDs()
	// Ranges but no newuidmap in PATH: a clear error, nothing left.
	before, _ := os.ReadDir(filepath.Join(u.home, "store", "containers"))
	_, stderr, err = u.img([]string{"PATH=/nonexistent"}, "run", "--rm", "--net", "none", "appimg")
	if err == nil || !strings.Contains(stderr, "newuidmap") || !strings.Contains(stderr, "uidmap") {
		t.Fatalf("run without newuidmap: %v %q, want an error naming newuidmap", err, stderr)
	}
	after, _ := os.ReadDir(filepath.Join(u.home, "store", "containers"))
	if len(after) != len(before) {
		t.Errorf("failed run left containers: %v -> %v", before, after)
	}

	// With the ranges the rootfs has the recorded owners: root's.
	out, stderr, err = u.img(nil, "run", "--rm", "--net", "none", "busybox", "stat", "-c", "%u:%g", "/bin/busybox", "/etc")
	if err != nil || out != "0:0\n0:0\n" {
		t.Fatalf("busybox.sh image: owners %q (want root's) %v %s", out, err, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"appimg", "sh", "-c", "id -u; id -g"}, "1500\n1500\n"},
		{[]string{"-u", "nobody", "appimg", "sh", "-c", "id -u; id -g"}, "65534\n65534\n"},
		{[]string{"--net", "host", "-u", "nobody", "appimg", "id", "-u"}, "65534\n"},
		{[]string{"appimg", "cat", "/proc/self/uid_map"}, ""},
		// Files are owned as in the image: app writes its 0700 home.
		{[]string{"appimg", "sh", "-c", "stat -c '%u:%g %a' /home/app /home/app/owned /etc/passwd; touch /home/app/new && cat /home/app/owned"},
			"1500:1500 700\n1500:1500 600\n0:0 644\nmine\n"},
	} {
		args := append([]string{"run", "--rm"}, c.args...)
		if c.args[0] != "--net" {
			args = append([]string{"run", "--rm", "--net", "none"}, c.args...)
		}
		out, stderr, err := u.img(nil, args...)
		if err != nil {
			t.Errorf("%v: %v\n%s%s", args, err, out, stderr)
			continue
		}
		if c.want != "" && out != c.want {
			t.Errorf("%v: got %q, want %q", args, out, c.want)
		}
		if c.want == "" {
			want := fmt.Sprintf("1 %d %d", u.SubStart, rlSubCount)
			if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
				t.Errorf("uid_map %q lacks %q", out, want)
			}
		}
	}
	// On disk the owners are the subordinate ids; rm (as the user, who
	// cannot enter /home/app) removes every trace.
	out, stderr, err = u.img(nil, "run", "--net", "none", "--name", "keep", "appimg", "true")
	if err != nil {
		t.Fatalf("run --name keep: %v %s%s", err, out, stderr)
	}
	homes, _ := filepath.Glob(filepath.Join(u.home, "store", "containers", "*", "bundle", "rootfs", "home", "app"))
	var st syscall.Stat_t
	if len(homes) != 1 || syscall.Lstat(homes[0], &st) != nil || int(st.Uid) != u.SubStart+1499 || int(st.Gid) != u.SubStart+1499 {
		t.Errorf("/home/app on disk: %v owner %d:%d, want %d", homes, st.Uid, st.Gid, u.SubStart+1499)
	}
	if out, stderr, err := u.img(nil, "rm", "keep"); err != nil {
		t.Fatalf("rm keep: %v %s%s", err, out, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(u.home, "store", "containers", "*", "bundle")); len(left) != 0 {
		t.Errorf("rm left %v", left)
	}
	if ents, _ := os.ReadDir(filepath.Join(u.home, "store", "containers", "state")); len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
}

// TestRootlessBuildSubIDs: a rootless `myimg build` runs as root of a
// user namespace with the user's subordinate ranges and a mount namespace
// of its own: overlay mounts work there (userxattr), RUN steps may switch
// to a non-root USER and files keep the owners the steps gave them.
func TestRootlessBuildSubIDs(t *testing.T) {
	u := newRLUser(t)
	u.AddSubIDs()
	tarball := filepath.Join(u.home, "rootfs.tar")
	writeUserImageTar(t, tarball)
	os.Chown(tarball, u.UID, u.GID)
	if out, stderr, err := u.img(nil, "import", "-c", "USER app", tarball, "appimg"); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, stderr)
	}
	ctx := filepath.Join(u.home, "ctx")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(`FROM appimg
USER root
RUN mkdir -p /data /gone/sub && chown 1500:1500 /data && touch /gone/sub/f
RUN rm -rf /gone/sub && mkdir /gone/sub
USER app
RUN id -u > /data/who && touch /home/app/built
`), 0o644)
	os.Chown(ctx, u.UID, u.GID)
	if out, stderr, err := u.img(nil, "build", "-t", "built", ctx); err != nil {
		t.Fatalf("rootless build: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err := u.img(nil, "run", "--rm", "--net", "none", "built", "sh", "-c",
		"cat /data/who; stat -c %u:%g /data /data/who /home/app/built; ls /gone/sub | wc -l")
	if want := "1500\n1500:1500\n1500:1500\n1500:1500\n0\n"; err != nil || out != want {
		t.Fatalf("built image: %v %q (want %q)\n%s", err, out, want, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(u.home, "store", "ingest", "*")); len(m) != 0 {
		t.Errorf("build left %v", m)
	}
	// prune deletes layer dirs holding dirs owned by subordinate ids
	// (the user alone may not delete /data/who): only appimg's stays.
	if out, stderr, err := u.img(nil, "rmi", "built"); err != nil {
		t.Fatalf("rmi: %v %s%s", err, out, stderr)
	}
	if out, stderr, err := u.img(nil, "prune", "--cache"); err != nil {
		t.Fatalf("prune: %v %s%s", err, out, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(u.home, "store", "layers", "*")); len(left) != 1 {
		t.Errorf("layer dirs after prune: %v, want appimg's only", left)
	}
}
