//go:build integration

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests drive the real binaries as root: bin/myimg and bin/myrun
// are built into a temp dir (so myimg finds myrun beside itself).

var (
	binDir  string
	repo    string
	cgroupP string
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repo = filepath.Dir(wd)
	binDir, _ = os.MkdirTemp("", "myimg-itest-bin-")
	cgroupP = fmt.Sprintf("/myimg-test-%d", os.Getpid())
	for _, b := range [][2]string{{"myimg", "./imgtool"}, {"myrun", "./runtime"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b[0]), b[1])
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", b[0], err, out)
			os.RemoveAll(binDir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(binDir)
	cg, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupP)
	for _, d := range append(cg, "/sys/fs/cgroup"+cgroupP) {
		os.Remove(d)
	}
	os.Exit(code)
}

func myimg(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "myimg"), append([]string{"--root", root}, args...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "MYIMG_RUNTIME=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustImg(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := myimg(t, root, args...)
	if err != nil {
		t.Fatalf("myimg %v: %v\n%s", args, err, out)
	}
	return out
}

func busyboxStore(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "store")
	cmd := exec.Command(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", root)
	cmd.Env = append(os.Environ(), "MYIMG="+filepath.Join(binDir, "myimg"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox.sh: %v\n%s", err, out)
	}
	return root
}

// runBundle runs a bundle with our runtime and its own state dir.
func runBundle(t *testing.T, bundle string) string {
	t.Helper()
	state := t.TempDir()
	id := fmt.Sprintf("myimg-itest-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command(filepath.Join(binDir, "myrun"), "--root", state, "run", "--bundle", bundle, id)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	exec.Command(filepath.Join(binDir, "myrun"), "--root", state, "delete", "--force", id).Run()
	if err != nil {
		t.Fatalf("myrun run: %v\n%s", err, out.String())
	}
	return out.String()
}

func buildSample(t *testing.T, root string, extra ...string) string {
	args := append([]string{"build", "--cgroup-parent", cgroupP, "-t", "sample"}, extra...)
	return mustImg(t, root, append(args, "contrib/examples/sample")...)
}

func TestDemoImportUnpackRun(t *testing.T) {
	root := busyboxStore(t)
	bundle := filepath.Join(t.TempDir(), "b")
	mustImg(t, root, "unpack", "busybox", bundle)
	defer mustImg(t, root, "unmount", bundle)
	cfg, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	cfg = bytes.Replace(cfg, []byte(`"sh"`), []byte(`"sh","-c","echo hello from busybox; id -u"`), 1)
	os.WriteFile(filepath.Join(bundle, "config.json"), cfg, 0o644)
	if out := runBundle(t, bundle); !strings.Contains(out, "hello from busybox\n0\n") {
		t.Fatalf("output %q", out)
	}
	// Second unpack is served from the layer cache.
	b2 := filepath.Join(t.TempDir(), "b2")
	start := time.Now()
	mustImg(t, root, "unpack", "-q", "busybox", b2)
	if d := time.Since(start); d > time.Second {
		t.Errorf("cached unpack took %v", d)
	}
	mustImg(t, root, "unmount", b2)
	// A copy unpack works too.
	b3 := filepath.Join(t.TempDir(), "b3")
	mustImg(t, root, "unpack", "--copy", "-q", "busybox", b3)
	if _, err := os.Stat(filepath.Join(b3, "rootfs/bin/busybox")); err != nil {
		t.Fatal(err)
	}
}

var sampleWant = []string{
	"hello from the builder stage on amd64",
	"built by a heredoc script",
	"version=1.0",
	"data: alpha beta",
	"unpacked: from the tarball",
	"sub: keep.txt logs: keep.log",
	"user: daemon args: default-arg",
}

func TestSampleBuildRunRebuild(t *testing.T) {
	root := busyboxStore(t)
	out := buildSample(t, root)
	if !strings.Contains(out, "STEP 14/25: RUN rm /srv/app/sub/remove-me.txt") {
		t.Fatalf("no step lines:\n%s", out)
	}
	bundle := filepath.Join(t.TempDir(), "b")
	mustImg(t, root, "unpack", "-q", "sample", bundle)
	got := runBundle(t, bundle)
	mustImg(t, root, "unmount", bundle)
	if strings.TrimSpace(got) != strings.Join(sampleWant, "\n") {
		t.Fatalf("sample printed:\n%s\nwant:\n%s", got, strings.Join(sampleWant, "\n"))
	}
	cfg := mustImg(t, root, "inspect", "--type", "config", "sample")
	for _, w := range []string{`"Healthcheck"`, `"OnBuild"`, `"StopSignal": "SIGTERM"`, `"9090/udp"`, `"/srv/app/state"`, `"User": "daemon"`} {
		if !strings.Contains(cfg, w) {
			t.Errorf("config lacks %s:\n%s", w, cfg)
		}
	}
	start := time.Now()
	out = buildSample(t, root)
	el := time.Since(start)
	if strings.Contains(out, "heredoc") && strings.Contains(out, "built by") || strings.Count(out, "Using cache") != 13 {
		t.Fatalf("rebuild ran steps:\n%s", out)
	}
	t.Logf("no-change rebuild took %v", el)
}

func TestReproducibleWithSourceDateEpoch(t *testing.T) {
	os.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	defer os.Unsetenv("SOURCE_DATE_EPOCH")
	var digests []string
	for i := 0; i < 2; i++ {
		root := busyboxStore(t)
		buildSample(t, root, "--no-cache")
		out := mustImg(t, root, "inspect", "sample")
		i := strings.Index(out, `"ManifestDigest": "`)
		digests = append(digests, out[i+19:i+19+71])
	}
	if digests[0] != digests[1] {
		t.Fatalf("manifests differ: %v", digests)
	}
}

func TestInteropSkopeoUmoci(t *testing.T) {
	for _, tool := range []string{"skopeo", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	root := busyboxStore(t)
	buildSample(t, root)
	tmp := t.TempDir()
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	if out := run("skopeo", "inspect", "oci:"+root+":sample:latest"); !strings.Contains(out, `"Architecture": "amd64"`) {
		t.Fatalf("skopeo inspect:\n%s", out)
	}
	run("skopeo", "copy", "oci:"+root+":sample:latest", "oci:"+tmp+"/skopeo:copied")
	run("umoci", "unpack", "--image", root+":sample:latest", tmp+"/umoci-ours")
	if b, err := os.ReadFile(tmp + "/umoci-ours/rootfs/srv/app/data/a.txt"); err != nil || string(b) != "alpha\n" {
		t.Fatalf("umoci unpack: %q %v", b, err)
	}
	// umoci writes a new layer; build on top of umoci's and skopeo's
	// layouts. (repack needs the unpacked manifest in its layout: skopeo
	// gzipped our uncompressed layers, so that is skopeo's copy.)
	run("umoci", "unpack", "--image", tmp+"/skopeo:copied", tmp+"/umoci-bundle")
	os.WriteFile(tmp+"/umoci-bundle/rootfs/from-umoci", []byte("umoci\n"), 0o644)
	run("umoci", "repack", "--image", tmp+"/skopeo:umoci", tmp+"/umoci-bundle")
	ctx := t.TempDir()
	os.WriteFile(ctx+"/Containerfile", []byte(fmt.Sprintf(
		"FROM oci:%s/skopeo:copied AS s\nFROM oci:%s/skopeo:umoci\nCOPY --from=s /srv/app/version /v\nUSER root\nRUN cat /from-umoci /v > /both\n", tmp, tmp)), 0o644)
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "interop", ctx)
	bundle := filepath.Join(t.TempDir(), "b")
	mustImg(t, root, "unpack", "--copy", "-q", "interop", bundle)
	if b, _ := os.ReadFile(bundle + "/rootfs/both"); string(b) != "umoci\nversion=1.0\n" {
		t.Fatalf("/both = %q", b)
	}
	// oci-archive and docker-archive written by skopeo load back.
	run("skopeo", "copy", "oci:"+root+":sample:latest", "docker-archive:"+tmp+"/d.tar:sample:docker")
	mustImg(t, root, "load", "-i", tmp+"/d.tar")
	mustImg(t, root, "save", "-o", tmp+"/o.tar", "sample")
	run("skopeo", "inspect", "oci-archive:"+tmp+"/o.tar:sample:latest")
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestRegistryPushPull(t *testing.T) {
	reg, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry not installed (apt-get install docker-registry)")
	}
	root := busyboxStore(t)
	dir := t.TempDir()
	addr := freePort(t)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n", dir, addr)
	os.WriteFile(dir+"/config.yml", []byte(cfg), 0o644)
	cmd := exec.Command(reg, "serve", dir+"/config.yml")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := 0; i < 50; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The registry speaks plain HTTP on 127.0.0.1, a name go-containerregistry
	// would fall back to HTTP for on its own.
	conf := filepath.Join(dir, "registries.conf")
	os.WriteFile(conf, nil, 0o644)
	t.Setenv("CONTAINERS_REGISTRIES_CONF", conf)
	ref := addr + "/myimg/busybox:t1"
	for _, args := range [][]string{{"push", "busybox", ref}, {"push", "--tls-verify=true", "busybox", ref}, {"pull", ref}} {
		out, err := myimg(t, root, args...)
		if err == nil || !strings.Contains(out, "plain HTTP is refused: use --tls-verify=false") {
			t.Fatalf("%v over plain HTTP with TLS verification on: %v\n%s", args, err, out)
		}
	}
	if cat := httpGet(t, "http://"+addr+"/v2/_catalog"); strings.Contains(cat, "myimg/busybox") {
		t.Fatalf("a refused push reached the registry: %s", cat)
	}
	mustImg(t, root, "push", "--tls-verify=false", "busybox", ref)
	root2 := filepath.Join(t.TempDir(), "s2")
	mustImg(t, root2, "pull", "--tls-verify=false", ref)
	// The image (config) is the same; its layers, stored uncompressed,
	// were gzipped by the push (TestPushCompressesUncompressedLayers).
	a := mustImg(t, root, "inspect", "busybox")
	b := mustImg(t, root2, "inspect", ref)
	if a[strings.Index(a, "ImageID"):][:80] != b[strings.Index(b, "ImageID"):][:80] || !strings.Contains(b, "layer.v1.tar+gzip") {
		t.Fatalf("images differ:\n%s\n%s", a, b)
	}
	// A registry marked insecure in registries.conf needs no flag; an
	// explicit --tls-verify=true still wins; a blocked one is refused.
	os.WriteFile(conf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n\n[[registry]]\nlocation = \"127.0.0.1:1/blocked\"\nblocked = true\n", addr)), 0o644)
	ref2 := addr + "/myimg/busybox:t2"
	mustImg(t, root, "push", "busybox", ref2)
	root3 := filepath.Join(t.TempDir(), "s3")
	mustImg(t, root3, "pull", ref2)
	if out, err := myimg(t, root3, "pull", "--tls-verify=true", ref2); err == nil || !strings.Contains(out, "plain HTTP is refused") {
		t.Fatalf("--tls-verify=true over an insecure entry: %v\n%s", err, out)
	}
	if out, err := myimg(t, root3, "pull", "127.0.0.1:1/blocked/x:1"); err == nil || !strings.Contains(out, "is blocked in "+conf) {
		t.Fatalf("blocked registry: %v\n%s", err, out)
	}
	// build --pull=missing fetches a FROM image the store lacks (with the
	// same TLS rules); the default never pulls.
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM "+ref+"\nLABEL pulled=yes\n"), 0o644)
	root4 := filepath.Join(t.TempDir(), "s4")
	if out, err := myimg(t, root4, "build", ctx); err == nil || !strings.Contains(out, "not pulled: --pull=missing") {
		t.Fatalf("build without --pull: %v\n%s", err, out)
	}
	os.WriteFile(conf, nil, 0o644)
	if out, err := myimg(t, root4, "build", "--pull=missing", ctx); err == nil || !strings.Contains(out, "plain HTTP is refused") {
		t.Fatalf("build --pull over plain HTTP: %v\n%s", err, out)
	}
	mustImg(t, root4, "build", "--pull=missing", "--tls-verify=false", "-t", "pulled", ctx)
	mustImg(t, root4, "inspect", ref)
}

