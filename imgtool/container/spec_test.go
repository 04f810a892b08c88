package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/specs"
)

func TestApplyOptions(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "bundle", "rootfs")
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nweb:x:33:44::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc/group"), []byte("root:x:0:\nwww:x:44:\n"), 0o644)
	vol := t.TempDir()
	o := &Options{
		Image: "img", Args: []string{"httpd", "-f"}, Env: []string{"A=1"}, User: "web", Workdir: "/srv/app",
		Volumes: []string{vol + ":/data:ro"}, Memory: "64m", CPUs: "0.5", PidsLimit: 20,
		Net: network.ModeBridge, Bridge: "b0", Subnet: "10.1.0.0/24", Runtime: "/bin/true",
	}
	p, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{ID: strings.Repeat("1", 64), Hostname: "h1", Bundle: filepath.Join(dir, "bundle"), CgroupsPath: "/myimg/x",
		Network: network.Attachment{Mode: network.ModeBridge, Netns: "/run/myimg/netns/x"}}
	s := specs.Default()
	if err := applyOptions(s, r, o, p, rootfs); err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Process.Args, " ") != "httpd -f" || s.Process.User.UID != 33 || s.Process.User.GID != 44 || s.Process.Cwd != "/srv/app" || s.Hostname != "h1" {
		t.Errorf("process %+v hostname %s", s.Process, s.Hostname)
	}
	if st, err := os.Stat(filepath.Join(rootfs, "srv/app")); err != nil || !st.IsDir() {
		t.Error("workdir not created in rootfs")
	}
	env := strings.Join(s.Process.Env, " ")
	if !strings.Contains(env, "A=1") || !strings.Contains(env, "HOSTNAME=h1") {
		t.Errorf("env %s", env)
	}
	res := s.Linux.Resources
	if res == nil || *res.Memory.Limit != 64<<20 || *res.CPU.Quota != 50000 || *res.CPU.Period != 100000 || *res.Pids.Limit != 20 {
		t.Fatalf("resources %+v", res)
	}
	if s.Linux.CgroupsPath != "/myimg/x" {
		t.Errorf("cgroupsPath %q", s.Linux.CgroupsPath)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
		if m.Destination == "/data" && (m.Source != vol || !strings.Contains(strings.Join(m.Options, ","), "ro")) {
			t.Errorf("volume mount %+v", m)
		}
	}
	for _, d := range []string{"/data", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname"} {
		if !strings.Contains(strings.Join(dests, " "), d) {
			t.Errorf("no mount on %s: %v", d, dests)
		}
	}
	o.User = "nosuchuser"
	if err := applyOptions(specs.Default(), r, o, p, rootfs); err == nil || !strings.HasPrefix(err.Error(), "-u") {
		t.Errorf("unknown user: %v", err)
	}
}
