package libcontainer

import (
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSameMaps(t *testing.T) {
	want := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}, {ContainerID: 65536, HostID: 1000, Size: 1}}
	if !sameMaps(want, []rspec.LinuxIDMapping{want[1], want[0]}) {
		t.Error("order matters to sameMaps")
	}
	if sameMaps(want, want[:1]) || sameMaps(want[:1], []rspec.LinuxIDMapping{{HostID: 100000, Size: 65535}}) {
		t.Error("sameMaps equates different maps")
	}
	if want[0].ContainerID != 0 || want[1].ContainerID != 65536 {
		t.Error("sameMaps reordered its argument")
	}
}
