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
	"github.com/moby/patternmatcher"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/progress"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/opencontainers/go-digest"
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
	parents  bool // --parents: keep each source's path (after a "/./" pivot)
	link     bool // --link: the layer is made without the earlier content
	// keepGitDir: ADD of a git URL keeps .git (--keep-git-dir); nil: not given.
	keepGitDir *bool
	// namesRoot is where --chown names are looked up ("": the rootfs).
	namesRoot string
}

// source is one resolved COPY/ADD source.
type source struct {
	abs     string // host path
	name    string // name used under a directory destination (--parents: its path)
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
	var late <-chan lateInputs
	if inContext || c.add {
		sc, err := b.scanSources(srcs, inContext)
		if err != nil {
			return err
		}
		if d, ok := b.cachedInputs(sc); ok {
			inputs = d
		} else if !c.add {
			// Unknown files: read and digest them while they are copied
			// (a cache hit then only costs the wasted copy).
			ch := make(chan lateInputs, 1)
			go func() {
				d, err := b.contentInputs(sc)
				ch <- lateInputs{d, err}
			}()
			late = ch
		} else if inputs, err = b.contentInputs(sc); err != nil {
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
		Parents            bool  `json:",omitempty"`
		Link               bool  `json:",omitempty"`
		Unpack             *bool `json:",omitempty"` // same sources, another layer
	}{c.sd, c.from, c.chown, c.chmod, c.add, r.img.Config.WorkingDir, c.excludes, c.parents, c.link, c.unpack})
	verb := "COPY"
	if c.add {
		verb = "ADD"
	}
	createdBy := func(in digest.Digest) string {
		return fmt.Sprintf("/bin/sh -c #(nop) %s %s in %s", verb, in.Encoded()[:12], c.sd.DestPath)
	}
	if c.link && b.o.Layers {
		// --link: the step's layer is made on an empty root, so it holds
		// only the copied files and their parents (0755, root), whatever
		// the destination held before (symlinks are not followed, earlier
		// owners and modes not kept); --chown names come from the image.
		r.link = true
		defer func() { r.link = false }()
		if c.chown != "" {
			if c.namesRoot, err = b.view(r.layers, r.img.RootFS.DiffIDs); err != nil {
				return err
			}
		}
	}
	action := func(w *workspace) error { return r.copyInto(w.merged, c, srcs) }
	if c.link && !b.o.Layers {
		action = func(w *workspace) error { return r.linkOnto(w, c, srcs) }
	}
	if late != nil {
		return r.fsStepLate(createdBy, verb+" "+string(keyJSON), late, action)
	}
	return r.fsStep(createdBy(inputs), verb+" "+string(keyJSON), inputs, action)
}

