//go:build integration

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startRegistry runs Debian's docker-registry on a loopback port and
// points registries.conf at an empty file; it returns host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	return startRegistryConf(t, "")
}

// startRegistryConf is startRegistry with more lines of the storage
// section (each indented by two spaces).
func startRegistryConf(t *testing.T, storage string) string {
	t.Helper()
	reg, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry not installed (apt-get install docker-registry)")
	}
	dir := t.TempDir()
	addr := freePort(t)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n%shttp:\n  addr: %s\n", dir, storage, addr)
	os.WriteFile(dir+"/config.yml", []byte(cfg), 0o644)
	cmd := exec.Command(reg, "serve", dir+"/config.yml")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 50; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	conf := filepath.Join(dir, "registries.conf")
	os.WriteFile(conf, nil, 0o644)
	t.Setenv("CONTAINERS_REGISTRIES_CONF", conf)
	return addr
}

// podmanEnv is a private podman setup (vfs storage, runc, cgroupfs);
// it returns the environment and the global flags.
func podmanEnv(t *testing.T) ([]string, []string) {
	t.Helper()
	p := privDir(t, "podman")
	graph, run, tmp := p+"/root", p+"/runroot", p+"/tmp"
	os.MkdirAll(tmp, 0o700)
	os.WriteFile(p+"/storage.conf", []byte(fmt.Sprintf(
		"[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", graph, run)), 0o644)
	os.WriteFile(p+"/containers.conf", []byte(
		"[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"+
			"[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nlock_type = \"file\"\n"), 0o644)
	env := []string{"CONTAINERS_STORAGE_CONF=" + p + "/storage.conf", "CONTAINERS_CONF=" + p + "/containers.conf"}
	return env, []string{"--root", graph, "--runroot", run, "--tmpdir", tmp, "--storage-driver", "vfs",
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
}

// --format docker writes Docker v2s2 manifests and configs: after a push,
// skopeo sees the Docker media types and podman (which reads HEALTHCHECK,
// ONBUILD and SHELL only from Docker-format images) sees all three. The
// default OCI image warns that podman will not.
func TestBuildFormatDocker(t *testing.T) {
	needTools(t, "skopeo", "podman")
	root := busyboxStore(t)
	addr := startRegistry(t)
	cf := "FROM busybox\nHEALTHCHECK --interval=7s --retries=4 CMD [\"/bin/true\"]\nSHELL [\"/bin/sh\", \"-xc\"]\nONBUILD RUN echo child\nRUN echo layer > /f\n"
	out, err := buildCtx(t, root, "fmtdocker", cf, map[string]string{}, "--format", "docker")
	if err != nil {
		t.Fatalf("build --format docker: %v\n%s", err, out)
	}
	if out, err := buildCtx(t, root, "fmtoci", cf, map[string]string{}); err != nil || !strings.Contains(out, "[Warning] HEALTHCHECK, ONBUILD, SHELL: kept as Docker-format fields") {
		t.Fatalf("OCI build did not warn about Docker-only fields: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{"--format", "docker", "--compression", "zstd"}, {"--format", "docker", "--annotation", "a=b"}, {"--format", "v1"}} {
		if out, err := buildCtx(t, root, "fmtbad", cf, map[string]string{}, bad...); err == nil || !strings.Contains(out, bad[len(bad)-2]) {
			t.Fatalf("build %v: want an error naming %s: %v\n%s", bad, bad[len(bad)-2], err, out)
		}
	}
	ref := addr + "/myimg/fmt:docker"
	mustImg(t, root, "push", "--tls-verify=false", "fmtdocker", ref)
	raw := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+ref)
	var m struct {
		MediaType string
		Config    struct{ MediaType string }
		Layers    []struct{ MediaType string }
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" || m.Config.MediaType != "application/vnd.docker.container.image.v1+json" || len(m.Layers) != 2 {
		t.Fatalf("manifest is not Docker v2s2:\n%s", raw)
	}
	for _, l := range m.Layers {
		if l.MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
			t.Fatalf("layer media type %s:\n%s", l.MediaType, raw)
		}
	}
	env, pg := podmanEnv(t)
	runTool(t, env, "podman", append(pg, "pull", "--tls-verify=false", "-q", ref)...)
	got := runTool(t, env, "podman", append(pg, "image", "inspect", "--format", "{{json .HealthCheck}}", ref)...)
	for _, want := range []string{`"Test":["CMD","/bin/true"]`, `"Interval":7000000000`, `"Retries":4`} {
		if !strings.Contains(got, want) {
			t.Errorf("podman image inspect: %s lacks %s", strings.TrimSpace(got), want)
		}
	}
	// podman's inspect shows no OnBuild or Shell; the config skopeo reads
	// has them where docker's config keeps them (skopeo without --raw
	// drops them too).
	conf := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--config", "--raw", "docker://"+ref)
	for _, want := range []string{`"OnBuild":["RUN echo child"]`, `"Shell":["/bin/sh","-xc"]`, `"Healthcheck":{"Test":["CMD","/bin/true"]`} {
		var compact bytes.Buffer
		json.Compact(&compact, []byte(conf))
		if !strings.Contains(compact.String(), want) {
			t.Errorf("skopeo inspect --config: lacks %s\n%s", want, conf)
		}
	}
	// The same image read back by us: a FROM of the Docker image works and
	// runs its ONBUILD trigger.
	root2 := filepath.Join(t.TempDir(), "s2")
	mustImg(t, root2, "pull", "--tls-verify=false", ref)
	if out, err := buildCtx(t, root2, "child", "FROM "+ref+"\n", map[string]string{}); err != nil || !strings.Contains(out, "child") {
		t.Fatalf("FROM a Docker-format image: %v\n%s", err, out)
	}
}

