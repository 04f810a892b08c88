package archive

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
)

// SaveDocker writes a docker-archive (the format of `docker save` and
// `podman save --format docker-archive`): manifest.json, each config as
// <id>.json with its stored bytes (so the image ID survives) and each
// layer uncompressed as <diff_id>.tar. Without multi every name must be
// the same image, as podman requires; with multi (-m) each image gets
// its own manifest.json entry.
func SaveDocker(s *store.Store, w io.Writer, names []string, multi bool) error {
	order, byID, err := dockerEntries(s, names, multi)
	if err != nil {
		return err
	}
	tmp, err := s.TempDir("save-docker-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	type manifest struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	ms := []manifest{}
	files := map[string]string{} // archive name -> file in tmp
	for _, id := range order {
		e := byID[id]
		cname := id.Encoded() + ".json"
		if err := os.WriteFile(filepath.Join(tmp, cname), e.l.RawConf, 0o644); err != nil {
			return err
		}
		files[cname] = filepath.Join(tmp, cname)
		m := manifest{Config: cname, RepoTags: e.tags, Layers: []string{}}
		for i, ld := range e.l.Manifest.Layers {
			lname := e.l.DiffID(i).Encoded() + ".tar"
			m.Layers = append(m.Layers, lname)
			if files[lname] != "" {
				continue
			}
			if err := uncompressedLayer(s, e.l, i, filepath.Join(tmp, lname)); err != nil {
				return fmt.Errorf("layer %s: %w", ld.Digest, err)
			}
			files[lname] = filepath.Join(tmp, lname)
		}
		ms = append(ms, m)
	}
	mb, err := json.Marshal(ms)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), mb, 0o644); err != nil {
		return err
	}
	files["manifest.json"] = filepath.Join(tmp, "manifest.json")
	var arch []string
	for n := range files {
		arch = append(arch, n)
	}
	sort.Strings(arch)
	tw := tar.NewWriter(w)
	for _, n := range arch {
		if err := tarFile(tw, n, files[n]); err != nil {
			return err
		}
	}
	return tw.Close()
}

// dockerEntry is one image of a docker-archive and the names it is saved
// under.
type dockerEntry struct {
	l    *store.Loaded
	tags []string
}

// dockerEntries loads the images names stand for, each once, in the order
// first named; without multi they must all be the same image.
func dockerEntries(s *store.Store, names []string, multi bool) ([]digest.Digest, map[digest.Digest]*dockerEntry, error) {
	var order []digest.Digest
	byID := map[digest.Digest]*dockerEntry{}
	for _, n := range names {
		desc, err := s.Resolve(n)
		if err != nil {
			return nil, nil, err
		}
		l, err := s.Load(desc)
		if err != nil {
			return nil, nil, err
		}
		id := l.Manifest.Config.Digest
		e := byID[id]
		if e == nil {
			if len(order) == 1 && !multi {
				return nil, nil, fmt.Errorf("%s is another image than %s: a docker-archive of several images needs -m (--multi-image-archive)", n, names[0])
			}
			e = &dockerEntry{l: l}
			byID[id] = e
			order = append(order, id)
		}
		// A name given by ID adds no tag (podman does the same).
		if _, err := digestLike(n); err != nil {
			e.tags = append(e.tags, store.NormalizeName(n))
		}
	}
	return order, byID, nil
}

// uncompressedLayer writes layer i as a plain tar, checked against its diff_id.
func uncompressedLayer(s *store.Store, l *store.Loaded, i int, path string) error {
	rc, err := s.Open(l.Manifest.Layers[i])
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := layer.CopyVerified(f, rc, l.DiffID(i)); err != nil {
		return err
	}
	return f.Close()
}

func tarFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: st.Size(), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
