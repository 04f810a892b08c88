//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// armProbe is an arm64 /bin/sh for the test's base: `sh -c CMD` writes
// its GOARCH and CMD to /probe-out (so a shell-form RUN runs it).
const armProbe = `package main

import (
	"os"
	"runtime"
	"strings"
)

func main() {
	out := runtime.GOARCH + " " + strings.Join(os.Args[1:], " ") + "\n"
	if err := os.WriteFile("/probe-out", []byte(out), 0o644); err != nil {
		os.Exit(3)
	}
}
`

// buildArmProbe cross-compiles armProbe (a foreign-arch rootfs without
// downloading one or touching the host's dpkg architectures).
func buildArmProbe(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module probe\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(armProbe), 0o644)
	cmd := exec.Command("go", "build", "-o", "sh", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the arm64 probe: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sh"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// qemuAarch64 makes sure the host runs arm64 binaries through Debian's
// qemu-user-static handler (installed by contrib/install-deps.sh: no
// skip): binfmt_misc is mounted if it is not, the handler registered from
// /usr/lib/binfmt.d if it is not (flags F: the kernel opens the
// interpreter now, so it works inside the build's rootfs); both undone at
// cleanup. It returns whether the test registered the handler.
func qemuAarch64(t *testing.T) bool {
	t.Helper()
	const dir, conf = "/proc/sys/fs/binfmt_misc", "/usr/lib/binfmt.d/qemu-aarch64.conf"
	line, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("%v: apt-get install qemu-user-static (contrib/install-deps.sh)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "register")); err != nil {
		if err := syscall.Mount("binfmt_misc", dir, "binfmt_misc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
			t.Fatalf("mounting binfmt_misc at %s: %v", dir, err)
		}
		t.Cleanup(func() {
			if err := syscall.Unmount(dir, 0); err != nil {
				t.Errorf("unmounting %s: %v", dir, err)
			}
		})
	}
	entry := filepath.Join(dir, "qemu-aarch64")
	if _, err := os.Stat(entry); err == nil {
		return false
	}
	if err := os.WriteFile(filepath.Join(dir, "register"), []byte(strings.TrimSpace(string(line))), 0); err != nil {
		t.Fatalf("registering %s: %v", conf, err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(entry, []byte("-1"), 0); err != nil {
			t.Errorf("unregistering %s: %v", entry, err)
		}
	})
	return true
}

// --platform linux/arm64 with RUN (shell and exec form) runs the arm64
// binaries through the host's qemu binfmt_misc handler; a disabled
// handler is refused before running, naming the platform and the fix.
func TestBuildForeignArchRun(t *testing.T) {
	registered := qemuAarch64(t)
	root := filepath.Join(t.TempDir(), "store")
	files := map[string]string{"sh": buildArmProbe(t)}
	cf := "FROM scratch\nCOPY --chmod=0755 sh /bin/sh\nRUN echo shell form\n"
	if out, err := buildCtx(t, root, "arm", cf, files, "--platform", "linux/arm64"); err != nil {
		t.Fatalf("RUN for linux/arm64: %v\n%s", err, out)
	}
	if got := imageFile(t, root, "arm", "probe-out"); got != "arm64 -c echo shell form\n" {
		t.Fatalf("shell-form RUN wrote %q", got)
	}
	cf = "FROM arm\nRUN [\"/bin/sh\", \"exec\", \"form\"]\n"
	if out, err := buildCtx(t, root, "arm2", cf, map[string]string{}, "--platform", "linux/arm64"); err != nil {
		t.Fatalf("exec-form RUN for linux/arm64: %v\n%s", err, out)
	}
	if got := imageFile(t, root, "arm2", "probe-out"); got != "arm64 exec form\n" {
		t.Fatalf("exec-form RUN wrote %q", got)
	}
	if conf := mustImg(t, root, "inspect", "arm2"); !strings.Contains(conf, `"architecture": "arm64"`) {
		t.Fatalf("not an arm64 image:\n%s", conf)
	}
	if !registered {
		return // the host's own handler: not disabled under others' feet
	}
	entry := "/proc/sys/fs/binfmt_misc/qemu-aarch64"
	if err := os.WriteFile(entry, []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	out, err := buildCtx(t, root, "arm3", "FROM arm\nRUN echo no\n", map[string]string{}, "--platform", "linux/arm64")
	os.WriteFile(entry, []byte("1"), 0)
	if err == nil || !strings.Contains(out, "Containerfile:2: RUN: RUN for linux/arm64 on this linux/"+runtime.GOARCH+" host needs a binfmt_misc handler: "+entry+" is disabled") {
		t.Fatalf("RUN with the handler disabled: %v\n%s", err, out)
	}
	if _, err := myimg(t, root, "inspect", "arm3"); err == nil {
		t.Fatal("the refused build left an image")
	}
}