// A large COPY says how many files and bytes it copied, and a large layer
// commit its size; neither prints a rate measured over less than a second
// (the old bars' first frame read "390 GB/s"). On a terminal both draw a
// live line while they run: the layer commit its tar bytes against the
// tree's size, as a pull's blob bars do.
func TestBuildProgressLines(t *testing.T) {
	root := busyboxStore(t)
	files := map[string]string{}
	rnd := make([]byte, 200*10000)
	rand.Read(rnd)
	for i := 0; i < 200; i++ {
		files[fmt.Sprintf("tree/d%d/f%d", i%10, i)] = string(rnd[i*10000 : (i+1)*10000])
	}
	out, err := buildCtx(t, root, "big", "FROM busybox\nCOPY tree /tree\n", files)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^COPY: 200 files, 2\.0 MB(, [0-9.]+ [kMG]?B/s)? in [0-9.]+s$`).MatchString(out) {
		t.Errorf("no COPY summary line:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^layer: 2\.[0-9] MB(, [0-9.]+ [kMG]?B/s)? in [0-9.]+s [0-9a-f]{12} \(uncompressed\)$`).MatchString(out) {
		t.Errorf("no layer commit line:\n%s", out)
	}
	// The same build on a terminal (script(1) gives it a pty), --no-cache.
	needTools(t, "script")
	ctx := t.TempDir()
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(ctx, p)), 0o755)
		os.WriteFile(filepath.Join(ctx, p), []byte(c), 0o644)
	}
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nCOPY tree /tree\n"), 0o644)
	line := fmt.Sprintf("%s --root %s build --no-cache --cgroup-parent %s -t big %s", filepath.Join(binDir, "myimg"), root, cgroupP, ctx)
	cmd := exec.Command("script", "-qefc", line, "/dev/null")
	cmd.Env = append(os.Environ(), "MYIMG_RUNTIME=")
	tty, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build on a pty: %v\n%q", err, tty)
	}
	// A live frame is followed by the next frame or the clear, not by the
	// summary's newline.
	for _, re := range []string{`\r\x1b\[KCOPY: [^\r\n]*\r\x1b\[K`, `\r\x1b\[Klayer: [0-9.]+ [kM]?B / 2\.[0-9] MB[^\r\n]*\r\x1b\[K`} {
		if !regexp.MustCompile(re).Match(tty) {
			t.Errorf("no live line %s on a terminal:\n%q", re, tty)
		}
	}
	// A small copy stays quiet.
	out, err = buildCtx(t, root, "small", "FROM busybox\nCOPY f /f\n", map[string]string{"f": "x"})
	if err != nil || strings.Contains(out, "COPY: ") || strings.Contains(out, "layer: ") {
		t.Errorf("small build printed progress: %v\n%s", err, out)
	}
}

