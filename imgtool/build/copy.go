package build

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

type copySpec struct {
	sd       instructions.SourcesAndDest
	from     string
	chown    string
	chmod    string
	checksum string
	add      bool
	unpack   *bool
	excludes []string
}

// source is one resolved COPY/ADD source.
type source struct {
	abs     string // host path
	name    string // name used under a directory destination
	rel     string // path relative to the context (for .dockerignore); "" outside it
	dir     bool
	archive bool
}

func (r *stageRun) copyStep(st step, c *copySpec) error {
	b := r.b
	root, inContext, fromKey, err := r.copyRoot(c)
	if err != nil {
		return err
	}
	srcs, err := r.resolveSources(c, root, inContext)
	if err != nil {
		return err
	}
	var inputs digest.Digest
	if inContext || c.add {
		if inputs, err = b.hashSources(srcs, inContext); err != nil {
			return err
		}
	} else {
		inputs = digest.FromString(fromKey)
	}
	keyJSON, _ := json.Marshal(struct {
		SD                 instructions.SourcesAndDest
		From, Chown, Chmod string
		Add                bool
		Workdir            string
		Excludes           []string
	}{c.sd, c.from, c.chown, c.chmod, c.add, r.img.Config.WorkingDir, c.excludes})
	verb := "COPY"
	if c.add {
		verb = "ADD"
	}
	createdBy := fmt.Sprintf("/bin/sh -c #(nop) %s %s in %s", verb, inputs.Encoded()[:12], c.sd.DestPath)
	return r.fsStep(createdBy, verb+" "+string(keyJSON), inputs, func(w *workspace) error {
		return r.copyInto(w.merged, c, srcs)
	})
}

// copyRoot returns the directory sources are taken from: the build
// context, or a read-only view of a stage or image for --from.
func (r *stageRun) copyRoot(c *copySpec) (root string, inContext bool, key string, err error) {
	b := r.b
	if c.from == "" {
		return b.o.ContextDir, true, "", nil
	}
	if dep, ok := b.p.findStage(c.from, r.def.index); ok {
		res := b.results[dep.index]
		if res == nil {
			return "", false, "", fmt.Errorf("--from=%s: stage not built", c.from)
		}
		v, err := b.view(res.layers, res.img.RootFS.DiffIDs)
		return v, false, "stage\x00" + string(res.key), err
	}
	l, err := b.loadImageRef(c.from)
	if err != nil {
		return "", false, "", fmt.Errorf("--from=%s: %w", c.from, err)
	}
	v, err := b.view(l.Manifest.Layers, l.Config.RootFS.DiffIDs)
	return v, false, "image\x00" + string(l.Desc.Digest), err
}

func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

