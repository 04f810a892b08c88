//go:build integration

package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// grantFuse makes /dev/fuse usable by every user for the test (it is
// 0600 on this host), restoring its mode after.
func grantFuse(t *testing.T) {
	t.Helper()
	st, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	if err := os.Chmod("/dev/fuse", 0o666); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod("/dev/fuse", st.Mode().Perm()) })
}

// storageContainerfile creates (/data, /fresh), deletes (/del/x, then
// /del: whiteouts) and replaces a directory (/gone/sub: opaque).
const storageContainerfile = `FROM appimg
USER root
RUN mkdir -p /data /gone/sub /del && touch /gone/sub/f /del/x /del/y && echo hi > /data/f && chown 1500:1500 /data/f
RUN rm -rf /gone/sub && mkdir /gone/sub && touch /gone/sub/new && rm /del/x && echo more >> /data/f && mkdir /fresh && touch /fresh/a
RUN rm -rf /del
RUN busybox stat -f -c "ROOTFS=%t" /
`

// storageDrivers are the three ways of making a build's rootfs, forced
// as buildah users force them.
var storageDrivers = []struct {
	name string
	env  []string
	args []string
	fs   string // the RUN's root's f_type (statfs)
}{
	{"overlay", []string{"STORAGE_DRIVER=overlay"}, nil, "ROOTFS=794c7630"},
	{"fuse", nil, []string{"--storage-driver", "overlay", "--storage-opt", "overlay.mount_program=/usr/bin/fuse-overlayfs"}, "ROOTFS=65735546"},
	{"vfs", nil, []string{"--storage-driver", "vfs"}, "ROOTFS=ef53"},
}

// TestRootlessBuildStorageDrivers: a rootless build forced onto the
// kernel's overlay, fuse-overlayfs and the vfs copy gives the same
// diff_ids and contents; the second RUN's layer has the whiteout and the
// opaque directory (and no opaque mark on the new /fresh, which
// fuse-overlayfs marks); unknown drivers and options are refused naming
// the flag.
func TestRootlessBuildStorageDrivers(t *testing.T) {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Skip("no fuse-overlayfs")
	}
	grantFuse(t)
	u := newRLUser(t)
	u.AddSubIDs()
	ctx := rlStorageSetup(t, u)
	var first []string
	for _, d := range storageDrivers {
		tag := "st-" + d.name
		args := append(append([]string{"build", "--no-cache", "--timestamp", "1700000000", "-t", tag}, d.args...), ctx)
		out, stderr, err := u.img(d.env, args...)
		if err != nil {
			t.Fatalf("%s: build: %v\n%s%s", d.name, err, out, stderr)
		}
		// The last RUN changes nothing: an empty layer with every kind.
		if !strings.Contains(out, d.fs+"\n") {
			t.Errorf("%s: RUN's rootfs is not %s:\n%s", d.name, d.fs, out)
		}
		ids := rlDiffIDs(t, u, tag)
		out, stderr, err = u.img(nil, "run", "--rm", "--net", "none", tag, "sh", "-c",
			"ls -a /gone/sub; ls /del 2>&1; cat /data/f; stat -c %u /data/f; ls /fresh")
		if want := ".\n..\nnew\nls: /del: No such file or directory\nhi\nmore\n1500\na\n"; err != nil || out != want {
			t.Errorf("%s: image contents %q (want %q) %v %s", d.name, out, want, err, stderr)
		}
		if first == nil {
			first = ids
			rlCheckSecondLayer(t, u, ids[len(ids)-2])
			continue
		}
		if strings.Join(ids, " ") != strings.Join(first, " ") {
			t.Errorf("%s: diff_ids %v, overlay gave %v", d.name, ids, first)
			rlCheckSecondLayer(t, u, ids[len(ids)-2])
		}
	}
	// Fedora's stock storage.conf (driver overlay, mountopt
	// nodev,metacopy=on): the same layers, metacopy left out with a line
	// (with userxattr in the user namespace the kernel refuses it).
	conf := filepath.Join(u.home, "fedora-storage.conf")
	os.WriteFile(conf, []byte(fedoraStorageConf), 0o644)
	out, stderr, err := u.img([]string{"CONTAINERS_STORAGE_CONF=" + conf}, "build", "--no-cache", "--timestamp", "1700000000", "-t", "st-fedora", ctx)
	if err != nil || !strings.Contains(out, "ROOTFS=794c7630\n") || !strings.Contains(out, "metacopy=on not applied to build steps") {
		t.Errorf("Fedora's storage.conf: %v\n%s%s", err, out, stderr)
	} else if ids := rlDiffIDs(t, u, "st-fedora"); strings.Join(ids, " ") != strings.Join(first, " ") {
		t.Errorf("Fedora's storage.conf: diff_ids %v, overlay gave %v", ids, first)
	}
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--storage-driver", "btrfs"}, "--storage-driver"},
		{[]string{"STORAGE_DRIVER=zfs"}, nil, "$STORAGE_DRIVER"},
		{nil, []string{"--storage-opt", "overlay.mountopt=nodev"}, "--storage-opt"},
		{[]string{"STORAGE_OPTS=overlay.mount_program=/usr/bin/fuse-overlayfs,overlay.mountopt=nodev"}, nil, "overlay.mountopt"},
		{nil, []string{"--storage-driver", "vfs", "--storage-opt", "overlay.mount_program=/usr/bin/fuse-overlayfs"}, "vfs"},
	} {
		_, stderr, err := u.img(c.env, append(append([]string{"build"}, c.args...), ctx)...)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%v %v: %v %q, want an error naming %s", c.env, c.args, err, stderr, c.want)
		}
	}
}

