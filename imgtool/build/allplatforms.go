package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/myrun-org/myrun/imgtool/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BasePlatforms is what --all-platforms builds for (as buildah): the
// platforms every base image of the Containerfile offers, an image index
// listing its entries and a single image its own platform. Stages built
// on scratch or on earlier stages add no constraint; a Containerfile with
// no base image at all is an error (there is nothing to take them from).
func BasePlatforms(s *store.Store, o Options) ([]ocispec.Platform, error) {
	file, data := o.File, o.FileData
	if data == nil {
		if file == "" {
			file = filepath.Join(o.ContextDir, "Containerfile")
			if _, err := os.Stat(file); err != nil {
				file = filepath.Join(o.ContextDir, "Dockerfile")
			}
		}
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, err
		}
	} else if file == "" {
		file = "Containerfile"
	}
	p, err := parseContainerfile(file, data)
	if err != nil {
		return nil, err
	}
	o.Platform = store.HostPlatform()
	b := &builder{s: s, o: o, p: p, lex: shell.NewLex(p.escape), meta: map[string]string{}, used: map[string]bool{}}
	if err := b.metaArgs(); err != nil {
		return nil, err
	}
	var common []ocispec.Platform
	bases := 0
	for _, sd := range p.stages {
		base, err := b.expandMeta(sd.from.BaseName)
		if err != nil {
			return nil, &StepError{file, sd.line, "FROM", err}
		}
		if strings.EqualFold(base, "scratch") {
			continue
		}
		if nc, named := o.Contexts[base]; named {
			if nc.Image == "" {
				continue
			}
			base = nc.Image
		} else if _, ok := p.findStage(base, sd.index); ok {
			continue
		}
		plats, err := b.imagePlatforms(base)
		if err != nil {
			return nil, &StepError{file, sd.line, "FROM", fmt.Errorf("--all-platforms: %w", err)}
		}
		if bases == 0 {
			common = plats
		} else {
			var keep []ocispec.Platform
			for _, c := range common {
				for _, q := range plats {
					if samePlatform(c, q) {
						keep = append(keep, c)
						break
					}
				}
			}
			common = keep
		}
		bases++
	}
	if bases == 0 {
		return nil, errors.New("--all-platforms: no base image to take platforms from (the stages start from scratch): give --platform")
	}
	if len(common) == 0 {
		return nil, errors.New("--all-platforms: the base images have no platform in common")
	}
	return common, nil
}

// imagePlatforms lists the platforms of an image or image index.
func (b *builder) imagePlatforms(ref string) ([]ocispec.Platform, error) {
	desc, err := b.resolveImageRef(ref)
	if err != nil {
		return nil, err
	}
	data, err := b.s.ReadBlob(desc)
	if err != nil {
		return nil, err
	}
	var idx struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    json.RawMessage      `json:"config"`
	}
	if json.Unmarshal(data, &idx) == nil && idx.Manifests != nil && idx.Config == nil {
		var out []ocispec.Platform
		for _, m := range idx.Manifests {
			if m.Platform != nil && m.Platform.OS == "linux" {
				if p, err := ParsePlatform(platformString(*m.Platform)); err == nil {
					out = append(out, p)
				}
			}
		}
		return out, nil
	}
	l, err := b.s.Load(desc)
	if err != nil {
		return nil, err
	}
	return []ocispec.Platform{l.Config.Platform}, nil
}