func (r *stageRun) resolveSources(c *copySpec, root string, inContext bool) ([]source, error) {
	b := r.b
	var out []source
	for _, sc := range c.sd.SourceContents {
		p := filepath.Join(b.tmp, fmt.Sprintf("heredoc%d", len(out)))
		if err := os.WriteFile(p, []byte(sc.Data), 0o644); err != nil {
			return nil, err
		}
		out = append(out, source{abs: p, name: path.Base(sc.Path)})
	}
	for _, src := range c.sd.SourcePaths {
		if c.add && (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")) {
			s, err := b.fetch(src, c.checksum)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		if strings.HasPrefix(src, "git@") || strings.HasSuffix(src, ".git") {
			return nil, fmt.Errorf("source %q: git sources are not supported", src)
		}
		rel := path.Clean("/" + src)[1:]
		if rel == "" {
			rel = "."
		}
		var matches []string
		if hasGlob(rel) {
			m, err := filepath.Glob(filepath.Join(root, rel))
			if err != nil {
				return nil, fmt.Errorf("source %q: %w", src, err)
			}
			for _, p := range m {
				pr, _ := filepath.Rel(root, p)
				if safe, err := securejoin.SecureJoin(root, pr); err == nil && safe == p {
					matches = append(matches, filepath.ToSlash(pr))
				}
			}
		} else {
			matches = []string{rel}
		}
		n := 0
		for _, m := range matches {
			if inContext {
				if ex, _ := b.ignore.excluded(m); ex && m != "." {
					continue
				}
			}
			hp, err := securejoin.SecureJoin(root, m)
			if err != nil {
				return nil, err
			}
			st, err := os.Lstat(hp)
			if err != nil {
				continue
			}
			if st.Mode()&fs.ModeSymlink != 0 {
				// A source given by name is followed (inside the root).
				if st2, err := os.Stat(hp); err == nil {
					st = st2
				}
			}
			s := source{abs: hp, name: path.Base(m), dir: st.IsDir()}
			if inContext {
				s.rel = m
			}
			if c.add && !s.dir && (c.unpack == nil || *c.unpack) {
				s.archive = isArchive(hp)
			}
			out = append(out, s)
			n++
		}
		if n == 0 {
			where := "build context"
			if !inContext {
				where = "--from=" + c.from
			}
			return nil, fmt.Errorf("source %q: no such file or directory in the %s", src, where)
		}
	}
	return out, nil
}

// hashSources digests names, modes and contents of every file a COPY/ADD
// would copy: the cache key's "inputs".
func (b *builder) hashSources(srcs []source, inContext bool) (digest.Digest, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for _, s := range srcs {
		fmt.Fprintf(h, "src %s %v %v\n", s.name, s.dir, s.archive)
		err := b.walk(s, inContext, func(rel, p string, st fs.FileInfo) error {
			fmt.Fprintf(h, "%s %o %d\n", rel, st.Mode(), st.Size())
			switch {
			case st.Mode().IsRegular():
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				_, err = io.CopyBuffer(h, f, buf)
				f.Close()
				return err
			case st.Mode()&fs.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				fmt.Fprintf(h, "-> %s\n", l)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))), nil
}

// walk visits s (a file, or a directory's entries, in lexical order)
// honouring .dockerignore for context sources; rel is relative to s.
func (b *builder) walk(s source, inContext bool, fn func(rel, p string, st fs.FileInfo) error) error {
	if !s.dir {
		st, err := os.Stat(s.abs)
		if err != nil {
			return err
		}
		return fn(".", s.abs, st)
	}
	return filepath.WalkDir(s.abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.abs, p)
		rel = filepath.ToSlash(rel)
		if inContext && rel != "." {
			ex, descend := b.ignore.excluded(path.Join(s.rel, rel))
			if ex {
				if d.IsDir() && !descend {
					return filepath.SkipDir
				}
				return nil
			}
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		return fn(rel, p, st)
	})
}

// copyInto copies the sources into rootfs at the destination, resolving
// every destination path inside rootfs with a safe join.
func (r *stageRun) copyInto(rootfs string, c *copySpec, srcs []source) error {
	dest := c.sd.DestPath
	if !path.IsAbs(dest) {
		wd := r.img.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest) + map[bool]string{true: "/", false: ""}[strings.HasSuffix(dest, "/") || dest == "."]
	}
	uid, gid := 0, 0
	if c.chown != "" {
		u, err := unpack.ResolveUser(rootfs, c.chown)
		if err != nil {
			return fmt.Errorf("--chown=%s: %w", c.chown, err)
		}
		uid, gid = int(u.UID), int(u.GID)
	}
	var chmod *fs.FileMode
	if c.chmod != "" {
		m, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("--chmod=%s: want an octal mode", c.chmod)
		}
		fm := fs.FileMode(m)
		chmod = &fm
	}
	destHost, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	destIsDir := strings.HasSuffix(dest, "/") || len(srcs) > 1
	if st, err := os.Stat(destHost); err == nil && st.IsDir() {
		destIsDir = true
	}
	for _, s := range srcs {
		if s.dir || s.archive {
			destIsDir = true
		}
	}
	cp := &copier{rootfs: rootfs, uid: uid, gid: gid, chmod: chmod, buf: make([]byte, 1<<20)}
	if destIsDir {
		if err := cp.mkdirAll(path.Clean(dest)); err != nil {
			return err
		}
	} else if err := cp.mkdirAll(path.Dir(path.Clean(dest))); err != nil {
		return err
	}
	for _, s := range srcs {
		switch {
		case s.archive:
			dh, err := securejoin.SecureJoin(rootfs, dest)
			if err != nil {
				return err
			}
			if err := extractArchive(s.abs, dh); err != nil {
				return fmt.Errorf("ADD %s: %w", s.name, err)
			}
		case s.dir:
			err := r.b.walk(s, s.rel != "", func(rel, p string, st fs.FileInfo) error {
				if rel == "." {
					return nil
				}
				return cp.copyEntry(p, path.Join(dest, rel), st)
			})
			if err != nil {
				return err
			}
		default:
			target := path.Clean(dest)
			if destIsDir {
				target = path.Join(dest, s.name)
			}
			st, err := os.Stat(s.abs)
			if err != nil {
				return err
			}
			if err := cp.copyEntry(s.abs, target, st); err != nil {
				return err
			}
		}
	}
	return cp.finish()
}