// Several --platform values with --manifest: one image per platform in an
// OCI image index (what skopeo reads), TARGETARCH per build; FROM of the
// index picks the build's platform; a later --manifest build adds to the
// list; RUN for a foreign arch needs binfmt_misc.
func TestBuildManifestList(t *testing.T) {
	needTools(t, "skopeo")
	root := busyboxStore(t)
	cf := "FROM scratch\nARG TARGETARCH\nCOPY f /f-$TARGETARCH\nLABEL arch=$TARGETARCH\n"
	if out, err := buildCtx(t, root, "mltag", cf, map[string]string{"f": "x"}, "--platform", "linux/amd64,linux/arm64", "--manifest", "ml"); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	type index struct {
		MediaType string
		Manifests []struct {
			Digest   string
			Platform struct{ OS, Architecture string }
		}
	}
	readIndex := func(name string) index {
		t.Helper()
		var idx index
		raw := runTool(t, nil, "skopeo", "inspect", "--raw", "oci:"+root+":"+name)
		if err := json.Unmarshal([]byte(raw), &idx); err != nil {
			t.Fatal(err)
		}
		return idx
	}
	idx := readIndex("ml:latest")
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" || len(idx.Manifests) != 2 ||
		idx.Manifests[0].Platform.Architecture != "amd64" || idx.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index: %+v", idx)
	}
	if tagged := readIndex("mltag:latest"); len(tagged.Manifests) != 2 {
		t.Fatalf("-t does not name the index: %+v", tagged)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		out, err := buildCtx(t, root, "child-"+arch, "FROM ml\nLABEL child=1\n", map[string]string{}, "--platform", "linux/"+arch)
		if err != nil {
			t.Fatalf("FROM the index for %s: %v\n%s", arch, err, out)
		}
		conf := mustImg(t, root, "inspect", "child-"+arch)
		if !strings.Contains(conf, `"arch": "`+arch+`"`) || !strings.Contains(conf, `"architecture": "`+arch+`"`) {
			t.Fatalf("FROM ml --platform linux/%s took another entry:\n%s", arch, conf)
		}
	}
	if out, err := buildCtx(t, root, "nope", "FROM ml\n", map[string]string{}, "--platform", "linux/s390x"); err == nil || !strings.Contains(out, "has no linux/s390x manifest (it has linux/amd64, linux/arm64)") {
		t.Fatalf("FROM an index without the platform: %v\n%s", err, out)
	}
	if out, err := buildCtx(t, root, "ml2", cf, map[string]string{"f": "x"}, "--platform", "linux/riscv64", "--manifest", "ml"); err != nil {
		t.Fatalf("adding to the list: %v\n%s", err, out)
	}
	if idx := readIndex("ml:latest"); len(idx.Manifests) != 3 {
		t.Fatalf("--manifest did not add to the existing list: %+v", idx)
	}
	// push sends the whole index (before: only the host's entry).
	addr := startRegistry(t)
	mustImg(t, root, "push", "--tls-verify=false", "ml", addr+"/myimg/ml:1")
	var pushed index
	if raw := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+addr+"/myimg/ml:1"); json.Unmarshal([]byte(raw), &pushed) != nil ||
		pushed.MediaType != "application/vnd.oci.image.index.v1+json" || len(pushed.Manifests) != 3 {
		t.Fatalf("pushed index:\n%s", raw)
	}
	// --all-platforms: every platform of the base (ml now has three).
	if out, err := buildCtx(t, root, "allp", "FROM ml\nLABEL all=1\n", map[string]string{}, "--all-platforms", "--manifest", "allml"); err != nil {
		t.Fatalf("--all-platforms: %v\n%s", err, out)
	}
	if idx := readIndex("allml:latest"); len(idx.Manifests) != 3 || idx.Manifests[2].Platform.Architecture != "riscv64" {
		t.Fatalf("--all-platforms index: %+v", idx)
	}
	if out, err := buildCtx(t, root, "allp", cf, map[string]string{"f": "x"}, "--all-platforms"); err == nil || !strings.Contains(out, "--all-platforms: no base image") {
		t.Fatalf("--all-platforms from scratch: %v\n%s", err, out)
	}
	out, err := buildCtx(t, root, "runarm", "FROM scratch\nCOPY f /f\nRUN /f\n", map[string]string{"f": "x"}, "--platform", "linux/arm64,linux/amd64", "--manifest", "runml")
	if _, e := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); e != nil {
		if err == nil || !strings.Contains(out, "--platform linux/arm64: ") || !strings.Contains(out, "needs a binfmt_misc handler") {
			t.Fatalf("RUN for arm64 without binfmt_misc: %v\n%s", err, out)
		}
	}
	if out, err := buildCtx(t, root, "x", cf, map[string]string{"f": "x"}, "--platform", "linux/amd64,linux/amd64"); err == nil || !strings.Contains(out, "given twice") {
		t.Fatalf("a platform twice: %v\n%s", err, out)
	}
}