func TestHostileLoadLeavesStoreUnchanged(t *testing.T) {
	root := busyboxStore(t)
	idx, _ := os.ReadFile(root + "/index.json")
	tmp := t.TempDir()
	// An oci-archive whose only entry escapes.
	var buf bytes.Buffer
	buf.Write(evilTar())
	os.WriteFile(tmp+"/evil.tar", buf.Bytes(), 0o644)
	out, err := myimg(t, root, "load", "-i", tmp+"/evil.tar")
	if err == nil || !strings.Contains(out, `"../evil"`) {
		t.Fatalf("hostile archive: %v\n%s", err, out)
	}
	if idx2, _ := os.ReadFile(root + "/index.json"); !bytes.Equal(idx, idx2) {
		t.Fatal("index changed")
	}
	if _, err := os.Stat(filepath.Join(root, "..", "evil")); err == nil {
		t.Fatal("escaped")
	}
}

// A failing RUN says whether the process failed (its exit status) or the
// runtime could not start it (the runtime's own error), with file and line.
func TestRunStepErrors(t *testing.T) {
	root := busyboxStore(t)
	for _, c := range []struct {
		run, want string
		code      int
	}{
		{`RUN exit 3`, `Containerfile:2: RUN: process "/bin/sh -c exit 3" exited with status 3`, 3},
		{`RUN ["/no-such-tool"]`, `Containerfile:2: RUN: runtime could not run "/no-such-tool":`, 125},
	} {
		ctx := t.TempDir()
		if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\n"+c.run+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := myimg(t, root, "build", "-q", ctx)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: want %q in the error, got %v:\n%s", c.run, c.want, err, out)
		}
		// myimg build exits with a failed RUN's own status.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != c.code {
			t.Errorf("%s: exit %v, want %d", c.run, err, c.code)
		}
	}
}
