//go:build integration

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// buildCtx writes a context with this Containerfile (and files) and
// builds it as tag with extra flags; it returns the output and error.
func buildCtx(t *testing.T, root, tag, containerfile string, files map[string]string, extra ...string) (string, error) {
	t.Helper()
	ctx := t.TempDir()
	files["Containerfile"] = containerfile
	for p, c := range files {
		full := filepath.Join(ctx, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"build", "--cgroup-parent", cgroupP, "-t", tag}, extra...)
	return myimg(t, root, append(args, ctx)...)
}

// imageFile reads a file of a built image (unpacked with --copy).
func imageFile(t *testing.T, root, image, p string) string {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "b")
	mustImg(t, root, "unpack", "--copy", "-q", image, bundle)
	b, err := os.ReadFile(filepath.Join(bundle, "rootfs", p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ifaces lists the interface names of a /proc/net/dev.
func ifaces(dev string) []string {
	var out []string
	for _, l := range strings.Split(dev, "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
			out = append(out, strings.TrimSpace(name))
		}
	}
	return out
}

// RUN --network: none has only lo, host has the host's interfaces,
// default follows the build's --network.
func TestRunNetworkFlag(t *testing.T) {
	root := busyboxStore(t)
	hostDev, _ := os.ReadFile("/proc/net/dev")
	host := ifaces(string(hostDev))
	if len(host) < 2 {
		t.Fatalf("the host has only %v", host)
	}
	cf := "FROM busybox\nRUN --network=host cat /proc/net/dev > /host\nRUN --network=none cat /proc/net/dev > /none\nRUN cat /proc/net/dev > /default\n"
	for _, c := range []struct {
		flags []string
		def   int // interfaces RUN without --network sees
	}{{nil, 1}, {[]string{"--network", "host"}, len(host)}} {
		tag := "net" + strconv.Itoa(len(c.flags))
		if out, err := buildCtx(t, root, tag, cf, map[string]string{}, c.flags...); err != nil {
			t.Fatalf("%v: %v\n%s", c.flags, err, out)
		}
		if got := ifaces(imageFile(t, root, tag, "host")); len(got) != len(host) {
			t.Errorf("%v: RUN --network=host sees %v, the host has %v", c.flags, got, host)
		}
		if got := ifaces(imageFile(t, root, tag, "none")); len(got) != 1 || got[0] != "lo" {
			t.Errorf("%v: RUN --network=none sees %v", c.flags, got)
		}
		if got := ifaces(imageFile(t, root, tag, "default")); len(got) != c.def {
			t.Errorf("%v: RUN sees %v, want %d interfaces", c.flags, got, c.def)
		}
	}
}

// RUN --security=insecure is refused unless --allow security.insecure,
// and then runs with CAP_SYS_ADMIN and an unmasked /proc (timer_list).
func TestRunSecurityInsecure(t *testing.T) {
	root := busyboxStore(t)
	cf := "FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status > /caps && head -c1 /proc/timer_list | wc -c > /masked\nRUN grep CapEff /proc/self/status > /plain\n"
	out, err := buildCtx(t, root, "sec", cf, map[string]string{})
	if err == nil || !strings.Contains(out, "Containerfile:2: RUN: --security=insecure is refused unless the build is started with --allow security.insecure") {
		t.Fatalf("without --allow: %v\n%s", err, out)
	}
	if out, err := buildCtx(t, root, "sec", cf, map[string]string{}, "--allow", "security.insecure"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	capEff := func(p string) uint64 {
		f := strings.Fields(imageFile(t, root, "sec", p))
		v, err := strconv.ParseUint(f[len(f)-1], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const sysAdmin = 1 << 21
	if capEff("caps")&sysAdmin == 0 || capEff("plain")&sysAdmin != 0 {
		t.Fatalf("CapEff insecure %x, sandbox %x", capEff("caps"), capEff("plain"))
	}
	if got := strings.TrimSpace(imageFile(t, root, "sec", "masked")); got != "1" {
		t.Fatalf("/proc/timer_list (masked by default) under --security=insecure: read %q bytes", got)
	}
	if out, err := buildCtx(t, root, "sec2", cf, map[string]string{}, "--allow", "nosuch"); err == nil || !strings.Contains(out, `--allow "nosuch"`) {
		t.Fatalf("--allow nosuch: %v\n%s", err, out)
	}
}
