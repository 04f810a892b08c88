package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/myrun-org/myrun/imgtool/layer"
)

// Context is a build context made ready on disk: a directory as given, or
// one that a tarball, an http(s) URL or a git URL was unpacked into.
type Context struct {
	Dir string
	// FileData is a Containerfile that came instead of a context (a
	// plain-text stdin or URL, as docker build takes them).
	FileData []byte
	// Remote: Dir is ours, and a relative -f names a file inside it.
	Remote bool
	tmp    string
}

// Close removes what OpenContext unpacked.
func (c *Context) Close() {
	if c.tmp != "" {
		os.RemoveAll(c.tmp)
	}
}

// OpenContext resolves the CONTEXT argument of a build: a directory, "-"
// (a tarball, plain or compressed, or a Containerfile, on stdin), a tarball
// path, an http(s) URL of either, or a git URL (URL#ref:subdir). Anything
// fetched goes below tmpParent (the store's ingest dir, so a killed build's
// leftovers are collected); a failure leaves nothing there.
func OpenContext(arg string, stdin io.Reader, tmpParent func() (string, error)) (*Context, error) {
	if arg == "-" || IsGitURL(arg) || strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://") {
		// fetched below
	} else if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		// a tarball path
	} else {
		return &Context{Dir: arg}, nil
	}
	tmp, err := tmpParent()
	if err != nil {
		return nil, err
	}
	c := &Context{tmp: tmp, Remote: true, Dir: filepath.Join(tmp, "context")}
	if err := c.fetch(arg, stdin); err != nil {
		c.Close()
		return nil, fmt.Errorf("build context %s: %w", arg, err)
	}
	return c, nil
}

func (c *Context) fetch(arg string, stdin io.Reader) error {
	switch {
	case IsGitURL(arg):
		dir, err := fetchGit(arg, c.Dir, false, "")
		c.Dir = dir
		return err
	case arg == "-":
		return c.unpack(stdin)
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		client := &http.Client{Timeout: 10 * time.Minute}
		resp, err := client.Get(arg)
		if err != nil {
			return fmt.Errorf("cannot fetch (is there a network?): %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %s", resp.Status)
		}
		return c.unpack(resp.Body)
	}
	f, err := os.Open(arg)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.unpack(f)
}

// unpack extracts a tarball (gzip, zstd, bzip2 or none) with the layer
// extractor's rules; anything else is taken as a Containerfile.
func (c *Context) unpack(r io.Reader) error {
	if err := os.Mkdir(c.Dir, 0o755); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 1<<16)
	dr, err := decompressAny(br)
	if err != nil {
		return err
	}
	tbr := bufio.NewReaderSize(dr, 1024)
	head, _ := tbr.Peek(512)
	if !isTarHeader(head) {
		data, err := io.ReadAll(io.LimitReader(tbr, 16<<20))
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return errors.New("empty: want a tar archive or a Containerfile")
		}
		if bytes.IndexByte(data, 0) >= 0 {
			return errors.New("neither a tar archive nor a Containerfile")
		}
		c.FileData = data
		return nil
	}
	if err := layer.ExtractTar(tbr, c.Dir, layer.ExtractOptions{Mode: layer.Apply}); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	return nil
}

// isTarHeader checks a 512-byte block's header checksum.
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	_, err := tar.NewReader(bytes.NewReader(b[:512])).Next()
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

// IsGitURL says whether s names a git repository, as BuildKit reads a
// context or ADD source: git://, ssh://, git@host:path, github.com/...,
// an http(s) URL whose path ends in .git, and (contexts only) file://.
func IsGitURL(s string) bool {
	for _, p := range []string{"git://", "ssh://", "git@", "github.com/", "file://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		return err == nil && strings.HasSuffix(u.Path, ".git")
	}
	return false
}

// splitGitURL splits URL#ref:subdir.
func splitGitURL(s string) (remote, ref, subdir string) {
	remote, frag, _ := strings.Cut(s, "#")
	ref, subdir, _ = strings.Cut(frag, ":")
	if strings.HasPrefix(remote, "github.com/") {
		remote = "https://" + remote
	}
	return remote, ref, subdir
}

// fetchGit checks out ref (default: the remote's HEAD) of a git URL into
// dst with the git binary, without its .git unless keepGitDir, and
// returns the directory of subdir in it. A checksum (ADD --checksum) is
// the commit that must have been checked out, in full.
func fetchGit(src, dst string, keepGitDir bool, checksum string) (string, error) {
	remote, ref, subdir := splitGitURL(src)
	if ref == "" {
		ref = "HEAD"
	}
	if strings.HasPrefix(ref, "-") {
		return "", fmt.Errorf("git ref %q", ref)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return "", errors.New("git is not installed (apt-get install git)")
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	git := func(args ...string) error {
		cmd := exec.Command("git", append([]string{"-C", dst, "-c", "advice.detachedHead=false"}, args...)...)
		// Never wait for a password on the terminal.
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		if os.Getenv("GIT_SSH_COMMAND") == "" && os.Getenv("GIT_SSH") == "" {
			cmd.Env = append(cmd.Env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(out.String()))
		}
		return nil
	}
	if err := git("init", "-q"); err != nil {
		return "", err
	}
	// Shallow when the server can (dumb HTTP cannot), else the whole ref.
	if err := git("fetch", "-q", "--depth=1", "--", remote, ref); err != nil {
		if !strings.Contains(err.Error(), "shallow") {
			return "", err
		}
		if err := git("fetch", "-q", "--", remote, ref); err != nil {
			return "", err
		}
	}
	if err := git("checkout", "-q", "FETCH_HEAD"); err != nil {
		return "", err
	}
	if checksum != "" {
		out, err := exec.Command("git", "-C", dst, "rev-parse", "HEAD").Output()
		if err != nil {
			return "", fmt.Errorf("git rev-parse: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != strings.ToLower(strings.TrimPrefix(checksum, "sha1:")) {
			return "", fmt.Errorf("--checksum=%s: %s is at commit %s", checksum, ref, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, ".gitmodules")); err == nil {
		if err := git("submodule", "update", "-q", "--init", "--recursive", "--depth=1"); err != nil {
			return "", err
		}
	}
	if !keepGitDir {
		if err := os.RemoveAll(filepath.Join(dst, ".git")); err != nil {
			return "", err
		}
	}
	if subdir == "" {
		return dst, nil
	}
	dir, err := securejoin.SecureJoin(dst, subdir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("subdirectory %q not found at %s", subdir, ref)
	}
	return dir, nil
}
