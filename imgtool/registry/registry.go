// Package registry pulls and pushes images over the OCI distribution API
// with go-containerregistry's remote package, verifying everything it
// stores and sending OCI media types.
package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options for Pull and Push.
type Options struct {
	// TLSVerify false allows plain HTTP and unverified certificates for
	// every registry; TLSVerifySet says the user gave it, which overrides
	// an insecure entry of Conf (as podman and skopeo do).
	TLSVerify    bool
	TLSVerifySet bool
	// Conf marks registries insecure or blocked; may be nil.
	Conf *Conf
	// Progress wraps each layer stream (for bars or lines); may be nil.
	Progress func(what string, size int64, r io.Reader) io.Reader
	// Updates, when set, gets push progress lines.
	Log func(format string, a ...any)
	// AuthFile is --authfile ("": podman's locations, auth.go).
	AuthFile string
	// Export compresses layers for Push (the zero value sends them as
	// stored, as a build cache's push must).
	Export archive.Export
}

// conn is how one reference is reached.
type conn struct {
	ref   name.Reference
	plain bool // plain HTTP and unverified TLS allowed
	gate  *httpsOnly
	o     Options
}

func (o Options) connect(ref string) (*conn, error) { return o.connectSource(source{ref: ref}) }

// connectSource is connect for a pull source; a mirror's insecure flag
// counts like its registry entry's.
func (o Options) connectSource(src source) (*conn, error) {
	ref := src.ref
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	plain := !o.TLSVerify || (src.insecure && !o.TLSVerifySet)
	if e := o.Conf.find(r.Name()); e != nil {
		if e.Blocked {
			return nil, fmt.Errorf("%s: registry %s is blocked in %s", ref, e.Prefix, e.from)
		}
		if e.Insecure && !o.TLSVerifySet {
			plain = true
		}
	}
	c := &conn{ref: r, plain: plain, o: o}
	if plain {
		if c.ref, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *conn) roundTripper() http.RoundTripper {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if c.plain {
		tr.TLSClientConfig.InsecureSkipVerify = true
		return tr
	}
	c.gate = &httpsOnly{inner: tr}
	return c.gate
}

func (c *conn) remoteOpts() []remote.Option {
	return []remote.Option{remote.WithAuthFromKeychain(keychain{c.o.AuthFile}), remote.WithPlatform(hostPlatform()), remote.WithTransport(c.roundTripper())}
}

// hostPlatform is what remote picks from an index: the host's os and
// architecture, as store.PickManifest matches them.
func hostPlatform() v1.Platform {
	p := store.HostPlatform()
	return v1.Platform{OS: p.OS, Architecture: p.Architecture}
}

// explain adds to an error caused by a refused plain HTTP request what
// would allow it.
func (c *conn) explain(err error) error {
	if err == nil || c.gate == nil || !c.gate.refused.Load() {
		return err
	}
	where := DefaultConfPath
	if c.o.Conf != nil {
		where = c.o.Conf.Path
	}
	reg := c.ref.Context().RegistryStr()
	how := fmt.Sprintf("use --tls-verify=false, or mark it insecure ([[registry]] location = %q, insecure = true in %s)", reg, where)
	if c.o.TLSVerifySet {
		how = "use --tls-verify=false (an explicit --tls-verify=true overrides insecure = true in registries.conf)"
	}
	return fmt.Errorf("%w; registry %s did not answer over HTTPS and plain HTTP is refused: %s", err, reg, how)
}

func (o Options) log(f string, a ...any) {
	if o.Log != nil {
		o.Log(f, a...)
	}
}

// Pull fetches ref (picking the host's linux/GOARCH from an index), stores its blobs
// after checking digests, sizes and diff_ids, and names it ref.
// A short name is qualified first (its alias or the search registries,
// in order), and each name is fetched from its registry's mirrors, then
// its location (registries.conf); the image is named by the qualified
// name, wherever it came from.
func Pull(s *store.Store, ref string, o Options) (ocispec.Descriptor, error) {
	names, err := o.Conf.Qualify(ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	var errs []error
	for _, n := range names {
		for _, src := range o.Conf.sources(n) {
			d, err := pullFrom(s, src, n, o)
			if err == nil {
				return d, nil
			}
			if src.ref != n {
				err = fmt.Errorf("%w (from %s)", err, src.ref)
			}
			errs = append(errs, err)
		}
	}
	return ocispec.Descriptor{}, errors.Join(errs...)
}

func pullFrom(s *store.Store, src source, ref string, o Options) (_ ocispec.Descriptor, err error) {
	c, err := o.connectSource(src)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	end, err := s.Import()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer func() { end(err != nil) }()
	img, err := remote.Image(c.ref, c.remoteOpts()...)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, c.explain(err))
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: config lists %d diff_ids for %d layers", ref, len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	for i, ld := range m.Layers {
		desc := toOCI(ld)
		if s.HasBlob(desc) {
			o.log("Copying blob %s skipped: already exists", ld.Digest.Hex[:12])
			continue
		}
		o.log("Copying blob %s", ld.Digest.Hex[:12])
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if err := putLayer(s, l, desc, digest.Digest(cf.RootFS.DiffIDs[i].String()), o); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("pull %s: layer %s: %w", ref, ld.Digest, c.explain(err))
		}
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cdesc := toOCI(m.Config)
	if _, err := s.PutBlob(bytes.NewReader(rawConfig), cdesc.MediaType, &cdesc); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: config: %w", ref, err)
	}
	mt := string(m.MediaType)
	if mt == "" {
		mt = ocispec.MediaTypeImageManifest
	}
	md := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(rawManifest), Size: int64(len(rawManifest))}
	if _, err := s.PutBlob(bytes.NewReader(rawManifest), mt, &md); err != nil {
		return md, err
	}
	o.log("Writing manifest to image destination")
	return md, s.Tag(ref, md)
}

