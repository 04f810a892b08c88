package registry

import (
	"strings"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PullAny pulls from a registry or copies from an oci: layout.
func PullAny(s *store.Store, ref string, o Options) (ocispec.Descriptor, error) {
	if rest, ok := strings.CutPrefix(ref, "oci:"); ok {
		return pullLayout(s, rest)
	}
	return Pull(s, strings.TrimPrefix(ref, "docker://"), o)
}

// pullLayout copies an image from an oci: layout, verified, and names it;
// a failed copy takes its blobs back out (store.Import).
func pullLayout(s *store.Store, layoutRef string) (_ ocispec.Descriptor, err error) {
	dir, tag := archive.SplitLayoutRef(layoutRef)
	end, err := s.Import()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer func() { end(err != nil) }()
	desc, err := archive.CopyFromLayout(s, dir, tag)
	if err != nil {
		return desc, err
	}
	if _, err := archive.VerifyImage(s, desc); err != nil {
		return desc, err
	}
	name := tag
	if name == "" {
		name = "latest"
	}
	return desc, s.Tag(name, desc)
}
