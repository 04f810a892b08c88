package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// hashEntry is one file a COPY/ADD would copy.
type hashEntry struct {
	rel, p string
	st     fs.FileInfo
	link   string
}

// sourceScan is the walk of a COPY/ADD's sources: what the cache key needs.
type sourceScan struct {
	groups  []scanGroup
	metaKey string
}

type scanGroup struct {
	s    source
	ents []hashEntry
}

// scanSources walks the sources and digests their metadata. Reading every
// file again on each build is what made no-change rebuilds slow, so the
// content digest is remembered under a digest of the files' metadata
// (path, size, mode, owner, mtime, ctime, inode, like buildkit's metadata
// checksums): ctime cannot be set from user space, so any write to a file
// changes the key.
func (b *builder) scanSources(srcs []source, inContext bool) (*sourceScan, error) {
	meta := sha256.New()
	sc := &sourceScan{}
	for _, s := range srcs {
		g := scanGroup{s: s}
		fmt.Fprintf(meta, "src %s %s %v %v\n", s.abs, s.name, s.dir, s.archive)
		err := b.walk(s, inContext, func(rel, p string, st fs.FileInfo) error {
			e := hashEntry{rel: rel, p: p, st: st}
			if st.Mode()&fs.ModeSymlink != 0 {
				e.link, _ = os.Readlink(p)
			}
			writeMeta(meta, &e)
			g.ents = append(g.ents, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
		sc.groups = append(sc.groups, g)
	}
	sc.metaKey = filepath.Join(b.s.Root, store.CacheDir, "inputs-"+hex.EncodeToString(meta.Sum(nil)))
	return sc, nil
}

// cachedInputs is the content digest recorded for the same metadata.
func (b *builder) cachedInputs(sc *sourceScan) (digest.Digest, bool) {
	data, err := os.ReadFile(sc.metaKey)
	if err != nil {
		return "", false
	}
	d, err := digest.Parse(strings.TrimSpace(string(data)))
	return d, err == nil
}

// contentInputs reads and digests every file and records the result.
func (b *builder) contentInputs(sc *sourceScan) (digest.Digest, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for _, g := range sc.groups {
		fmt.Fprintf(h, "src %s %v %v\n", g.s.name, g.s.dir, g.s.archive)
		for _, e := range g.ents {
			fmt.Fprintf(h, "%s %o %d\n", e.rel, e.st.Mode(), e.st.Size())
			switch {
			case e.st.Mode().IsRegular():
				if err := hashFile(h, e.p, buf); err != nil {
					return "", err
				}
			case e.st.Mode()&fs.ModeSymlink != 0:
				fmt.Fprintf(h, "-> %s\n", e.link)
			}
		}
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	if !b.o.NoCache {
		store.WriteFileAtomic(sc.metaKey, []byte(d.String()+"\n"), 0o600)
	}
	return d, nil
}

func writeMeta(w io.Writer, e *hashEntry) {
	var ino, dev, uid, gid uint64
	var ctime, ctimeNs int64
	if st, ok := e.st.Sys().(*syscall.Stat_t); ok {
		ino, dev, uid, gid = st.Ino, st.Dev, uint64(st.Uid), uint64(st.Gid)
		ctime, ctimeNs = st.Ctim.Sec, st.Ctim.Nsec
	}
	fmt.Fprintf(w, "%q %o %d %d %d:%d %d.%d %d.%d %q\n", e.rel, e.st.Mode(), e.st.Size(),
		e.st.ModTime().UnixNano(), uid, gid, ctime, ctimeNs, dev, ino, e.link)
}

// hashFile reads p with plain syscalls: os.Open of a regular file costs an
// fcntl and a failing epoll registration each, 13k times per build.
func hashFile(h io.Writer, p string, buf []byte) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf)
		if n > 0 {
			h.Write(buf[:n])
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			return nil
		}
	}
}
