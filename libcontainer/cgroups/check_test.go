package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// A blockIO weight of 0 is runc's "unset" (Docker sends it for every
// container): it needs no weight file, so a host without BFQ accepts it;
// any other weight there is refused by name.
func TestCheckBlockIOZeroWeightIsUnset(t *testing.T) {
	blkio := t.TempDir() // a blkio dir without blkio.weight or blkio.bfq.weight
	if err := os.WriteFile(filepath.Join(blkio, "blkio.throttle.read_bps_device"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"blkio": filepath.Join(blkio, "ctr")}
	zero, some := uint16(0), uint16(500)
	dev := specs.LinuxBlockIODevice{Major: 8, Minor: 0}
	for _, b := range []specs.LinuxBlockIO{
		{Weight: &zero},
		{LeafWeight: &zero},
		{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev, Weight: &zero, LeafWeight: &zero}}},
	} {
		if err := checkV1(&specs.LinuxResources{BlockIO: &b}, paths); err != nil {
			t.Errorf("%+v: %v", b, err)
		}
		if err := checkV2(&specs.LinuxResources{BlockIO: &b}, func(string) {}); err != nil {
			t.Errorf("v2 %+v: %v", b, err)
		}
	}
	for want, b := range map[string]specs.LinuxBlockIO{
		"linux.resources.blockIO.weight: not supported by this host (no blkio.weight)":                        {Weight: &some},
		"linux.resources.blockIO.leafWeight: not supported by this host (no blkio.leaf_weight)":               {LeafWeight: &some},
		"linux.resources.blockIO.weightDevice[0].weight: not supported by this host (no blkio.weight_device)": {WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev, Weight: &some}}},
	} {
		if err := checkV1(&specs.LinuxResources{BlockIO: &b}, paths); err == nil || err.Error() != want {
			t.Errorf("%+v: %v, want %q", b, err, want)
		}
	}
	if v2Needs(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: &zero}})["blockIO"] != "" {
		t.Error("a weight of 0 asks for the v2 io controller")
	}
}