// copyRoot returns the directory sources are taken from: the build
// context, or a read-only view of a stage or image for --from.
func (r *stageRun) copyRoot(c *copySpec) (root string, inContext bool, key string, err error) {
	b := r.b
	if c.from == "" {
		return b.o.ContextDir, true, "", nil
	}
	if nc, named := b.o.Contexts[c.from]; named {
		if nc.Dir != "" {
			// A named directory: its whole content keys the step (the
			// main context's ignore file does not apply to it).
			sc, err := b.scanSources([]source{{abs: nc.Dir, name: ".", dir: true}}, false)
			if err != nil {
				return "", false, "", fmt.Errorf("--from=%s: %w", c.from, err)
			}
			d, ok := b.cachedInputs(sc)
			if !ok {
				if d, err = b.contentInputs(sc); err != nil {
					return "", false, "", fmt.Errorf("--from=%s: %w", c.from, err)
				}
			}
			return nc.Dir, false, "context\x00" + string(d), nil
		}
		l, err := b.loadImageRef(nc.Image)
		if err != nil {
			return "", false, "", fmt.Errorf("--from=%s: %w", c.from, err)
		}
		v, err := b.view(l.Manifest.Layers, l.Config.RootFS.DiffIDs)
		return v, false, "image\x00" + string(l.Desc.Digest), err
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
	// ADD flags that apply to some kinds of source only (BuildKit's
	// parser takes them with any): refused where they would do nothing.
	if c.checksum != "" && len(c.sd.SourceContents) > 0 {
		return nil, fmt.Errorf("--checksum applies to http(s) and git sources, not a heredoc")
	}
	for _, src := range c.sd.SourcePaths {
		git := IsGitURL(src)
		web := !git && (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"))
		if c.checksum != "" && !git && !web {
			return nil, fmt.Errorf("--checksum applies to http(s) and git sources, not %q", src)
		}
		if c.keepGitDir != nil && !git {
			return nil, fmt.Errorf("--keep-git-dir applies to git sources, not %q", src)
		}
	}
	for _, sc := range c.sd.SourceContents {
		p := filepath.Join(b.tmp, fmt.Sprintf("heredoc%d", len(out)))
		if err := os.WriteFile(p, []byte(sc.Data), 0o644); err != nil {
			return nil, err
		}
		out = append(out, source{abs: p, name: path.Base(sc.Path)})
	}
	for _, src := range c.sd.SourcePaths {
		if IsGitURL(src) {
			if !c.add {
				return nil, fmt.Errorf("source %q: COPY takes no git URLs (ADD does)", src)
			}
			if strings.HasPrefix(src, "file://") {
				return nil, fmt.Errorf("source %q: ADD takes no file:// git URLs (they would read the host outside the context)", src)
			}
			b.seq++
			dir, err := fetchGit(src, filepath.Join(b.tmp, fmt.Sprintf("git%d", b.seq)), c.keepGitDir != nil && *c.keepGitDir, c.checksum)
			if err != nil {
				return nil, fmt.Errorf("ADD %s: %w", src, err)
			}
			out = append(out, source{abs: dir, name: ".", dir: true})
			continue
		}
		if c.add && (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")) {
			s, err := b.fetch(src, c.checksum)
			if err != nil {
				return nil, err
			}
			// A URL is copied as it is unless --unpack=true asks for its
			// archive to be unpacked (BuildKit's rule).
			s.archive = c.unpack != nil && *c.unpack && isArchive(s.abs)
			out = append(out, s)
			continue
		}
		ls, err := r.localSources(c, src, root, inContext)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

// localSources are the sources a path or glob src names under root (the
// context or a --from tree), .dockerignore applied in the context; none is
// an error.
func (r *stageRun) localSources(c *copySpec, src, root string, inContext bool) ([]source, error) {
	b := r.b
	rel := path.Clean("/" + src)[1:]
	if rel == "" {
		rel = "."
	}
	// --parents keeps the path below a "/./" pivot (all of it without one).
	pivot := ""
	if i := strings.LastIndex("/"+src, "/./"); c.parents && i >= 0 {
		pivot = path.Clean("/" + src[:max(i-1, 0)])[1:]
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
	var out []source
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
		if c.parents {
			s.name = m
			if pivot != "" {
				s.name, _ = strings.CutPrefix(strings.TrimPrefix(m, pivot), "/")
			}
			if s.name == "" {
				s.name = "."
			}
		}
		if inContext {
			s.rel = m
		}
		if c.add && !s.dir && (c.unpack == nil || *c.unpack) {
			s.archive = isArchive(hp)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		where := "build context"
		if !inContext {
			where = "--from=" + c.from
		}
		return nil, fmt.Errorf("source %q: no such file or directory in the %s", src, where)
	}
	return out, nil
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
	uid, gid, chmod, err := copyOwnerMode(rootfs, c)
	if err != nil {
		return err
	}
	destHost, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	var excl *patternmatcher.PatternMatcher
	if len(c.excludes) > 0 {
		if excl, err = patternmatcher.New(c.excludes); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
	}
	excluded := func(rel string) bool {
		if excl == nil || rel == "." {
			return false
		}
		m, err := excl.MatchesOrParentMatches(rel)
		return err == nil && m
	}
	destIsDir := strings.HasSuffix(dest, "/") || len(srcs) > 1 || c.parents
	if st, err := os.Stat(destHost); err == nil && st.IsDir() {
		destIsDir = true
	}
	for _, s := range srcs {
		if s.dir || s.archive {
			destIsDir = true
		}
	}
	cp := newCopier(rootfs, uid, gid, chmod)
	defer cp.pool.Stop()
	verb := "COPY"
	if c.add {
		verb = "ADD"
	}
	cp.meter = progress.NewMeter(r.b.o.Out, verb, 0)
	defer cp.meter.Done()
	if destIsDir {
		if err := cp.mkdirAll(path.Clean(dest)); err != nil {
			return err
		}
	} else if err := cp.mkdirAll(path.Dir(path.Clean(dest))); err != nil {
		return err
	}
	for _, s := range srcs {
		// --exclude: a file source by its name, a directory's entries by
		// their path below it.
		if !s.dir && (excluded(path.Base(s.name)) || s.rel != "" && excluded(s.rel)) {
			continue
		}
		if err := r.copySource(cp, rootfs, dest, c, s, destIsDir, excl, excluded); err != nil {
			return err
		}
	}
	if err := cp.finish(); err != nil {
		return err
	}
	// Large copies say how much and how fast (small ones stay quiet).
	if line := cp.meter.Done(); cp.meter.Bytes() >= progress.BarThreshold {
		r.b.printf("%s\n", line)
	}
	return nil
}

// copyOwnerMode reads --chown (names resolved in the destination's
// /etc, or the --link base's) and --chmod.
func copyOwnerMode(rootfs string, c *copySpec) (int, int, *fs.FileMode, error) {
	uid, gid := 0, 0
	if c.chown != "" {
		names := rootfs
		if c.namesRoot != "" {
			names = c.namesRoot
		}
		u, err := unpack.ResolveUser(names, c.chown)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("--chown=%s: %w", c.chown, err)
		}
		uid, gid = int(u.UID), int(u.GID)
	}
	var chmod *fs.FileMode
	if c.chmod != "" {
		m, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return 0, 0, nil, fmt.Errorf("--chmod=%s: want an octal mode", c.chmod)
		}
		fm := fs.FileMode(m)
		chmod = &fm
	}
	return uid, gid, chmod, nil
}

// copySource copies one source to dest: an archive unpacked (ADD), a
// directory's entries, or a file.
func (r *stageRun) copySource(cp *copier, rootfs, dest string, c *copySpec, s source, destIsDir bool, excl *patternmatcher.PatternMatcher, excluded func(string) bool) error {
	prefix := ""
	if c.parents && s.dir {
		prefix = s.name
	}
	switch {
	case s.archive && excl != nil:
		return fmt.Errorf("ADD %s: --exclude does not apply inside a local archive", s.name)
	case s.archive:
		dh, err := securejoin.SecureJoin(rootfs, dest)
		if err != nil {
			return err
		}
		// The archive writes into the tree directly: let queued
		// copies land and forget what was checked.
		if err := cp.settle(); err != nil {
			return err
		}
		if err := extractArchive(s.abs, dh); err != nil {
			return fmt.Errorf("ADD %s: %w", s.name, err)
		}
	case s.dir:
		return r.b.walk(s, s.rel != "", func(rel, p string, st fs.FileInfo) error {
			if rel == "." {
				if prefix != "" {
					return cp.mkdirAll(path.Join(dest, prefix))
				}
				return nil
			}
			if excluded(rel) {
				if st.IsDir() && !excl.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
			return cp.copyEntry(p, path.Join(dest, prefix, rel), st)
		})
	default:
		target := path.Clean(dest)
		if destIsDir {
			target = path.Join(dest, s.name)
		}
		st, err := os.Stat(s.abs)
		if err != nil {
			return err
		}
		return cp.copyEntry(s.abs, target, st)
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
