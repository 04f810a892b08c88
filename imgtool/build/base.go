package build

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// from resolves the stage's base: scratch, an earlier stage (by name or
// index), an OCI layout ("oci:PATH[:TAG]") or an image in the store.
func (r *stageRun) from() error {
	b := r.b
	sd := r.def
	base, err := b.expandMeta(sd.from.BaseName)
	if err != nil {
		return err
	}
	want := b.o.Platform
	text := "FROM " + base
	if sd.from.Platform != "" {
		ps, err := b.expandMeta(sd.from.Platform)
		if err != nil {
			return err
		}
		if want, err = ParsePlatform(ps); err != nil {
			return fmt.Errorf("--platform=%s: %w", sd.from.Platform, err)
		}
		text = "FROM --platform=" + platformString(want) + " " + base
	}
	if sd.from.Name != "" {
		text += " AS " + sd.from.Name
	}
	r.stepLine(text)
	switch {
	case base == "":
		return fmt.Errorf("base image name is empty after expansion of %q", sd.from.BaseName)
	case strings.EqualFold(base, "scratch"):
		r.img = store.Image{Platform: want, RootFS: ocispec.RootFS{Type: "layers"}}
		r.key = digest.FromString("scratch")
	default:
		if nc, named := b.o.Contexts[base]; named {
			if nc.Image == "" {
				return fmt.Errorf("build context %q is a directory, not an image", base)
			}
			base = nc.Image
		} else if dep, ok := b.p.findStage(base, sd.index); ok {
			res := b.results[dep.index]
			if res == nil {
				return fmt.Errorf("stage %q was not built", base)
			}
			r.img = cloneImage(res.img)
			r.layers = append([]ocispec.Descriptor(nil), res.layers...)
			r.key = res.key
			break
		}
		l, err := b.loadImageRefFor(base, want)
		if err != nil {
			return err
		}
		r.img = cloneImage(l.Config)
		r.img.Created = nil
		for _, d := range l.Manifest.Layers {
			d.MediaType = archive.OCILayerType(d.MediaType)
			d.Annotations = nil
			r.layers = append(r.layers, d)
		}
		r.key = digest.FromString("image\x00" + string(l.Desc.Digest))
		if r.img.RootFS.Type == "" {
			r.img.RootFS.Type = "layers"
		}
	}
	// A base of another platform is an error, never a silent build of it.
	if r.img.Architecture == "" {
		r.img.Platform = want
	} else if !samePlatform(r.img.Platform, want) {
		if sd.from.Platform != "" {
			return fmt.Errorf("--platform=%s: image %q is %s", platformString(want), base, platformString(r.img.Platform))
		}
		return fmt.Errorf("image %q is %s, not the build's --platform %s", base, platformString(r.img.Platform), platformString(want))
	}
	// Options that change the bytes of every layer are part of the key.
	ts := ""
	if b.o.Timestamp != nil {
		ts = b.o.Timestamp.UTC().String()
	}
	r.key = chainKey(r.key, fmt.Sprintf("opts compression=%s timestamp=%s layers=%v platform=%s", layer.CacheName(b.o.Compression), ts, b.o.Layers, platformString(r.img.Platform)), "")
	return nil
}

// loadImageRef loads an image from an oci: layout or the store; of an
// image index, the build's --platform manifest.
func (b *builder) loadImageRef(ref string) (*store.Loaded, error) {
	return b.loadImageRefFor(ref, b.o.Platform)
}

// loadImageRefFor is loadImageRef picking platform want from an index.
func (b *builder) loadImageRefFor(ref string, want ocispec.Platform) (*store.Loaded, error) {
	desc, err := b.resolveImageRef(ref)
	if err != nil {
		return nil, err
	}
	if desc, err = b.pickPlatform(desc, want); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return b.s.Load(desc)
}

// pickPlatform follows an image index to its manifest for want; any
// other descriptor is returned as it is (Load checks its platform later).
func (b *builder) pickPlatform(desc ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	data, err := b.s.ReadBlob(desc)
	if err != nil {
		return desc, err
	}
	var idx ocispec.Index
	if json.Unmarshal(data, &idx) != nil || idx.Manifests == nil || desc.MediaType != ocispec.MediaTypeImageIndex && idx.MediaType != ocispec.MediaTypeImageIndex && idx.MediaType != archive.DockerManifestLs {
		return desc, nil
	}
	var have []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			continue
		}
		if samePlatform(*m.Platform, want) {
			return b.pickPlatform(m, want)
		}
		have = append(have, platformString(*m.Platform))
	}
	if len(have) == 0 || len(idx.Manifests) == 1 {
		// No platforms listed, or one entry: Load takes it and the
		// config's platform is checked.
		return desc, nil
	}
	return desc, fmt.Errorf("the image index has no %s manifest (it has %s)", platformString(want), strings.Join(have, ", "))
}

func (b *builder) resolveImageRef(ref string) (ocispec.Descriptor, error) {
	if rest, ok := strings.CutPrefix(ref, "oci:"); ok {
		dir, tag := archive.SplitLayoutRef(rest)
		return archive.CopyFromLayout(b.s, dir, tag)
	}
	desc, err := b.s.Resolve(ref)
	switch {
	case b.o.PullPolicy == "always" && !b.pulled[ref], b.o.PullPolicy == "missing" && err != nil:
		// Once per build: a later FROM of the same name sees the same image.
		b.printf("Pulling %s\n", ref)
		if desc, err = b.o.Pull(ref); err != nil {
			return desc, fmt.Errorf("--pull=%s: %w", b.o.PullPolicy, err)
		}
		if b.pulled == nil {
			b.pulled = map[string]bool{}
		}
		b.pulled[ref] = true
	case err != nil:
		return desc, fmt.Errorf("%w (not pulled: --pull=missing or myimg pull, or FROM oci:PATH)", err)
	}
	return desc, nil
}

func cloneImage(img store.Image) store.Image {
	var out store.Image
	b, _ := json.Marshal(img)
	json.Unmarshal(b, &out)
	return out
}