type copier struct {
	rootfs   string
	uid, gid int
	chmod    *fs.FileMode
	buf      []byte
	dirs     []dirStamp
}

type dirStamp struct {
	p string
	t time.Time
}

func (c *copier) mkdirAll(cpath string) error {
	hp, err := securejoin.SecureJoin(c.rootfs, cpath)
	if err != nil {
		return err
	}
	return os.MkdirAll(hp, 0o755)
}

func (c *copier) mode(m fs.FileMode) uint32 {
	if c.chmod != nil {
		return uint32(*c.chmod)
	}
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		perm |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		perm |= unix.S_ISVTX
	}
	return perm
}

// copyEntry copies one file, directory or symlink to cpath (a path in
// the container), creating it through a safe join.
func (c *copier) copyEntry(src, cpath string, st fs.FileInfo) error {
	parent, err := securejoin.SecureJoin(c.rootfs, path.Dir(cpath))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	target := filepath.Join(parent, path.Base(cpath))
	old, oerr := os.Lstat(target)
	if oerr == nil && !(old.IsDir() && st.IsDir()) {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	switch {
	case st.IsDir():
		if err := os.Mkdir(target, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		c.dirs = append(c.dirs, dirStamp{target, st.ModTime()})
	case st.Mode()&fs.ModeSymlink != 0:
		l, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(l, target); err != nil {
			return err
		}
		return os.Lchown(target, c.uid, c.gid)
	case st.Mode().IsRegular():
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.CopyBuffer(out, in, c.buf)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	default:
		return nil // devices, sockets and fifos are not copied
	}
	if err := os.Lchown(target, c.uid, c.gid); err != nil {
		return err
	}
	if err := unix.Chmod(target, c.mode(st.Mode())); err != nil {
		return err
	}
	if !st.IsDir() {
		return os.Chtimes(target, st.ModTime(), st.ModTime())
	}
	return nil
}

func (c *copier) finish() error {
	for i := len(c.dirs) - 1; i >= 0; i-- {
		os.Chtimes(c.dirs[i].p, c.dirs[i].t, c.dirs[i].t)
	}
	return nil
}

// isArchive says whether ADD should unpack p: a tar, plain or compressed.
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := decompressAny(f)
	if err != nil {
		return false
	}
	_, err = tar.NewReader(r).Next()
	return err == nil
}

func decompressAny(f io.Reader) (io.Reader, error) {
	br := bufio.NewReader(f)
	magic, _ := br.Peek(3)
	if string(magic) == "BZh" {
		return bzip2.NewReader(br), nil
	}
	return layer.Decompress(br)
}

// extractArchive unpacks an ADD archive into dir with the same safety
// rules as layers (no "..", no writes through symlinks).
func extractArchive(p, dir string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := decompressAny(f)
	if err != nil {
		return err
	}
	return layer.ExtractTar(r, dir, layer.ExtractOptions{Mode: layer.Apply})
}

// fetch downloads an ADD URL. Without a network the error says so.
func (b *builder) fetch(src, checksum string) (source, error) {
	u, err := url.Parse(src)
	if err != nil {
		return source{}, err
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Get(src)
	if err != nil {
		return source{}, fmt.Errorf("ADD %s: cannot fetch (is there a network?): %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return source{}, fmt.Errorf("ADD %s: HTTP %s", src, resp.Status)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "index.html"
	}
	b.seq++
	dir := filepath.Join(b.tmp, fmt.Sprintf("dl%d", b.seq))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return source{}, err
	}
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		return source{}, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	f.Close()
	if err != nil {
		return source{}, fmt.Errorf("ADD %s: %w", src, err)
	}
	if checksum != "" {
		want, err := digest.Parse(checksum)
		if err != nil {
			return source{}, fmt.Errorf("--checksum=%s: %w", checksum, err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
			return source{}, fmt.Errorf("ADD %s: checksum %s does not match %s", src, got, want)
		}
	}
	os.Chmod(p, 0o600)
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		os.Chtimes(p, lm, lm)
	}
	return source{abs: p, name: name}, nil
}
