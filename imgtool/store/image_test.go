package store

import (
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestImageID(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.PutImage(Image{Platform: HostPlatform(), RootFS: ocispec.RootFS{Type: "layers"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(desc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.ImageID(desc), l.Manifest.Config.Digest.Encoded(); got != want || got == desc.Digest.Encoded() {
		t.Fatalf("ImageID = %s, want the config's %s", got, want)
	}
	missing := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("gone"), Size: 4}
	if got := s.ImageID(missing); got != missing.Digest.Encoded() {
		t.Fatalf("ImageID of a missing manifest = %s, want its own digest", got)
	}
}