// putLayer streams a layer into the store while a second goroutine
// decompresses it to check the diff_id; nothing lands on a mismatch.
func putLayer(s *store.Store, l v1.Layer, desc ocispec.Descriptor, diffID digest.Digest, o Options) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	var r io.Reader = rc
	if o.Progress != nil {
		r = o.Progress("blob "+desc.Digest.Encoded()[:12], desc.Size, r)
	}
	ing, err := s.NewIngest()
	if err != nil {
		return err
	}
	defer ing.Abort()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := layer.CopyVerified(io.Discard, pr, diffID)
		pr.CloseWithError(err)
		done <- err
	}()
	_, err = io.Copy(io.MultiWriter(ing, pw), r)
	pw.CloseWithError(err)
	if verr := <-done; err == nil {
		err = verr
	}
	if err != nil {
		return err
	}
	_, err = ing.Commit(desc.MediaType, &desc)
	return err
}

func toOCI(d v1.Descriptor) ocispec.Descriptor {
	mt := string(d.MediaType)
	switch mt {
	case archive.DockerConfig:
		mt = ocispec.MediaTypeImageConfig
	default:
		mt = archive.OCILayerType(mt)
	}
	return ocispec.Descriptor{MediaType: mt, Digest: digest.Digest(d.Digest.String()), Size: d.Size}
}

// Push sends a stored image to dest (default: its own name). An image
// index or Docker manifest list goes whole: every entry, then the list.
// Layers that o.Export compresses go compressed, under manifests (and
// lists) rewritten for them; the rest as stored, with their bytes.
func Push(s *store.Store, src, dest string, o Options) (ocispec.Descriptor, error) {
	if dest == "" {
		dest = src
	}
	dest = strings.TrimPrefix(dest, "docker://")
	if err := o.Export.Check(); err != nil {
		return ocispec.Descriptor{}, err
	}
	c, err := o.connect(dest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := s.Resolve(src)
	if err != nil {
		return desc, err
	}
	p := newPusher(s, o, c)
	defer p.done()
	what, pushed, err := p.prepare(desc)
	if err != nil {
		return desc, fmt.Errorf("push %s: %w", dest, err)
	}
	updates := make(chan v1.Update, 16)
	go func() {
		last := int64(-1)
		for u := range updates {
			if u.Total > 0 && (u.Complete == u.Total || u.Complete-last > u.Total/4) {
				o.log("Pushing: %d/%d bytes", u.Complete, u.Total)
				last = u.Complete
			}
		}
	}()
	defer hookProgress(o)()
	opts := append(c.remoteOpts(), remote.WithProgress(updates))
	if err := remote.Push(c.ref, what.(remote.Taggable), opts...); err != nil {
		return desc, fmt.Errorf("push %s: %w", dest, c.explain(err))
	}
	p.remember()
	o.log("Writing manifest to image destination")
	return pushed, nil
}
