package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/myrun-org/myrun/imgtool/build"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// platformsFlag reads repeated and comma-separated --platform values.
func platformsFlag(vals []string) ([]ocispec.Platform, error) {
	var out []ocispec.Platform
	seen := map[string]bool{}
	for _, v := range vals {
		for _, one := range strings.Split(v, ",") {
			if strings.TrimSpace(one) == "" {
				continue
			}
			p, err := build.ParsePlatform(one)
			if err != nil {
				return nil, fmt.Errorf("--platform: %w", err)
			}
			key := p.OS + "/" + p.Architecture + "/" + p.Variant
			if seen[key] {
				return nil, fmt.Errorf("--platform %s: given twice", one)
			}
			seen[key] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// buildManifestList builds once per platform and writes an OCI image
// index of the results (a Docker manifest list with --format docker, as
// buildah writes), named by --manifest (an existing list of that name
// keeps its entries for other platforms, as buildah's --manifest adds to
// a list) and by every -t.
func buildManifestList(s *store.Store, o build.Options, platforms []ocispec.Platform, name, iidfile string, quiet bool) error {
	listType := ocispec.MediaTypeImageIndex
	if o.Format == build.FormatDocker {
		listType = store.DockerManifestListType
	}
	// Checked before building: a list cannot mix the two formats.
	old, err := existingList(s, name, listType, o.Format)
	if err != nil {
		return err
	}
	if len(platforms) == 0 {
		platforms = []ocispec.Platform{store.HostPlatform()}
	}
	tags := o.Tags
	o.Tags = nil
	var entries []ocispec.Descriptor
	// --cache-to is written once, by the last build, with every
	// platform's step records (one export per build would leave only the
	// last platform's under the tag).
	cacheTo := o.CacheTo
	var keys []digest.Digest
	for i, p := range platforms {
		o.Platform = p
		o.CacheTo, o.CacheKeys = nil, nil
		if i == len(platforms)-1 {
			o.CacheTo, o.CacheKeys = cacheTo, keys
		}
		res, err := build.Build(s, o)
		if err != nil {
			return fmt.Errorf("--platform %s: %w", platformName(p), err)
		}
		keys = append(keys, res.CacheKeys...)
		d := res.Manifest
		pp := p
		d.Platform = &pp
		d.Annotations = nil
		entries = append(entries, d)
		if quiet {
			fmt.Println(res.ImageID)
		}
	}
	if old != nil {
		entries = mergeIntoList(old, entries)
	}
	// A Docker list's entries have the same keys as an OCI index's
	// (mediaType, size, digest, platform), without annotations.
	idx := ocispec.Index{MediaType: listType, Manifests: entries}
	idx.SchemaVersion = 2
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	desc, err := s.PutBytes(listType, b)
	if err != nil {
		return err
	}
	names := tags
	if name != "" {
		names = append([]string{name}, tags...)
	}
	for _, n := range names {
		if err := s.Tag(n, desc); err != nil {
			return err
		}
	}
	if len(names) == 0 {
		if err := s.AddUntagged(desc); err != nil {
			return err
		}
	}
	if !quiet {
		fmt.Printf("manifest list %s: %d platforms\n", desc.Digest, len(entries))
	}
	if iidfile != "" {
		if err := os.WriteFile(iidfile, []byte(desc.Digest.String()), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	return nil
}

// existingList is the list already named name (nil if none, or not a
// list); one of another format than listType is an error.
func existingList(s *store.Store, name, listType, format string) (*ocispec.Index, error) {
	if name == "" {
		return nil, nil
	}
	desc, err := s.Resolve(name)
	if err != nil {
		return nil, nil
	}
	b, err := s.ReadBlob(desc)
	if err != nil || !store.IsIndex(desc.MediaType, b) {
		return nil, nil
	}
	var idx ocispec.Index
	if json.Unmarshal(b, &idx) != nil {
		return nil, nil
	}
	if idx.MediaType == "" {
		idx.MediaType = ocispec.MediaTypeImageIndex
	}
	if idx.MediaType != listType {
		return nil, fmt.Errorf("--manifest %s: the existing list is %s; --format %s writes %s (remove it or build with the other --format)", name, idx.MediaType, format, listType)
	}
	return &idx, nil
}

// mergeIntoList puts entries into the old list: it keeps its order, a
// rebuilt platform in its place, new ones after.
func mergeIntoList(old *ocispec.Index, entries []ocispec.Descriptor) []ocispec.Descriptor {
	var merged []ocispec.Descriptor
	for _, m := range old.Manifests {
		if m.Platform == nil || !hasPlatform(entries, *m.Platform) {
			merged = append(merged, m)
			continue
		}
		for _, e := range entries {
			if platformName(*e.Platform) == platformName(*m.Platform) {
				merged = append(merged, e)
			}
		}
	}
	for _, e := range entries {
		if !hasPlatform(merged, *e.Platform) {
			merged = append(merged, e)
		}
	}
	return merged
}

func hasPlatform(ds []ocispec.Descriptor, p ocispec.Platform) bool {
	for _, d := range ds {
		if d.Platform != nil && platformName(*d.Platform) == platformName(p) {
			return true
		}
	}
	return false
}

func platformName(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
