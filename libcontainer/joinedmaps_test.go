package libcontainer

import (
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseIDMap(t *testing.T) {
	got, err := parseIDMap("         0     100000      65536\n 65536 1000 1\n")
	want := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}, {ContainerID: 65536, HostID: 1000, Size: 1}}
	if err != nil || !sameMaps(got, want) || len(got) != 2 {
		t.Fatalf("parseIDMap: %v %v", got, err)
	}
	for _, bad := range []string{"0 1", "0 x 1", "0 1 2 3"} {
		if _, err := parseIDMap(bad); err == nil {
			t.Errorf("parseIDMap(%q) accepted", bad)
		}
	}
	if !sameMaps(want, []rspec.LinuxIDMapping{want[1], want[0]}) {
		t.Error("order matters to sameMaps")
	}
	if sameMaps(want, want[:1]) || sameMaps(want[:1], []rspec.LinuxIDMapping{{HostID: 100000, Size: 65535}}) {
		t.Error("sameMaps equates different maps")
	}
}
