package userns

import (
	"slices"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseMap(t *testing.T) {
	got, err := ParseMap("         0     100000      65536\n 65536 1000 1\n")
	want := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}, {ContainerID: 65536, HostID: 1000, Size: 1}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseMap: %v %v", got, err)
	}
	for _, bad := range []string{"0 1", "0 x 1", "0 1 2 3", "0 1 4294967296"} {
		if _, err := ParseMap(bad); err == nil {
			t.Errorf("ParseMap(%q) accepted", bad)
		}
	}
}
