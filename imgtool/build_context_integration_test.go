//go:build integration

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// myimgStdin runs myimg with stdin.
func myimgStdin(t *testing.T, root string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "myimg"), append([]string{"--root", root}, args...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "MYIMG_RUNTIME=")
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tarOf packs files (path -> content), gzipped if gz.
func tarOf(t *testing.T, files map[string]string, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	tw := tar.NewWriter(&buf)
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	}
	for p, c := range files {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(c))})
		tw.Write([]byte(c))
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func gitT(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// ingestEmpty fails if a build left anything in the store's ingest dir.
func ingestEmpty(t *testing.T, root, what string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(root, "ingest"))
	if len(ents) > 0 {
		t.Errorf("%s left %d entries in ingest/ (first %s)", what, len(ents), ents[0].Name())
	}
}

// Contexts that are not directories: a tarball (plain or gzip) on stdin
// or as a path, a Containerfile on stdin, http URLs of both, git URLs
// (smart HTTP through git-http-backend on loopback, and file://) with
// #ref:subdir, and ADD of a git URL. Unreachable ones fail naming the URL
// and leave nothing in the store.
func TestBuildContexts(t *testing.T) {
	needTools(t, "git")
	root := busyboxStore(t)
	files := map[string]string{
		"Containerfile": "FROM busybox\nCOPY . /ctx/\n",
		"sub/f":         "from-tar\n",
	}
	tgz, plain := tarOf(t, files, true), tarOf(t, files, false)
	if out, err := myimgStdin(t, root, tgz, "build", "-t", "c1", "-"); err != nil {
		t.Fatalf("build - < tar.gz: %v\n%s", err, out)
	}
	if got := imageFile(t, root, "c1", "ctx/sub/f"); got != "from-tar\n" {
		t.Fatalf("stdin tarball context: ctx/sub/f = %q", got)
	}
	tarPath := filepath.Join(t.TempDir(), "ctx.tar")
	os.WriteFile(tarPath, plain, 0o644)
	mustImg(t, root, "build", "-t", "c2", tarPath)
	if got := imageFile(t, root, "c2", "ctx/sub/f"); got != "from-tar\n" {
		t.Fatalf("tarball path context: ctx/sub/f = %q", got)
	}
	if out, err := myimgStdin(t, root, []byte("FROM busybox\nLABEL via=stdin\n"), "build", "-t", "c3", "-"); err != nil {
		t.Fatalf("build - < Containerfile: %v\n%s", err, out)
	}
	if out := mustImg(t, root, "inspect", "c3"); !strings.Contains(out, `"via": "stdin"`) {
		t.Fatalf("Containerfile on stdin not used:\n%s", out)
	}

	// A git repository with two commits, served by git-http-backend.
	gitRoot := t.TempDir()
	work := filepath.Join(gitRoot, "work")
	os.MkdirAll(filepath.Join(work, "app"), 0o755)
	gitT(t, work, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(work, "app/Containerfile"), []byte("FROM busybox\nCOPY . /app/\n"), 0o644)
	os.WriteFile(filepath.Join(work, "app/data"), []byte("v1\n"), 0o644)
	gitT(t, work, "add", "-A")
	gitT(t, work, "commit", "-qm", "one")
	gitT(t, work, "tag", "v1")
	os.WriteFile(filepath.Join(work, "app/data"), []byte("v2\n"), 0o644)
	gitT(t, work, "commit", "-qam", "two")
	gitT(t, gitRoot, "clone", "-q", "--bare", work, filepath.Join(gitRoot, "repo.git"))

	mux := http.NewServeMux()
	mux.HandleFunc("/ctx.tgz", func(w http.ResponseWriter, r *http.Request) { w.Write(tgz) })
	mux.HandleFunc("/Containerfile", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("FROM busybox\nLABEL via=url\n"))
	})
	// Smart HTTP: PATH_INFO (/repo.git/...) is below GIT_PROJECT_ROOT.
	mux.Handle("/repo.git/", &cgi.Handler{Path: "/usr/lib/git-core/git-http-backend",
		Env: []string{"GIT_PROJECT_ROOT=" + gitRoot, "GIT_HTTP_EXPORT_ALL=1"}, InheritEnv: []string{"PATH"}})
	// Dumb HTTP (static files): no shallow fetch there, the whole ref.
	gitT(t, filepath.Join(gitRoot, "repo.git"), "update-server-info")
	mux.Handle("/dumb/", http.StripPrefix("/dumb/", http.FileServer(http.Dir(gitRoot))))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + l.Addr().String()

	mustImg(t, root, "build", "-t", "u1", base+"/ctx.tgz")
	if got := imageFile(t, root, "u1", "ctx/sub/f"); got != "from-tar\n" {
		t.Fatalf("URL tarball context: %q", got)
	}
	mustImg(t, root, "build", "-t", "u2", base+"/Containerfile")
	if out := mustImg(t, root, "inspect", "u2"); !strings.Contains(out, `"via": "url"`) {
		t.Fatalf("Containerfile URL not used:\n%s", out)
	}
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "g1", base+"/repo.git#v1:app")
	if got := imageFile(t, root, "g1", "app/data"); got != "v1\n" {
		t.Fatalf("git context #v1:app: app/data = %q", got)
	}
	mustImg(t, root, "build", "-t", "gd", base+"/dumb/repo.git#v1:app")
	if got := imageFile(t, root, "gd", "app/data"); got != "v1\n" {
		t.Fatalf("git context over dumb HTTP: app/data = %q", got)
	}
	mustImg(t, root, "build", "-t", "g2", "file://"+filepath.Join(gitRoot, "repo.git")+"#main:app")
	if got := imageFile(t, root, "g2", "app/data"); got != "v2\n" {
		t.Fatalf("file:// git context #main:app: app/data = %q", got)
	}
	// ADD of a git URL: the tree without .git unless --keep-git-dir.
	cf := "FROM busybox\nADD " + base + "/repo.git#v1 /src\nADD --keep-git-dir=true " + base + "/repo.git /keep\n" +
		"RUN test ! -e /src/.git && test -d /keep/.git && cat /src/app/data /keep/app/data > /both\n"
	if out, err := buildCtx(t, root, "addgit", cf, map[string]string{}); err != nil {
		t.Fatalf("ADD git: %v\n%s", err, out)
	}
	if got := imageFile(t, root, "addgit", "both"); got != "v1\nv2\n" {
		t.Fatalf("ADD git: /both = %q", got)
	}
	// ADD --checksum of a git URL is the commit it must check out.
	v1 := strings.TrimSpace(runTool(t, nil, "git", "-C", work, "rev-parse", "v1"))
	if out, err := buildCtx(t, root, "gitsum", "FROM busybox\nADD --checksum="+v1+" "+base+"/repo.git#v1 /src\n", map[string]string{}); err != nil {
		t.Fatalf("ADD --checksum=<the commit> git: %v\n%s", err, out)
	}
	if out, err := buildCtx(t, root, "gitsum", "FROM busybox\nADD --checksum="+v1+" "+base+"/repo.git#main /src\n", map[string]string{}); err == nil ||
		!strings.Contains(out, "Containerfile:2: ADD: ") || !strings.Contains(out, "--checksum="+v1+": main is at commit ") {
		t.Fatalf("ADD --checksum=<another commit> git: %v\n%s", err, out)
	}
	if out, err := buildCtx(t, root, "copygit", "FROM busybox\nCOPY "+base+"/repo.git /x\n", map[string]string{}); err == nil || !strings.Contains(out, "COPY takes no git URLs") {
		t.Fatalf("COPY of a git URL: %v\n%s", err, out)
	}
	// --build-context NAME=<git URL> or <tarball URL>.
	if out, err := buildCtx(t, root, "bcgit", "FROM busybox\nCOPY --from=src data /d\nCOPY --from=tgz sub/f /t\n", map[string]string{},
		"--build-context", "src="+base+"/repo.git#v1:app", "--build-context", "tgz="+base+"/ctx.tgz"); err != nil {
		t.Fatalf("--build-context URLs: %v\n%s", err, out)
	}
	if got := imageFile(t, root, "bcgit", "d") + imageFile(t, root, "bcgit", "t"); got != "v1\nfrom-tar\n" {
		t.Fatalf("--build-context URLs: %q", got)
	}
	ingestEmpty(t, root, "the builds")

	for _, bad := range []struct{ ctx, want string }{
		{"http://127.0.0.1:1/ctx.tgz", "build context http://127.0.0.1:1/ctx.tgz: cannot fetch"},
		{"http://127.0.0.1:1/repo.git#main", "build context http://127.0.0.1:1/repo.git#main: git fetch"},
		{base + "/repo.git#nosuchref", "build context " + base + "/repo.git#nosuchref: git fetch"},
		{base + "/repo.git#v1:nodir", `subdirectory "nodir" not found`},
		{base + "/nothere.tgz", "HTTP 404"},
	} {
		out, err := myimg(t, root, "build", "-t", "bad", bad.ctx)
		if err == nil || !strings.Contains(out, bad.want) {
			t.Errorf("build %s: want %q: %v\n%s", bad.ctx, bad.want, err, out)
		}
		ingestEmpty(t, root, bad.ctx)
	}
	if out, err := myimgStdin(t, root, nil, "build", "-f", "-", "-"); err == nil || !strings.Contains(out, "cannot both read stdin") {
		t.Fatalf("-f - with CONTEXT -: %v\n%s", err, out)
	}
}