// TestRootlessBuildFuseDevice: fuse-overlayfs forced where /dev/fuse
// cannot be opened (this host's 0600) or does not exist (a /dev without
// it) fails naming /dev/fuse and leaves nothing behind.
func TestRootlessBuildFuseDevice(t *testing.T) {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Skip("no fuse-overlayfs")
	}
	st, err := os.Stat("/dev/fuse")
	if err != nil || st.Mode().Perm()&0o006 != 0 {
		t.Skipf("/dev/fuse is not root's only here: %v %v", st.Mode(), err)
	}
	u := newRLUser(t)
	u.AddSubIDs()
	ctx := rlStorageSetup(t, u)
	fuse := []string{"build", "--storage-opt", "overlay.mount_program=/usr/bin/fuse-overlayfs", ctx}
	if _, stderr, err := u.img(nil, fuse...); err == nil || !strings.Contains(stderr, "/dev/fuse") || !strings.Contains(stderr, "cannot open") {
		t.Errorf("fuse with /dev/fuse 0600: %v %q", err, stderr)
	}
	// A mount namespace whose /dev lacks fuse (the other nodes bound in).
	script := `set -e
old=$(mktemp -d); mount --rbind /dev "$old"; mount -t tmpfs -o mode=0755 none /dev
for n in null zero full random urandom tty; do touch /dev/$n; mount --bind "$old/$n" /dev/$n; done
umount -l "$old"; rmdir "$old"
exec setpriv --reuid=` + fmt.Sprint(u.UID) + ` --regid=` + fmt.Sprint(u.GID) + ` --clear-groups env HOME=` + u.home + ` PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh",
		filepath.Join(binDir, "myimg"), "--root", filepath.Join(u.home, "store")}, fuse...)...)
	cmd.Dir = u.home
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/dev/fuse, which does not exist") {
		t.Errorf("fuse without /dev/fuse: %v %s", err, out)
	}
	if m, _ := filepath.Glob(filepath.Join(u.home, "store", "ingest", "*")); len(m) != 0 {
		t.Errorf("failed builds left %v", m)
	}
	if _, stderr, err := u.img(nil, "build", "--storage-driver", "vfs", "-t", "novfs", ctx); err != nil {
		t.Errorf("vfs needs no /dev/fuse: %v %s", err, stderr)
	}
}

// rlStorageSetup imports appimg for u and writes the context.
func rlStorageSetup(t *testing.T, u *rlUser) string {
	t.Helper()
	tarball := filepath.Join(u.home, "rootfs.tar")
	writeUserImageTar(t, tarball)
	os.Chown(tarball, u.UID, u.GID)
	if out, stderr, err := u.img(nil, "import", tarball, "appimg"); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, stderr)
	}
	ctx := filepath.Join(u.home, "ctx")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(storageContainerfile), 0o644)
	os.Chown(ctx, u.UID, u.GID)
	return ctx
}

func rlDiffIDs(t *testing.T, u *rlUser, ref string) []string {
	t.Helper()
	out, stderr, err := u.img(nil, "inspect", "--type", "config", ref)
	if err != nil {
		t.Fatalf("inspect %s: %v %s", ref, err, stderr)
	}
	var c struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || len(c.RootFS.DiffIDs) != 4 {
		t.Fatalf("inspect %s: %v %s", ref, err, out)
	}
	return c.RootFS.DiffIDs
}

// rlCheckSecondLayer reads the second RUN's layer (stored uncompressed:
// its blob is its diff_id) for the whiteout, the opaque dir and no
// opaque mark on the new directory.
func rlCheckSecondLayer(t *testing.T, u *rlUser, diffID string) {
	t.Helper()
	f, err := os.Open(filepath.Join(u.home, "store", "blobs", "sha256", strings.TrimPrefix(diffID, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		for k := range h.PAXRecords {
			if strings.Contains(k, "fuseoverlayfs") || strings.Contains(k, "overlay.") {
				t.Errorf("layer %s: %s keeps %s", diffID, h.Name, k)
			}
		}
	}
	got := strings.Join(names, " ")
	for _, want := range []string{"del/.wh.x", "gone/sub/.wh..wh..opq", "gone/sub/new", "fresh/a"} {
		if !strings.Contains(got, want) {
			t.Errorf("layer %s lacks %s: %s", diffID, want, got)
		}
	}
	for _, n := range names {
		if n == "fresh/.wh..wh..opq" || strings.HasSuffix(n, "/.wh..opq") {
			t.Errorf("layer %s has fuse-overlayfs' marks: %s", diffID, got)
		}
	}
}