// --format docker with several platforms writes a Docker manifest list of
// v2s2 manifests, as buildah does; push sends the whole list (every
// entry, then the list with its digest unchanged), which skopeo reads
// from a registry, per platform too. prune keeps the list's entries. An
// OCI build cannot add to a Docker list (nor the other way round).
func TestBuildManifestListDocker(t *testing.T) {
	needTools(t, "skopeo")
	root := busyboxStore(t)
	addr := startRegistry(t)
	cf := "FROM scratch\nARG TARGETARCH\nCOPY f /f-$TARGETARCH\nLABEL arch=$TARGETARCH\n"
	if out, err := buildCtx(t, root, "dltag", cf, map[string]string{"f": "x"}, "--format", "docker", "--platform", "linux/amd64,linux/arm64", "--manifest", "dl"); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	type list struct {
		SchemaVersion int
		MediaType     string
		Manifests     []struct {
			MediaType, Digest string
			Platform          struct{ OS, Architecture string }
		}
	}
	ref := addr + "/myimg/dl:1"
	mustImg(t, root, "push", "--tls-verify=false", "dl", ref)
	raw := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+ref)
	var l list
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		t.Fatal(err)
	}
	if l.SchemaVersion != 2 || l.MediaType != "application/vnd.docker.distribution.manifest.list.v2+json" || len(l.Manifests) != 2 {
		t.Fatalf("pushed list:\n%s", raw)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		m := l.Manifests[i]
		if m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" || m.Platform.OS != "linux" || m.Platform.Architecture != arch {
			t.Fatalf("entry %d:\n%s", i, raw)
		}
		one := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--override-arch", arch, "docker://"+ref)
		if !strings.Contains(one, `"arch": "`+arch+`"`) || !strings.Contains(one, `"Architecture": "`+arch+`"`) {
			t.Fatalf("skopeo inspect --override-arch %s:\n%s", arch, one)
		}
	}
	// The stored list, rewritten for the entries' gzipped layers (stored
	// uncompressed): the same entries by platform and config (skopeo's
	// oci: transport reads only OCI media types from index.json, so the
	// store is read directly).
	var stored list
	ib, _ := os.ReadFile(filepath.Join(root, "index.json"))
	for _, m := range regexp.MustCompile(`"digest":"(sha256:[0-9a-f]{64})","size":[0-9]+,"annotations":\{"org.opencontainers.image.ref.name":"dl:latest"`).FindAllStringSubmatch(string(ib), -1) {
		b, _ := os.ReadFile(filepath.Join(root, "blobs/sha256", strings.TrimPrefix(m[1], "sha256:")))
		json.Unmarshal(b, &stored)
	}
	if len(stored.Manifests) != 2 {
		t.Fatalf("stored list not found:\n%s", ib)
	}
	for i, m := range l.Manifests {
		pushed := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+addr+"/myimg/dl@"+m.Digest)
		lb, _ := os.ReadFile(filepath.Join(root, "blobs/sha256", strings.TrimPrefix(stored.Manifests[i].Digest, "sha256:")))
		var pm, lm struct {
			Config struct{ Digest string }
			Layers []struct{ MediaType string }
		}
		json.Unmarshal([]byte(pushed), &pm)
		json.Unmarshal(lb, &lm)
		if stored.Manifests[i].Platform != m.Platform || pm.Config.Digest != lm.Config.Digest || len(pm.Layers) != 1 || pm.Layers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" || lm.Layers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar" {
			t.Fatalf("entry %d: pushed\n%s\nstored\n%s", i, pushed, lb)
		}
	}
	mustImg(t, root, "prune")
	if out, err := buildCtx(t, root, "child", "FROM dl\nLABEL child=1\n", map[string]string{}, "--platform", "linux/arm64"); err != nil {
		t.Fatalf("FROM the Docker list after prune: %v\n%s", err, out)
	}
	if out, err := buildCtx(t, root, "mix", cf, map[string]string{"f": "x"}, "--platform", "linux/riscv64", "--manifest", "dl"); err == nil || !strings.Contains(out, "--manifest dl: the existing list is application/vnd.docker.distribution.manifest.list.v2+json") {
		t.Fatalf("an OCI build into a Docker list: %v\n%s", err, out)
	}
	if out, err := buildCtx(t, root, "dl2", cf, map[string]string{"f": "x"}, "--format", "docker", "--platform", "linux/riscv64", "--manifest", "dl"); err != nil {
		t.Fatalf("adding to the Docker list: %v\n%s", err, out)
	}
	mustImg(t, root, "push", "--tls-verify=false", "dl", ref)
	raw = runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+ref)
	if json.Unmarshal([]byte(raw), &l) != nil || len(l.Manifests) != 3 || l.MediaType != "application/vnd.docker.distribution.manifest.list.v2+json" {
		t.Fatalf("after adding riscv64:\n%s", raw)
	}
}
