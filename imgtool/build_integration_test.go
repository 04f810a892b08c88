//go:build integration

package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
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

// findIn reports files under root whose content contains s.
func findIn(t *testing.T, root, s string) []string {
	t.Helper()
	var hits []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), s) {
				hits = append(hits, p)
			}
		}
		return nil
	})
	return hits
}

// RUN --mount=type=cache|secret|tmpfs|bind with their options.
func TestRunMounts(t *testing.T) {
	root := busyboxStore(t)
	sec := filepath.Join(t.TempDir(), "token")
	os.WriteFile(sec, []byte("s3cr3t"), 0o600)
	t.Setenv("MYIMG_TEST_TOKEN", "envs3cr3t")
	cf := `FROM busybox AS s
RUN mkdir /out && echo fromstage > /out/s.txt
FROM busybox
ARG CID=c1
RUN --mount=type=cache,id=$CID,target=/cache,uid=1000,gid=1000,mode=0700 sh -c 'stat -c "%u %g %a" /cache > /cache-owner; n=$(cat /cache/n 2>/dev/null || echo 0); echo $((n+1)) > /cache/n; cp /cache/n /count'
RUN --mount=type=secret,id=tok,mode=0440,uid=5,gid=6 sh -c 'stat -c "%u %g %a" /run/secrets/tok > /secret-stat && wc -c < /run/secrets/tok > /secret-len'
RUN --mount=type=secret,id=etok,env=TOKEN sh -c 'test "${#TOKEN}" = 9 && test "${TOKEN#env}" != "$TOKEN" && echo ok > /secret-env; ls /run/secrets > /secret-ls 2>&1 || true'
RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'df -k /scratch | tail -1 | awk "{print \$2}" > /tmpfs-size; echo x > /scratch/f'
RUN --mount=type=bind,source=data,target=/ctx sh -c 'cat /ctx/a.txt > /bound; if touch /ctx/new 2>/dev/null; then echo writable; else echo ro; fi > /ro'
RUN --mount=type=bind,source=data,target=/ctx,rw sh -c 'echo changed > /ctx/a.txt && cat /ctx/a.txt > /rw'
RUN --mount=type=bind,from=s,source=/out,target=/st cat /st/s.txt > /fromstage
`
	files := map[string]string{"data/a.txt": "alpha\n"}
	flags := []string{"--secret", "id=tok,src=" + sec, "--secret", "id=etok,env=MYIMG_TEST_TOKEN"}
	build := func(extra ...string) {
		t.Helper()
		if out, err := buildCtx(t, root, "mnt", cf, files, append(flags, extra...)...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	build()
	bundle := filepath.Join(t.TempDir(), "b")
	mustImg(t, root, "unpack", "--copy", "-q", "mnt", bundle)
	rfs := filepath.Join(bundle, "rootfs")
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(rfs, p))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for p, want := range map[string]string{
		"count": "1", "cache-owner": "1000 1000 700", "secret-stat": "5 6 440", "secret-len": "6",
		"secret-env": "ok", "tmpfs-size": "1024", "bound": "alpha", "ro": "ro", "rw": "changed", "fromstage": "fromstage",
	} {
		if got := read(p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	// Mount points and secrets leave nothing in the image.
	for _, p := range []string{"cache", "run/secrets", "scratch", "ctx", "st"} {
		if _, err := os.Lstat(filepath.Join(rfs, p)); err == nil {
			t.Errorf("/%s is in the image", p)
		}
	}
	if hits := append(findIn(t, rfs, "s3cr3t"), findIn(t, bundle, "envs3cr3t")...); len(hits) > 0 {
		t.Errorf("a secret's value is in the image: %v", hits)
	}
	if hits := findIn(t, filepath.Join(root, "cache"), "s3cr3t"); len(hits) > 0 {
		t.Errorf("a secret's value is in the build cache: %v", hits)
	}
	// A secret's content does not key the cache; a bound context file does.
	id1 := mustImg(t, root, "inspect", "mnt")
	os.WriteFile(sec, []byte("other!"), 0o600)
	build()
	if id2 := mustImg(t, root, "inspect", "mnt"); id1 != id2 {
		t.Error("a changed secret rebuilt the image")
	}
	files["data/a.txt"] = "beta\n"
	build()
	if got := strings.TrimSpace(imageFile(t, root, "mnt", "bound")); got != "beta" {
		t.Errorf("after the bound file changed: /bound = %q", got)
	}
	// The cache persists across builds (--no-cache reruns every RUN), and
	// prune --cache drops it.
	build("--no-cache")
	if got := strings.TrimSpace(imageFile(t, root, "mnt", "count")); got != "2" {
		t.Errorf("second use of the cache: /count = %q", got)
	}
	if out := mustImg(t, root, "prune", "--cache"); !strings.Contains(out, "1 cache mounts") {
		t.Errorf("prune: %s", out)
	}
	build("--no-cache")
	if got := strings.TrimSpace(imageFile(t, root, "mnt", "count")); got != "1" {
		t.Errorf("after prune --cache: /count = %q", got)
	}
	// The same id with another owner is an error, not a silent reuse.
	cf2 := "FROM busybox\nRUN --mount=type=cache,id=c1,target=/c,uid=7 true\n"
	if out, err := buildCtx(t, root, "m2", cf2, map[string]string{}); err == nil || !strings.Contains(out, `Containerfile:2: RUN: --mount type=cache,target=/c: cache id "c1" exists with mode=700,uid=1000,gid=1000`) {
		t.Errorf("incompatible cache reuse: %v\n%s", err, out)
	}
}

// The --mount options TestRunMounts does not cover: cache sharing (the
// same id twice in one RUN: shared twice is one directory, private gets a
// throwaway one, a pair that would wait on its own lock is refused), a
// cache seeded from a stage (from, source) and mounted ro, tmpfs ro, a
// secret at its own target, and a secret neither required nor given
// (no file, as BuildKit).
func TestRunMountOptions(t *testing.T) {
	root := busyboxStore(t)
	cf := `FROM busybox AS seed
RUN mkdir /seed && echo seeded > /seed/s
FROM busybox
RUN --mount=type=cache,id=sh,target=/a --mount=type=cache,id=sh,target=/b sh -c 'echo x > /a/f; cat /b/f > /shared'
RUN --mount=type=cache,id=lk,target=/l,sharing=locked sh -c 'echo locked > /l/f; cat /l/f > /locked'
RUN --mount=type=cache,id=pr,target=/a,sharing=private --mount=type=cache,id=pr,target=/b,sharing=private sh -c 'echo x > /a/f; if test -e /b/f; then echo same; else echo fresh; fi > /private'
RUN --mount=type=cache,id=seeded,from=seed,source=/seed,target=/c,ro sh -c 'cat /c/s > /seeded; if touch /c/w 2>/dev/null; then echo rw; else echo ro; fi > /cache-ro'
RUN --mount=type=tmpfs,target=/t,ro sh -c 'if touch /t/w 2>/dev/null; then echo rw; else echo ro; fi > /tmpfs-ro'
RUN --mount=type=secret,id=tok,target=/etc/tok.txt cat /etc/tok.txt > /secret-target
RUN --mount=type=secret,id=absent sh -c 'if test -e /run/secrets/absent; then echo there; else echo none; fi > /secret-absent'
`
	sec := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(sec, []byte("tokval"), 0o600)
	if out, err := buildCtx(t, root, "mopt", cf, map[string]string{}, "--secret", "id=tok,src="+sec); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for p, want := range map[string]string{"shared": "x\n", "locked": "locked\n", "private": "fresh\n", "seeded": "seeded\n", "cache-ro": "ro\n",
		"tmpfs-ro": "ro\n", "secret-target": "tokval", "secret-absent": "none\n"} {
		if got := imageFile(t, root, "mopt", p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	for _, pair := range [][2]string{{"", ",sharing=locked"}, {",sharing=locked", ""}, {",sharing=private", ""}} {
		cf := "FROM busybox\nRUN --mount=type=cache,id=two,target=/a" + pair[0] + " --mount=type=cache,id=two,target=/b" + pair[1] + " true\n"
		if out, err := buildCtx(t, root, "mtwice", cf, map[string]string{}); err == nil || !strings.Contains(out, `Containerfile:2: RUN: --mount type=cache: cache id "two" is mounted twice in this RUN`) {
			t.Errorf("%q: %v\n%s", cf, err, out)
		}
	}
}

// Bad secret and mount input fails with the flag or the line named, and
// leaves no image.
func TestRunMountErrors(t *testing.T) {
	root := busyboxStore(t)
	for _, c := range []struct {
		cf    string
		flags []string
		want  string
	}{
		{"FROM busybox\nRUN --mount=type=secret,id=nope,required true\n", nil, `Containerfile:2: RUN: --mount type=secret: secret "nope" is required but was not given`},
		{"FROM busybox\nRUN true\n", []string{"--secret", "id=x,src=/nonexistent/file"}, `--secret "id=x,src=/nonexistent/file": stat /nonexistent/file: no such file or directory`},
		{"FROM busybox\nRUN true\n", []string{"--secret", "id=x,env=MYIMG_NO_SUCH_VAR"}, `environment variable MYIMG_NO_SUCH_VAR is not set`},
		{"FROM busybox\nRUN --mount=type=bind,source=nope,target=/x true\n", nil, `Containerfile:2: RUN: --mount type=bind: source "nope":`},
		{"FROM busybox\nRUN --mount=type=ssh,required true\n", nil, `Containerfile:2: RUN: --mount type=ssh: ssh "default" is required but was not given`},
		{"FROM busybox\nRUN --mount=type=bind,from=nosuch,target=/x true\n", nil, `Containerfile:2: RUN: --from=nosuch: no such stage or image`},
		// Parsed by BuildKit for these types, used by none.
		{"FROM busybox\nRUN --mount=type=cache,target=/c,env=X true\n", nil, `Containerfile:2: RUN: --mount type=cache: env= applies to secret mounts only`},
		{"FROM busybox\nRUN --mount=type=tmpfs,target=/t,env=X true\n", nil, `Containerfile:2: RUN: --mount type=tmpfs: env= applies to secret mounts only`},
		{"FROM busybox\nRUN --mount=type=secret,id=s,rw true\n", []string{"--secret", "id=s,env=HOME"}, `Containerfile:2: RUN: --mount type=secret: rw does not apply`},
		{"FROM busybox\nRUN --mount=type=ssh,readonly=false true\n", nil, `Containerfile:2: RUN: --mount type=ssh: rw does not apply`},
	} {
		out, err := buildCtx(t, root, "bad", c.cf, map[string]string{}, c.flags...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%q %v: want %q, got %v\n%s", c.cf, c.flags, c.want, err, out)
		}
	}
	if out, _ := myimg(t, root, "images"); strings.Contains(out, "bad") {
		t.Errorf("a failed build left an image:\n%s", out)
	}
}

// RUN --mount=type=ssh reaches the agent given with --ssh through a
// socket owned as the mount asks, and sets SSH_AUTH_SOCK.
func TestRunMountSSH(t *testing.T) {
	root := busyboxStore(t)
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("agent-hello\n"))
			c.Close()
		}
	}()
	// A static client: busybox has no unix-socket client.
	src := filepath.Join(dir, "client.go")
	os.WriteFile(src, []byte(`package main

import ("io"; "net"; "os")

func main() {
	c, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil { println(err.Error()); os.Exit(1) }
	io.Copy(os.Stdout, c)
}
`), 0o644)
	ctx := map[string]string{}
	bin := filepath.Join(dir, "client")
	gb := exec.Command("go", "build", "-o", bin, src)
	gb.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GO111MODULE=off")
	if out, err := gb.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(bin)
	ctx["client"] = string(b)
	cf := "FROM busybox\nCOPY --chmod=755 client /client\nRUN --mount=type=ssh,uid=1000,mode=0600 sh -c 'stat -c \"%u %a %F\" $SSH_AUTH_SOCK > /sock-stat; /client > /ssh-out'\n" +
		// Another id at its own target with a gid: no SSH_AUTH_SOCK for it.
		"RUN --mount=type=ssh,id=other,target=/run/other.sock,gid=7 sh -c 'stat -c \"%g %a\" /run/other.sock > /other-stat; echo \"[$SSH_AUTH_SOCK]\" > /other-env; SSH_AUTH_SOCK=/run/other.sock /client > /other-out'\n"
	if out, err := buildCtx(t, root, "ssh", cf, ctx, "--ssh", "default="+agent, "--ssh", "other="+agent); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.TrimSpace(imageFile(t, root, "ssh", "ssh-out")); got != "agent-hello" {
		t.Errorf("through the agent socket: %q", got)
	}
	if got := strings.TrimSpace(imageFile(t, root, "ssh", "sock-stat")); got != "1000 600 socket" {
		t.Errorf("socket: %q", got)
	}
	for p, want := range map[string]string{"other-stat": "7 600", "other-env": "[]", "other-out": "agent-hello"} {
		if got := strings.TrimSpace(imageFile(t, root, "ssh", p)); got != want {
			t.Errorf("ssh id=other: /%s = %q, want %q", p, got, want)
		}
	}
	if out, err := buildCtx(t, root, "ssh2", cf, ctx, "--ssh", "default="+src); err == nil || !strings.Contains(out, "is not a socket") {
		t.Errorf("--ssh with a file: %v\n%s", err, out)
	}
}

// build -f - (stdin), --iidfile, --squash, --label, --annotation through
// the CLI, and a context without a Containerfile.
func TestBuildCLIOptions(t *testing.T) {
	root := busyboxStore(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "f"), []byte("x"), 0o644)
	iid := filepath.Join(t.TempDir(), "iid")
	cmd := exec.Command(filepath.Join(binDir, "myimg"), "--root", root, "build", "--cgroup-parent", cgroupP, "-q", "-f", "-", "--iidfile", iid,
		"--squash", "--label", "k=v", "--annotation", "org.example.a=b", "-t", "cli", ctx)
	cmd.Stdin = strings.NewReader("FROM busybox\nCOPY f /f\nCOPY f /g\nLABEL k=old\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	id := strings.TrimSpace(string(out))
	if b, _ := os.ReadFile(iid); string(b) != "sha256:"+id {
		t.Errorf("--iidfile holds %q, build printed %q", b, id)
	}
	var insp struct {
		ImageID  string
		Manifest struct {
			Layers      []any
			Annotations map[string]string
		}
		Config struct {
			Config struct{ Labels map[string]string }
		}
	}
	if err := json.Unmarshal([]byte(mustImg(t, root, "inspect", "cli")), &insp); err != nil {
		t.Fatal(err)
	}
	var base struct{ Manifest struct{ Layers []any } }
	json.Unmarshal([]byte(mustImg(t, root, "inspect", "busybox")), &base)
	if insp.ImageID != id || len(insp.Manifest.Layers) != len(base.Manifest.Layers)+1 {
		t.Errorf("--squash: %d layers on a base of %d", len(insp.Manifest.Layers), len(base.Manifest.Layers))
	}
	if insp.Config.Config.Labels["k"] != "v" || insp.Manifest.Annotations["org.example.a"] != "b" {
		t.Errorf("labels %v, annotations %v", insp.Config.Config.Labels, insp.Manifest.Annotations)
	}
	// The printed ID works as a reference.
	mustImg(t, root, "tag", id[:12], "by-id")
	if out := mustImg(t, root, "inspect", "by-id"); !strings.Contains(out, id) {
		t.Errorf("tag by short ID:\n%s", out)
	}
	empty := t.TempDir()
	if out, err := myimg(t, root, "build", empty); err == nil || !strings.Contains(out, "no Containerfile or Dockerfile in the build context") {
		t.Errorf("empty context: %v\n%s", err, out)
	}
}

// --cap-add, --cap-drop and --ulimit reach RUN.
func TestBuildCapsUlimits(t *testing.T) {
	root := busyboxStore(t)
	cf := "FROM busybox\nRUN grep CapEff /proc/self/status > /caps; ulimit -n > /nofile; ulimit -Hn >> /nofile\n"
	if out, err := buildCtx(t, root, "caps", cf, map[string]string{}, "--cap-add", "SYS_ADMIN", "--cap-drop", "CHOWN", "--ulimit", "nofile=512:2048"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f := strings.Fields(imageFile(t, root, "caps", "caps"))
	v, err := strconv.ParseUint(f[len(f)-1], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	const chown, sysAdmin, setuid = 1 << 0, 1 << 21, 1 << 7
	if v&sysAdmin == 0 || v&chown != 0 || v&setuid == 0 {
		t.Errorf("CapEff %x", v)
	}
	if got := strings.Fields(imageFile(t, root, "caps", "nofile")); strings.Join(got, " ") != "512 2048" {
		t.Errorf("nofile %v", got)
	}
	if out, err := buildCtx(t, root, "caps2", cf, map[string]string{}, "--ulimit", "nosuch=1"); err == nil || !strings.Contains(out, `--ulimit "nosuch=1"`) {
		t.Errorf("bad ulimit: %v\n%s", err, out)
	}
}

// The instructions whose effect is not a file, run end to end: global
// ARGs seen by FROM and, inside a stage, only after a bare ARG re-declares
// them (--build-arg wins); SHELL for RUN and shell-form CMD; RUN heredocs
// (one as the script, <<- stripping tabs, two as redirections, a #!
// script); STOPSIGNAL, HEALTHCHECK NONE and ONBUILD in the config, and
// the trigger run by a child build (and not inherited by it).
func TestInstructionSemantics(t *testing.T) {
	root := busyboxStore(t)
	cf := "ARG BASE=busybox\nARG G=global\nFROM $BASE\n" +
		"RUN echo \"g-before=[$G]\"\nARG G\nRUN echo \"g-after=[$G]\"\nARG L=local-$G\nRUN echo \"l=[$L]\"\n" +
		"SHELL [\"/bin/sh\", \"-xc\"]\nRUN echo via-shell\nCMD echo shell-cmd\nSHELL [\"/bin/sh\", \"-c\"]\n" +
		"RUN <<EOF\necho heredoc-one\necho heredoc-two\nEOF\n" +
		"RUN <<-EOF\n\techo tab-stripped\n\tEOF\n" +
		"RUN cat <<A > /a && cat <<B > /b\nfrom-a\nA\nfrom-b\nB\n" +
		"RUN <<EOF\n#!/bin/sh -e\necho \"script-with-shebang $0\"\nEOF\n" +
		"STOPSIGNAL SIGQUIT\nHEALTHCHECK NONE\nONBUILD RUN echo onbuild-ran\n"
	out, err := buildCtx(t, root, "sem", cf, map[string]string{}, "--format", "docker")
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, want := range []string{"g-before=[]\n", "g-after=[global]\n", "l=[local-global]\n", "+ echo via-shell\n",
		"heredoc-one\nheredoc-two\n", "\ntab-stripped\n", "script-with-shebang /dev/.myimg-run-script\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	if got := imageFile(t, root, "sem", "a") + imageFile(t, root, "sem", "b"); got != "from-a\nfrom-b\n" {
		t.Errorf("heredoc redirections: %q", got)
	}
	type config struct {
		Config struct {
			Config struct {
				Cmd         []string
				StopSignal  string
				Healthcheck struct{ Test []string }
				OnBuild     []string
			}
		}
	}
	var conf config
	raw := mustImg(t, root, "inspect", "sem")
	if err := json.Unmarshal([]byte(raw), &conf); err != nil {
		t.Fatalf("inspect: %v\n%s", err, raw)
	}
	c := conf.Config.Config
	if strings.Join(c.Cmd, " ") != "/bin/sh -xc echo shell-cmd" || c.StopSignal != "SIGQUIT" ||
		strings.Join(c.Healthcheck.Test, " ") != "NONE" || strings.Join(c.OnBuild, ";") != "RUN echo onbuild-ran" {
		t.Errorf("config: %+v\n%s", c, raw)
	}
	if !strings.Contains(raw, `"created_by": "RUN \u003c\u003cEOF\n#!/bin/sh -e\necho`) {
		t.Errorf("history of the #! heredoc:\n%s", raw)
	}
	// Every HEALTHCHECK flag lands in the config (shell form: CMD-SHELL).
	if out, err := buildCtx(t, root, "hc", "FROM busybox\nHEALTHCHECK --interval=7s --timeout=3s --start-period=9s --start-interval=2s --retries=4 CMD test -e /\n", map[string]string{}); err != nil {
		t.Fatalf("HEALTHCHECK: %v\n%s", err, out)
	}
	var hc struct {
		Config struct {
			Config struct {
				Healthcheck struct {
					Test                                          []string
					Interval, Timeout, StartPeriod, StartInterval int64
					Retries                                       int
				}
			}
		}
	}
	if raw := mustImg(t, root, "inspect", "hc"); json.Unmarshal([]byte(raw), &hc) != nil {
		t.Fatalf("inspect:\n%s", raw)
	}
	if h := hc.Config.Config.Healthcheck; strings.Join(h.Test, "|") != "CMD-SHELL|test -e /" || h.Interval != 7e9 || h.Timeout != 3e9 ||
		h.StartPeriod != 9e9 || h.StartInterval != 2e9 || h.Retries != 4 {
		t.Errorf("HEALTHCHECK flags: %+v", h)
	}
	out, err = buildCtx(t, root, "sem2", "ARG BASE=busybox\nARG G=global\nFROM $BASE\nARG G\nRUN echo \"g-after=[$G]\"\n", map[string]string{}, "--build-arg", "G=cli")
	if err != nil || !strings.Contains(out, "g-after=[cli]\n") {
		t.Errorf("--build-arg over a global ARG: %v\n%s", err, out)
	}
	out, err = buildCtx(t, root, "semchild", "FROM sem\nLABEL child=1\n", map[string]string{})
	if err != nil || !strings.Contains(out, "onbuild-ran\n") {
		t.Fatalf("ONBUILD trigger: %v\n%s", err, out)
	}
	var child config
	if raw := mustImg(t, root, "inspect", "semchild"); json.Unmarshal([]byte(raw), &child) != nil || len(child.Config.Config.OnBuild) != 0 {
		t.Errorf("the child inherited the trigger:\n%s", raw)
	}
}
