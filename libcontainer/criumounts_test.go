package libcontainer

import (
	"os"
	"path/filepath"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Every name a dump writes into the image has a mapping on restore: a
// missing one is CRIU's "No mapping for <id>:... mountpoint".
func TestCRIUMountNamesRoundTrip(t *testing.T) {
	bundle := t.TempDir()
	src := filepath.Join(bundle, "data")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := &rspec.Spec{
		Mounts: []rspec.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/data/", Type: "bind", Source: src, Options: []string{"rbind"}},
			{Destination: "/etc/hosts", Source: "/etc/hosts", Options: []string{"bind", "ro"}},
		},
		Linux: &rspec.Linux{
			MaskedPaths: []string{"/proc/kcore", "/proc/acpi", "/sys/firmware"},
			Devices:     []rspec.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}},
		},
	}
	isFile := func(p string) bool { return p == "/proc/kcore" }
	dump := criuDumpMounts(spec, isFile)
	restore, err := criuRestoreMounts(spec, bundle)
	if err != nil {
		t.Fatal(err)
	}
	mapped := map[string]string{}
	for _, e := range restore {
		mapped[e.GetKey()] = e.GetVal()
	}
	mountpoints := map[string]string{}
	for _, e := range dump {
		mountpoints[e.GetKey()] = e.GetVal()
		if _, ok := mapped[e.GetVal()]; !ok {
			t.Errorf("dump names mountpoint %s %q, restore has no mapping for it (restore: %v)", e.GetKey(), e.GetVal(), mapped)
		}
	}
	for mnt, want := range map[string]string{"/data": "/data", "/etc/hosts": "/etc/hosts", "/proc/kcore": "/dev/null", "/dev/null": "/dev/null", "/dev/fuse": "/dev/fuse", "/dev/tty": "/dev/tty"} {
		if got := mountpoints[mnt]; got != want {
			t.Errorf("dump: mountpoint %s named %q, want %q", mnt, got, want)
		}
	}
	if _, ok := mountpoints["/proc/acpi"]; ok {
		t.Error("a masked directory (a tmpfs) declared external")
	}
	if mapped["/data"] != src || mapped["/etc/hosts"] != "/etc/hosts" || mapped["/dev/null"] != "/dev/null" {
		t.Errorf("restore mappings %v", mapped)
	}
}

// Restore makes the mountpoints create would have made, except below a
// tmpfs (CRIU restores its content).
func TestRestoreMountpoints(t *testing.T) {
	bundle := t.TempDir()
	root := filepath.Join(bundle, "rootfs")
	os.Mkdir(root, 0o755)
	f := filepath.Join(bundle, "file")
	os.WriteFile(f, nil, 0o644)
	spec := &rspec.Spec{Mounts: []rspec.Mount{
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/tmp/x", Type: "bind", Source: bundle},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: "file"},
		{Destination: "/mnt/dir", Type: "bind", Source: bundle},
		{Destination: "/run", Type: "tmpfs", Source: "tmpfs"},
	}}
	if err := restoreMountpoints(spec, bundle, root); err != nil {
		t.Fatal(err)
	}
	for p, dir := range map[string]bool{"/tmp": true, "/etc/resolv.conf": false, "/mnt/dir": true, "/run": true} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.IsDir() != dir {
			t.Errorf("%s: %v (dir %v, want %v)", p, err, err == nil && fi.IsDir(), dir)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "tmp/x")); err == nil {
		t.Error("a mountpoint below a tmpfs was made in the rootfs")
	}
	spec.Mounts = append(spec.Mounts, rspec.Mount{Destination: "/gone", Type: "bind", Source: "nonexistent"})
	if err := restoreMountpoints(spec, bundle, root); err == nil {
		t.Error("a missing bind source was not refused")
	}
}
