//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// myrun runs the runtime as the user with its own state root.
func (u *rlUser) myrun(args ...string) (string, string, error) {
	u.t.Helper()
	g := []string{"--root", filepath.Join(u.home, "myrun-state"), "--rootless", "true"}
	cmd := exec.Command(filepath.Join(binDir, "myrun"), append(g, args...)...)
	cmd.Dir = u.home
	cmd.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "USER=" + u.Name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// ownerOf is path's uid:gid on disk.
func ownerOf(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// TestRootlessUnpackLoadSubIDs: `myimg unpack` by a user with subordinate
// ranges extracts inside a user namespace with those ranges, so files
// are owned as in the image (root's by the user, app's 1500 by
// subuid_start+1499), its config.json carries the same maps so `myrun
// --rootless true run` of the bundle sees the image's owners, and
// `unmount` by the user removes the bundle though the user cannot enter
// app's 0700 home. An image saved and loaded by the user (load only
// stores blobs) runs and unpacks with the image's owners too.
func TestRootlessUnpackLoadSubIDs(t *testing.T) {
	u := newRLUser(t)
	tarball := filepath.Join(u.home, "rootfs.tar")
	writeUserImageTar(t, tarball)
	os.Chown(tarball, u.UID, u.GID)
	show := `CMD ["sh", "-c", "stat -c '%u:%g' /home/app /home/app/owned /etc/passwd; id -u; touch /home/app/new"]`
	if out, stderr, err := u.img(nil, "import", "-c", "USER app", "-c", show, tarball, "appimg"); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, stderr)
	}
	// No ranges: a warning, every file the user's (as before), and
	// unmount by the user works (it used to fail: umount(2) is EPERM).
	b0 := filepath.Join(u.home, "b0")
	_, stderr, err := u.img(nil, "unpack", "appimg", b0)
	if err != nil || !strings.Contains(stderr, "subordinate ids") {
		t.Fatalf("unpack without ranges: %v %q (want a warning)", err, stderr)
	}
	if got, w := ownerOf(t, filepath.Join(b0, "rootfs/home/app")), fmt.Sprintf("%d:%d", u.UID, u.GID); got != w {
		t.Errorf("no ranges: /home/app owned by %s, want %s", got, w)
	}
	if out, stderr, err := u.img(nil, "unmount", b0); err != nil {
		t.Fatalf("unmount without ranges: %v %s%s", err, out, stderr)
	}
	u.AddSubIDs()
	// Ranges but no newuidmap: an error naming it, no bundle made.
	_, stderr, err = u.img([]string{"PATH=/nonexistent"}, "unpack", "appimg", b0)
	if err == nil || !strings.Contains(stderr, "newuidmap") {
		t.Fatalf("unpack without newuidmap: %v %q, want an error naming newuidmap", err, stderr)
	}
	if _, err := os.Lstat(b0); err == nil {
		t.Errorf("failed unpack left %s", b0)
	}
	want := "1500:1500\n1500:1500\n0:0\n1500\n"
	unpackAndRun(t, u, "appimg", "b1", want)

	// load: the archive's layers are stored as blobs, their owners kept.
	archive := filepath.Join(u.home, "app.tar")
	for _, args := range [][]string{{"save", "-o", archive, "appimg"}, {"rmi", "appimg"}, {"load", "-i", archive}} {
		if out, stderr, err := u.img(nil, args...); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, stderr)
		}
	}
	out, stderr, err := u.img(nil, "run", "--rm", "--net", "none", "appimg")
	if err != nil || out != want {
		t.Fatalf("run of the loaded image: %v %q (want %q) %s", err, out, want, stderr)
	}
	unpackAndRun(t, u, "appimg", "b2", want)
}

// unpackAndRun unpacks image as u into u.home/name, checks the owners on
// disk and the bundle's maps, runs it with myrun and unmounts it.
func unpackAndRun(t *testing.T, u *rlUser, image, name, want string) {
	t.Helper()
	bundle := filepath.Join(u.home, name)
	if out, stderr, err := u.img(nil, "unpack", image, bundle); err != nil {
		t.Fatalf("unpack as %s: %v\n%s%s", u.Name, err, out, stderr)
	}
	t.Cleanup(func() { u.img(nil, "unmount", bundle) })
	rootfs := filepath.Join(bundle, "rootfs")
	sub := fmt.Sprintf("%d:%d", u.SubStart+1499, u.SubStart+1499)
	self := fmt.Sprintf("%d:%d", u.UID, u.GID)
	for p, w := range map[string]string{"home/app": sub, "etc/passwd": self, "bin/busybox": self} {
		if got := ownerOf(t, filepath.Join(rootfs, p)); got != w {
			t.Errorf("%s: /%s owned by %s on disk, want %s", name, p, got, w)
		}
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s rspec.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	wantMap := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.UID), Size: 1},
		{ContainerID: 1, HostID: uint32(u.SubStart), Size: rlSubCount}}
	if fmt.Sprint(s.Linux.UIDMappings) != fmt.Sprint(wantMap) || len(s.Linux.GIDMappings) != 2 {
		t.Errorf("%s: config.json maps %v / %v, want uids %v", name, s.Linux.UIDMappings, s.Linux.GIDMappings, wantMap)
	}
	id := fmt.Sprintf("rl17-%s-%d", name, os.Getpid())
	t.Cleanup(func() { u.myrun("delete", "--force", id) })
	out, stderr, err := u.myrun("run", "--bundle", bundle, id)
	if err != nil || out != want {
		t.Errorf("%s: myrun run: %v %q (want %q) %s", name, err, out, want, stderr)
	}
	if out, stderr, err := u.img(nil, "unmount", bundle); err != nil {
		t.Fatalf("unmount as %s: %v\n%s%s", u.Name, err, out, stderr)
	}
	if _, err := os.Lstat(bundle); err == nil {
		t.Errorf("%s: unmount left the bundle", name)
	}
}
