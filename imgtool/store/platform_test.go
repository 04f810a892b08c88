package store

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestIsIndex(t *testing.T) {
	for _, c := range []struct {
		mt, blob string
		want     bool
	}{
		{ocispec.MediaTypeImageIndex, `{}`, true},
		{"", `{"mediaType":"application/vnd.oci.image.index.v1+json"}`, true},
		{"", `{"schemaVersion":2,"manifests":[]}`, true},
		{"", `{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{}]}`, true},
		{"", `{"schemaVersion":2,"config":{},"layers":[]}`, false},
		{ocispec.MediaTypeImageManifest, `{"config":{},"layers":[{}]}`, false},
		{"", `not json`, false},
	} {
		if got := IsIndex(c.mt, []byte(c.blob)); got != c.want {
			t.Errorf("IsIndex(%q, %s) = %v", c.mt, c.blob, got)
		}
	}
}

func TestPickManifest(t *testing.T) {
	host := HostPlatform()
	other := ocispec.Platform{OS: "linux", Architecture: "s390x"}
	if host.Architecture == other.Architecture {
		other.Architecture = "riscv64"
	}
	d := func(n string, p *ocispec.Platform) ocispec.Descriptor {
		return ocispec.Descriptor{Digest: digest.Digest("sha256:" + strings.Repeat(n, 64)), Platform: p}
	}
	only := d("1", &other)
	if got, err := PickManifest(ocispec.Index{Manifests: []ocispec.Descriptor{only}}); err != nil || got.Digest != only.Digest {
		t.Fatalf("only manifest: %v %v", got, err)
	}
	want := d("3", &ocispec.Platform{OS: host.OS, Architecture: host.Architecture})
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{d("1", &other), d("2", nil), want}}
	if got, err := PickManifest(idx); err != nil || got.Digest != want.Digest {
		t.Fatalf("host manifest: %v %v", got, err)
	}
	_, err := PickManifest(ocispec.Index{Manifests: idx.Manifests[:2]})
	if err == nil || !strings.Contains(err.Error(), host.OS+"/"+host.Architecture) {
		t.Fatalf("no host manifest: %v", err)
	}
}
